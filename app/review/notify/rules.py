"""A repository's notification rules: the `[review.notify]` table of its `.adjutant.toml`.

```toml
[review.notify]
slack_channel = "C0123ABCD"   # or "#reviews"
on = "findings"               # always | findings | never; default: findings when a channel is set
slack_connection = "acme"     # only when the team has several Slack connections
stale_after_days = 3          # the daily digest lists open pull requests idle this long
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

NoticeWhen = Literal["always", "findings", "never"]


class NotifyRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slack_channel: str | None = Field(default=None, pattern=r"^[#@]?[A-Za-z0-9._-]{1,80}$")
    on: NoticeWhen | None = None  # None: "findings" when a channel is set, else "never"
    slack_connection: str | None = Field(default=None, min_length=1, max_length=200)
    stale_after_days: int = Field(default=3, ge=1, le=365)

    def notice_when(self) -> NoticeWhen:
        if self.slack_channel is None:
            return "never"
        return self.on or "findings"
