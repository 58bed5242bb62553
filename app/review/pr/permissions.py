"""Who may run which `/adjutant` command: the commenter's permission on the repository, as the platform reports
it, mapped to a team role; the role each command needs comes from `[review.commands]`.

| platform | admin | maintainer | member | no role |
|---|---|---|---|---|
| GitHub (collaborator permission) | `admin` | `maintain` | `write` | `triage`, `read`, none |
| GitLab (project access level) | 50 owner | 40 maintainer | 30 developer | 20 reporter and below |
| Bitbucket | — | — | — | everyone: its permission API needs workspace admin rights |

No link between a platform login and a member of our team exists in our data, so a team role never raises a
commenter's platform role. The pull request's author may always run every command on their own pull request.
"""

from __future__ import annotations

import logging

from app.auth.roles import Role, includes
from app.errors import IntegrationError, ReviewRulesInvalid
from app.integrations.types import PullRequest
from app.review.pr.platforms import RULES_FILE, RULES_MAX_BYTES, Platform
from app.review.rules import CommandRole, CommandRules, load_rules

log = logging.getLogger("adjutant.review")

GITHUB_ROLES: dict[str, Role] = {"admin": "admin", "maintain": "maintainer", "write": "member"}


def github_role(permission: str | None) -> Role | None:
    return GITHUB_ROLES.get((permission or "").lower())


def gitlab_role(access_level: int | None) -> Role | None:
    if access_level is None:
        return None
    if access_level >= 50:
        return "admin"
    if access_level >= 40:
        return "maintainer"
    return "member" if access_level >= 30 else None


def required_role(rules: CommandRules, verb: str) -> CommandRole:
    return getattr(rules, verb)  # type: ignore[no-any-return]


def allowed(required: CommandRole, role: Role | None) -> bool:
    return required == "anyone" or includes(role, required)


async def command_refusal(platform: Platform, pr: PullRequest, verb: str, by: str, mode: str) -> str | None:
    """Why `by` may not run `/adjutant <verb>` on this pull request, or None when they may. `mode` is the
    connection's `commands_from`: `nobody` refuses everyone, `anyone` no one; under `author` the author may,
    and anyone else needs the role `[review.commands]` of the target branch's rules asks for."""
    if mode == "nobody":
        return "commands in comments are switched off for this connection"
    if mode == "anyone" or (pr.author and by.casefold() == pr.author.casefold()):
        return None
    required = required_role(await _command_rules(platform, pr), verb)
    if required == "anyone":
        return None
    try:
        role = await platform.permission(pr.repo, by)
    except IntegrationError as exc:  # unknown is refused, never allowed
        log.info("permission of %s on %s unread: %s", by, pr.repo, exc.detail)
        role = None
    if allowed(required, role):
        return None
    return (
        f"`/adjutant {verb}` needs the {required} role on {pr.repo} (your permission there gives "
        f"{role or 'no role'}), or to be the pull request's author ({pr.author or 'unknown'})"
    )


async def _command_rules(platform: Platform, pr: PullRequest) -> CommandRules:
    """`[review.commands]` of the target branch (a pull request never sets its own permissions); defaults when
    the rules are missing or invalid, so a broken file never opens commands up."""
    try:
        text = await platform.read_file(
            pr.repo, RULES_FILE, pr.target_branch or pr.head_sha or "", max_bytes=RULES_MAX_BYTES
        )
        return load_rules(text).commands
    except ReviewRulesInvalid:
        return CommandRules()
