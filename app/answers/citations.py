"""The model's citations checked against the sources it was shown: `[n]` markers whose number names no source
are removed (and reported), in a whole answer or in a stream of deltas."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# [3] or [1, 4] or [1][2]; a marker is digits only, so code like items[0] inside backticks is rare to hit and
# is left alone when the number is valid.
MARKER = re.compile(r"\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]")
LONGEST_MARKER = 40  # an open bracket not closed within this many characters is not a citation


@dataclass
class CitationCheck:
    """What the citations of one answer referred to."""

    sources: int
    cited: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)

    def clean(self, text: str) -> str:
        """`text` with every out-of-range number dropped from its marker (and empty markers removed)."""

        def keep(match: re.Match[str]) -> str:
            numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
            valid = [n for n in numbers if 1 <= n <= self.sources]
            for n in numbers:
                target = self.cited if n in valid else self.removed
                if n not in target:
                    target.append(n)
            return f"[{', '.join(map(str, valid))}]" if valid else ""

        return MARKER.sub(keep, text)

    def summary(self) -> dict[str, list[int]]:
        return {"cited": sorted(self.cited), "removed": sorted(self.removed)}


class CitationStream:
    """Cleans a stream of text deltas: text after an unclosed `[` is held back until the marker closes (or
    cannot be one), so a marker split across deltas is still checked, and nothing is delayed longer."""

    def __init__(self, check: CitationCheck) -> None:
        self.check = check
        self.pending = ""

    def feed(self, delta: str) -> str:
        text = self.pending + delta
        cut = self._hold_from(text)
        self.pending = text[cut:]
        return self.check.clean(text[:cut])

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return self.check.clean(text)

    @staticmethod
    def _hold_from(text: str) -> int:
        """Where a possibly unfinished marker starts (len(text) when there is none)."""
        start = text.rfind("[")
        if start == -1 or "]" in text[start:] or len(text) - start > LONGEST_MARKER:
            return len(text)
        if re.fullmatch(r"\[[\d,\s]*", text[start:]) is None:
            return len(text)
        return start
