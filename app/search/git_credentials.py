"""A git URL's credentials kept apart from it: sealed for the database when a repository is posted, opened
again only for the clone or fetch that needs them."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

from app.errors import IndexingFailed, InvalidRequest, SecretUnreadable
from app.search.git_remote import GitUrl

if TYPE_CHECKING:
    from app.runtime.secret_box import SecretBox

NO_KEY = (
    "git_url carries credentials, but this server has no key to store them encrypted: configure secrets.keys "
    "(kid:base64 of 32 random bytes, e.g. `openssl rand -base64 32`), or use a URL without credentials"
)
UNREADABLE = (
    "the repository's stored credentials cannot be decrypted with the configured secrets.keys (its key was "
    "removed or the value altered); post the repository again with its git_url"
)


def purpose(team_id: int, name: str) -> str:
    """What a sealed value is bound to: it opens for this repository row and no other."""
    return f"repository-source:{team_id}/{name}"


def has_credentials(url: GitUrl) -> bool:
    return url.username is not None or url.password is not None


def seal(url: GitUrl, box: SecretBox | None, *, team_id: int, name: str) -> str | None:
    """The URL's user part sealed for the row (None without one); InvalidRequest when there is no key."""
    if not has_credentials(url):
        return None
    if box is None:
        raise InvalidRequest(NO_KEY)
    return box.seal(json.dumps([url.username, url.password]), purpose(team_id, name))


def unseal(url: GitUrl, sealed: str | None, box: SecretBox | None, *, team_id: int, name: str) -> GitUrl:
    """The URL with its stored credentials back; IndexingFailed (safe to show) when they cannot be opened."""
    if sealed is None:
        return url
    if box is None:
        raise IndexingFailed(UNREADABLE)
    try:
        username, password = json.loads(box.open(sealed, purpose(team_id, name)))
    except SecretUnreadable:
        raise IndexingFailed(UNREADABLE) from None
    return replace(url, username=username, password=password)
