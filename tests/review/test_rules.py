"""Repository rules from `.adjutant.toml`: every key read, typos and bad values refused with a clear reason."""

from __future__ import annotations

import pytest

from app.errors import ReviewRulesInvalid
from app.review.reviewers import DEFAULT_REVIEWERS, reviewers_for
from app.review.rules import RepositoryRules, load_rules

FULL = """
[tool.other]
ignored = true

[review]
ignore = ["docs/**", "*.snap"]
severity_floor = "medium"
confidence_threshold = 0.85
disable = ["maintainability"]

[review.path_instructions]
"src/api/**" = "Handlers must check ownership."
"**/*.sql" = "Migrations must be reversible."

[[review.custom_reviewers]]
name = "Migrations"
instructions = "Never lock a large table."
confidence_threshold = 0.9

[review.approval]
approve_when_clean = true
block_on = "critical"

[review.labels]
enabled = true
by_category = { security = "security" }
"""


def test_every_rule_is_read():
    rules = load_rules(FULL)
    assert rules.severity_floor == "medium" and rules.confidence_threshold == 0.85
    assert rules.ignored("docs/guide/setup.md") and rules.ignored("ui/__snapshots__/a.snap")
    assert not rules.ignored("src/api/users.py")
    assert rules.instructions_for("src/api/users.py") == ["Handlers must check ownership."]
    assert rules.instructions_for("db/0001_init.sql") == ["Migrations must be reversible."]
    assert rules.instructions_for("README.md") == []
    assert rules.approval.approve_when_clean and not rules.approval.request_changes
    assert rules.approval.block_on == "critical"
    assert rules.labels.enabled and rules.labels.by_category == {"security": "security"}
    keys = [r.key for r in reviewers_for(rules)]
    assert "maintainability" not in keys and keys[-1] == "custom_migrations"
    assert reviewers_for(rules)[-1].confidence_threshold == 0.9 and reviewers_for(rules)[-1].custom


@pytest.mark.parametrize("text", [None, "", "   \n", "[tool.other]\nx = 1\n"])
def test_no_file_or_no_review_table_means_defaults(text):
    rules = load_rules(text)
    assert rules == RepositoryRules()
    assert [r.key for r in reviewers_for(rules)] == [r.key for r in DEFAULT_REVIEWERS]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("[review\nignore = 1", None, "not valid TOML"),
        ("review = 3", None, "must be a table"),
        ('[review]\nseverity_floor = "urgent"', "review.severity_floor", "critical"),
        ("[review]\nconfidence_threshold = 1.5", "review.confidence_threshold", "less than or equal to 1"),
        ('[review]\nignroe = ["docs/**"]', "review.ignroe", "Extra inputs"),
        ('[review]\nignore = "docs/**"', "review.ignore", "valid list"),
        ('[[review.custom_reviewers]]\nname = "x"', "review.custom_reviewers.0.instructions", "Field required"),
        (
            '[[review.custom_reviewers]]\nname = "A"\ninstructions = "i"\n[[review.custom_reviewers]]\nname = "a"\ninstructions = "j"',
            "review.custom_reviewers",
            "unique",
        ),
        ('[review.approval]\nblock_on = "blocker"', "review.approval.block_on", "critical"),
    ],
)
def test_bad_rules_are_refused_with_the_field_and_the_reason(text, field, words):
    with pytest.raises(ReviewRulesInvalid) as caught:
        load_rules(text)
    error = caught.value
    assert error.code == "REVIEW_RULES_INVALID" and error.http_status == 422
    assert words in error.detail
    if field is not None:
        assert field in [item["field"] for item in error.details()]
