"""The review's summary in Markdown: findings by severity, files reviewed and omitted, reviewers that failed."""

from __future__ import annotations

from collections import Counter

from app.review.findings import SEVERITIES, Finding

MAX_LISTED = 50


def severity_counts(findings: list[Finding]) -> dict[str, int]:
    counted = Counter(f.severity for f in findings)
    return {severity: counted.get(severity, 0) for severity in SEVERITIES}


def summary_markdown(
    findings: list[Finding],
    *,
    files_reviewed: list[str],
    omitted: list[tuple[str, str]],
    reviewers_failed: list[str],
) -> str:
    lines = ["## Review summary", ""]
    if findings:
        counts = severity_counts(findings)
        lines += ["| severity | findings |", "|---|---|"]
        lines += [f"| {severity} | {count} |" for severity, count in counts.items() if count]
        lines.append("")
        for finding in findings[:MAX_LISTED]:
            lines.append(f"- **{finding.severity}** `{finding.path}:{finding.line}` {finding.title}")
        if len(findings) > MAX_LISTED:
            lines.append(f"- … and {len(findings) - MAX_LISTED} more")
    else:
        lines.append("No findings: nothing in this change needs attention.")
    lines += ["", f"**Files reviewed ({len(files_reviewed)})**", ""]
    lines += [f"- `{path}`" for path in files_reviewed[:MAX_LISTED]]
    if len(files_reviewed) > MAX_LISTED:
        lines.append(f"- … and {len(files_reviewed) - MAX_LISTED} more")
    if omitted:
        lines += ["", f"**Not reviewed ({len(omitted)})**", ""]
        lines += [f"- `{path}`: {reason}" for path, reason in omitted[:MAX_LISTED]]
        if len(omitted) > MAX_LISTED:
            lines.append(f"- … and {len(omitted) - MAX_LISTED} more")
    if reviewers_failed:
        lines += ["", f"Reviewers that could not finish: {', '.join(reviewers_failed)}."]
    return "\n".join(lines) + "\n"
