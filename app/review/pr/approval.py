"""Whether the bot approves or requests changes: the repository's rules decide what it would do, and it does
so only through a connection a maintainer allowed to, and never on a pull request it wrote itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from app.review.findings import at_least
from app.review.rules import ApprovalRules

Decision = Literal["APPROVE", "REQUEST_CHANGES"]
STATE_AFTER: dict[str, str] = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}


def decide(rules: ApprovalRules, severities: Iterable[str]) -> Decision | None:
    """What the rules ask for, given the severities of the pull request's open findings."""
    blocking = any(at_least(severity, rules.block_on) for severity in severities)
    if blocking and rules.request_changes:
        return "REQUEST_CHANGES"
    if not blocking and rules.approve_when_clean:
        return "APPROVE"
    return None


def refusal(
    decision: Decision,
    *,
    may_approve: bool,
    may_request_changes: bool,
    author: str | None,
    bot: tuple[str, ...],
    connection: str,
    platform_can_request_changes: bool,
) -> str | None:
    """Why the bot must not carry out `decision`, or None when it may."""
    if author and author.casefold() in {name.casefold() for name in bot if name}:
        return f"the pull request was opened by {author}, the identity this connection acts as; it never judges its own"
    if decision == "APPROVE" and not may_approve:
        return (
            f"connection {connection!r} is not allowed to approve; a maintainer can allow it "
            "(PUT /v1/reviews/connections/<connection>/approvals)"
        )
    if decision == "REQUEST_CHANGES" and not may_request_changes:
        return (
            f"connection {connection!r} is not allowed to request changes; a maintainer can allow it "
            "(PUT /v1/reviews/connections/<connection>/approvals)"
        )
    if decision == "REQUEST_CHANGES" and not platform_can_request_changes:
        return "this platform has no way to request changes through its API; the summary lists the blocking findings"
    return None
