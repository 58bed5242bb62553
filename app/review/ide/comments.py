"""From the engine's findings to the IDE's comments (docs/review-protocol.md §6.4, §7.3): one comment per
(file, line), naming every agent that found something there, and a title for the review."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from app.review.findings import SEVERITY_RANK, Finding

BUG_CATEGORIES = ("correctness", "security", "error", "bug")
MAX_ALSO_NOTED = 4


def tag_of(category: str) -> str:
    """`bug` for what makes the code wrong or unsafe, `suggestion` for the rest (the client's two icons)."""
    lowered = category.lower()
    return "bug" if any(word in lowered for word in BUG_CATEGORIES) else "suggestion"


def rationale_of(finding: Finding) -> str:
    evidence = finding.evidence.strip()
    if not evidence:
        return f"{finding.severity.capitalize()} {finding.category} issue."
    return f"{finding.severity.capitalize()} {finding.category} issue in these changed lines:\n```\n{evidence}\n```"


def comment_of(finding: Finding, agent_id: int) -> dict[str, Any]:
    """The stored comment for one finding: `line_number` is the finding's first new-side line."""
    return {
        "agent_ids": [agent_id],
        "title": finding.title,
        "comment": finding.explanation,
        "rationale": rationale_of(finding),
        "corrective_code": finding.suggestion or "",
        "file_path": finding.path,
        "line_number": finding.line,
        "tag": tag_of(finding.category),
        "category": finding.category[:64],
        "severity": finding.severity,
        "confidence": finding.confidence,
    }


def blend(found: Iterable[tuple[int, Finding]]) -> list[dict[str, Any]]:
    """One comment per (file_path, line_number): the most confident (then most severe) finding speaks, the
    others are listed under it, the agent list is the union and the confidence the mean."""
    groups: dict[tuple[str, int], list[tuple[int, Finding]]] = {}
    for agent_id, finding in found:
        groups.setdefault((finding.path, finding.line), []).append((agent_id, finding))
    comments = []
    for (_, _), members in sorted(groups.items()):
        members.sort(key=lambda m: (-m[1].confidence, -SEVERITY_RANK[m[1].severity], m[0]))
        lead_agent, lead = members[0]
        comment = comment_of(lead, lead_agent)
        agents: list[int] = []
        for agent_id, _ in members:
            if agent_id not in agents:
                agents.append(agent_id)
        comment["agent_ids"] = agents
        others = [f for _, f in members[1:] if f.title.strip().lower() != lead.title.strip().lower()]
        if others:
            noted = "\n".join(f"- **{f.title}**: {f.explanation}" for f in others[:MAX_ALSO_NOTED])
            comment["comment"] = f"{lead.explanation}\n\nAlso noted here:\n{noted}"
        if not comment["corrective_code"]:
            comment["corrective_code"] = next((f.suggestion for _, f in members if f.suggestion), None) or ""
        if any(tag_of(f.category) == "bug" for _, f in members):
            comment["tag"] = "bug"
        comment["confidence"] = sum(f.confidence for _, f in members) / len(members)
        comments.append(comment)
    return comments


def review_title(comments: list[dict[str, Any]], file_count: int) -> str:
    files = f"{file_count} file{'s' if file_count != 1 else ''}"
    if not comments:
        return f"No issues found in {files}"
    tags = Counter(c["tag"] for c in comments)
    parts = [f"{count} {tag}{'s' if count != 1 else ''}" for tag, count in sorted(tags.items())]
    return f"{', '.join(parts)} in {files}"
