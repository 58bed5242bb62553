"""`[review.notify]` in `.adjutant.toml`: a channel alone means notices on findings; `on` overrides; a typo or a
bad value is refused with the key, like every other review rule."""

from __future__ import annotations

import pytest

from app.errors import ReviewRulesInvalid
from app.review.notify.mrkdwn import escape, link
from app.review.rules import load_rules


def test_notices_default_to_findings_once_a_channel_is_set():
    assert load_rules("[review]\n").notify.notice_when() == "never"
    assert load_rules('[review.notify]\nslack_channel = "#reviews"\n').notify.notice_when() == "findings"
    rules = load_rules('[review.notify]\nslack_channel = "C0123"\non = "always"\nstale_after_days = 5\n').notify
    assert (rules.notice_when(), rules.stale_after_days) == ("always", 5)
    assert load_rules('[review.notify]\non = "always"\n').notify.notice_when() == "never"  # nowhere to post


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ('on = "sometimes"', "review.notify.on"),
        ('slack_chanel = "C0123"', "review.notify.slack_chanel"),
        ('slack_channel = "<!channel>"', "review.notify.slack_channel"),
        ("stale_after_days = 0", "review.notify.stale_after_days"),
    ],
)
def test_a_bad_notify_rule_is_refused_with_its_key(table: str, field: str):
    with pytest.raises(ReviewRulesInvalid) as caught:
        load_rules(f"[review.notify]\n{table}\n")
    assert field in caught.value.detail


def test_mrkdwn_escapes_control_characters_and_refuses_odd_links():
    assert escape("<!here> & <@U1>") == "&lt;!here&gt; &amp; &lt;@U1&gt;"
    assert link("https://x.example/pull/1", "a|b <c>") == "<https://x.example/pull/1|a¦b &lt;c&gt;>"
    assert link("javascript:alert(1)", "t") == "t"
    assert link("https://x.example/a>b", "t") == "t"
