"""What the bot writes on a pull request: one comment per finding (with a committable suggestion where the
platform has them), the mark on a comment whose lines changed, and the hidden markers that let a later run
recognise its own comments even when its database does not know them (a CLI run, a run that died mid-post).

Markers are HTML comments on GitHub and GitLab; Bitbucket's Markdown drops raw HTML from view inconsistently,
so there a Markdown link definition (`[//]: # (...)`), which no renderer shows, carries it.
"""

from __future__ import annotations

import re

from app.review.findings import Finding

FINDING_MARKER = re.compile(r"adjutant:finding ([0-9a-f]{8,64})")
SUMMARY_MARKER = "adjutant:summary"
SEVERITY_NAMES = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "info": "Info"}
EXPLANATION_MAX = 3000
SHORT_ID = 8  # the fingerprint prefix a person types to name a comment
SUGGESTION_MAX = 6000


def marker(text: str, platform: str) -> str:
    return f"[//]: # ({text})" if platform == "bitbucket" else f"<!-- {text} -->"


def fingerprints_in(body: str) -> list[str]:
    return FINDING_MARKER.findall(body or "")


def is_summary(body: str) -> bool:
    return SUMMARY_MARKER in (body or "")


def finding_body(finding: Finding, *, platform: str, suggestion_lines: int | None) -> str:
    """The comment for a finding. `suggestion_lines` is how many lines (from the comment's first) the
    suggestion replaces; None when it cannot be offered as a committable change on these lines. The
    suggestion is the reviewer's code as it sent it, indentation included."""
    head = f"**{SEVERITY_NAMES[finding.severity]}** · {finding.category} · {finding.title}"
    parts = [head, "", _cut(finding.explanation, EXPLANATION_MAX)]
    if finding.suggestion:
        code = _cut(finding.suggestion.rstrip("\n"), SUGGESTION_MAX)
        fence = _fence(code)
        if suggestion_lines is not None and platform == "github":
            parts += ["", f"{fence}suggestion", code, fence]
        elif suggestion_lines is not None and platform == "gitlab":
            parts += ["", f"{fence}suggestion:-0+{max(0, suggestion_lines - 1)}", code, fence]
        else:
            parts += ["", "Suggested change:", "", fence, code, fence]
    short = finding.fingerprint[:SHORT_ID]
    parts += [
        "",
        f"<sub>{finding.reviewer or 'reviewer'} · confidence {finding.confidence:.2f} · id `{short}`: reply "
        f"`/adjutant ignore {short}` to dismiss it</sub>",
    ]
    parts += ["", marker(f"adjutant:finding {finding.fingerprint}", platform)]
    return "\n".join(parts)


def outdated_body(*, severity: str, category: str, title: str, fingerprint: str, sha: str, platform: str) -> str:
    """What an outdated comment is edited to where the platform cannot resolve it (GitHub's REST API)."""
    name = SEVERITY_NAMES.get(severity, severity)
    return "\n".join(
        [
            f"~~**{name}** · {category} · {title}~~",
            "",
            f"Outdated: the lines this comment was about changed in `{sha[:12]}`.",
            "",
            marker(f"adjutant:finding {fingerprint} outdated", platform),
        ]
    )


def ignored_body(*, severity: str, category: str, title: str, fingerprint: str, by: str, platform: str) -> str:
    """What a comment someone dismissed with `/adjutant ignore` is edited to (GitHub; elsewhere it is resolved)."""
    name = SEVERITY_NAMES.get(severity, severity)
    return "\n".join(
        [
            f"~~**{name}** · {category} · {title}~~",
            "",
            f"Ignored by @{by}.",
            "",
            marker(f"adjutant:finding {fingerprint} ignored", platform),
        ]
    )


def _fence(code: str) -> str:
    """A code fence longer than any run of backticks inside the code, so the code cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
