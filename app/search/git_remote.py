"""Git URLs a user may ask the server to clone: parsed into parts, rebuilt without credentials, and checked
against the address policy, with the address that was checked pinned for the clone.

Only https (and http to allow-listed hosts) is accepted. ssh is not: an ssh clone would authenticate with
the server's own key, lending it to every token holder, and its address cannot be pinned the way curl's
can. Private repositories are reached with a token in the URL (https://user:token@host/...), which is
sent as an Authorization header and never written to disk.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from app.integrations.addresses import (
    AddressRefused,
    AllowList,
    ResolvedHost,
    Resolver,
    normalise_host,
    resolve_allowed,
)
from app.integrations.addresses import system_resolver as default_resolver

DEFAULT_PORTS = {"https": 443, "http": 80}
# RFC 3986 path characters; anything else (spaces, backslashes, control characters) is refused, so the
# URL git receives is exactly the one judged here.
PATH = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)+$")
USERINFO = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:%-]*$")
SCHEMES = "git_url must be an https:// URL (http:// only for hosts in search.git_allowed_hosts; ssh is not supported)"
REFUSED = "git_url must name a public host this server may reach (search.git_allowed_hosts lists exceptions)"


@dataclass(frozen=True)
class GitUrl:
    scheme: Literal["https", "http"]
    host: str  # normalised; IPv6 without brackets
    port: int | None
    path: str
    username: str | None
    password: str | None

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.scheme]

    @property
    def host_in_url(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def without_credentials(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host_in_url}{port}{self.path}"

    def authorization(self) -> str | None:
        """The Basic credentials of the URL's user part, as an HTTP header value."""
        if self.username is None and self.password is None:
            return None
        pair = f"{self.username or ''}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def parse_git_url(raw: str) -> GitUrl:
    """Split a git URL into checked parts; ValueError with a message safe to show (it never echoes the URL)."""
    if not raw or len(raw) > 2000 or any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in raw):
        raise ValueError("git_url must be one URL without spaces or control characters (at most 2000)")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError("git_url is not a valid URL") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(SCHEMES)
    if parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise ValueError(
            "git_url must not carry a query string or fragment (give credentials as https://user:token@host/...)"
        )
    userinfo, _, _ = parts.netloc.rpartition("@")
    if "@" in parts.netloc and not USERINFO.match(userinfo):
        raise ValueError("git_url's user part may only hold URL-encoded characters")
    try:
        host = normalise_host(parts.hostname or "")
    except AddressRefused as exc:
        raise ValueError(f"git_url's host: {exc}") from None
    if not PATH.match(parts.path or "") or "/../" in f"{parts.path}/" or "/./" in f"{parts.path}/":
        raise ValueError("git_url needs a repository path (https://host/owner/repo.git)")
    if port == 0:
        raise ValueError("git_url's port must be 1-65535")
    return GitUrl(
        scheme=parts.scheme,  # type: ignore[arg-type]  # checked against DEFAULT_PORTS above
        host=host,
        port=port,
        path=parts.path,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True)
class GitRemote:
    """A URL whose host passed the address policy, and the address the clone must connect to."""

    url: GitUrl
    resolved: ResolvedHost

    def curl_resolve(self) -> str | None:
        """The `http.curloptResolve` entry pinning the checked address (None for an IP literal: nothing to look up)."""
        pinned = self.resolved.pinned
        if str(pinned) == self.url.host:
            return None
        address = f"[{pinned}]" if pinned.version == 6 else str(pinned)
        return f"{self.url.host}:{self.url.effective_port}:{address}"


async def check_remote(url: GitUrl, allow: AllowList, resolver: Resolver = default_resolver) -> GitRemote:
    """Resolve and judge the URL's host; ValueError with a message safe to show.

    One message for "does not resolve" and "not public", so the answer says nothing about the server's
    own network."""
    try:
        resolved = await resolve_allowed(url.host, url.effective_port, allow, resolver)
    except AddressRefused:
        raise ValueError(REFUSED) from None
    if url.scheme == "http" and not resolved.allow_listed:
        raise ValueError(SCHEMES)
    return GitRemote(url, resolved)
