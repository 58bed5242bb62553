"""Linked tickets: the keys a pull request names (title, branch, description; bare or as URLs) are fetched
through the team's Jira and Linear connections, at most three, and their acceptance criteria reach the
business-logic reviewer; a ticket that cannot be fetched is noted in the summary and the review goes on."""

from __future__ import annotations

import json

import pytest

from app.integrations.connections import ConnectionInput
from app.integrations.types import PullRequest, TrackerIssue
from app.review.conversation import ReviewerConversation
from app.review.packing import pack
from app.review.pr.tickets import TicketRef, TicketSource, ticket_refs
from app.review.prompt import ReviewContext
from app.review.reviewers import BUSINESS_LOGIC, CORRECTNESS, custom_reviewer
from app.review.rules import load_rules
from tests.fakes.jira_server import API_TOKEN, EMAIL, FakeIssue, FakeJira, adf
from tests.fakes.linear_server import FakeLinear
from tests.review.diffs import file_diff
from tests.review.pr.conftest import Deployment
from tests.review.scripted import report

CRITERIA_FIELD = "customfield_10042"
BUSINESS_RULES = """[review]
disable = ["security", "correctness", "performance", "maintainability"]
"""


def test_ticket_keys_are_found_in_title_branch_and_description():
    refs = ticket_refs(
        "SHOP-12: cache reads",
        "feature/eng-42-cache-reads",
        "Fixes https://jira.acme.test/browse/OPS-7 and https://linear.app/acme/issue/eng-43/slug.\n"
        "Unlike UTF-8 or ISO-8601, SHOP-12 again; also MORE-1.",
        limit=10,
    )
    assert refs == [
        TicketRef("SHOP-12", None),
        TicketRef("ENG-42", None),
        TicketRef("ENG-43", "linear"),
        TicketRef("OPS-7", "jira", "jira.acme.test"),
        TicketRef("MORE-1", None),
    ]
    assert [r.key for r in ticket_refs("A-1 AB-1 AB-12 AB-123", None, "", limit=2)] == ["AB-1", "AB-12"]
    assert ticket_refs("release v1.2-3, no tickets", "main", "path/ENG-9 or ENG-9x") == []


@pytest.mark.parametrize("deployment", ["github"], indirect=True)
async def test_linked_tickets_reach_the_business_logic_reviewer_and_a_missing_one_degrades(deployment: Deployment):
    scenario = deployment.scenario
    with FakeJira("cloud") as jira, FakeLinear() as linear:
        jira.add_issue(
            FakeIssue(
                "SHOP-12",
                "Cache reads of missing keys",
                description=adf("Reads of missing keys crash the checkout."),
                custom={CRITERIA_FIELD: adf("Missing keys return None", "Every read is logged")},
            )
        )
        linear.add_issue(
            "Log cache reads",
            description="Ops need to see reads.\n\n## Acceptance criteria\n- Reads name the key in the log\n",
        )  # ENG-1
        linear.add_issue("Unrelated")  # ENG-2: past the cap, never asked for
        connections = deployment.service.app.ctx.connections
        for data in (
            ConnectionInput(
                kind="jira",
                name="jira",
                base_url=jira.url,
                credentials={"email": EMAIL, "api_token": API_TOKEN},
                options={"deployment": "cloud", "acceptance_criteria_field": CRITERIA_FIELD},
            ),
            ConnectionInput(kind="linear", name="linear", base_url=linear.url, credentials={"token": linear.api_key}),
        ):
            await connections.add(deployment.team_id, None, data)
        scenario.repo.add_file(".adjutant.toml", BUSINESS_RULES)
        pull = scenario.repo.pulls[scenario.number]
        pull.head_ref = "shop-12-cache-reads"
        pull.body = (
            f"Implements {jira.url}/browse/SHOP-12 with https://linear.app/acme/issue/ENG-1/log-cache-reads.\n"
            "Also touches OPS-404 and ENG-2."
        )

        deployment.script.play(report())
        assert (await deployment.deliver(pushed=False)).status_code == 202
        (job,) = await deployment.reviewed(1)
        assert job.result["status"] == "COMPLETED", job.result

        (call,) = deployment.script.calls()  # the business-logic reviewer, the only one on
        sent = json.dumps(call)
        assert "SHOP-12: Cache reads of missing keys" in sent
        assert "* Missing keys return None" in sent and "* Every read is logged" in sent  # the criteria field
        assert "ENG-1: Log cache reads" in sent and "* Reads name the key in the log" in sent
        assert not any("ENG-2" in json.dumps(r.json()) for r in linear.requests)  # at most three are fetched

        ((_, summary),) = scenario.summaries()
        tickets = summary.split("### Linked tickets")[1].split("###")[0]
        assert f"[SHOP-12]({jira.url}/browse/SHOP-12) Cache reads of missing keys (2 acceptance criteria)" in tickets
        assert "ENG-1" in tickets and "OPS-404: not found: reviewed without it" in tickets

        # A tracker that does not answer in time costs the review its ticket, never the review.
        jira.delay_s = 2.0
        source = TicketSource(connections, timeout_s=0.3)
        pr = PullRequest(repo="acme/shop", number=8, title="SHOP-12 again", state="open", url="http://x/8")
        linked = await source.linked(deployment.team_id, pr)
        assert (linked.found, linked.notes) == ([], ["SHOP-12: not fetched within 0.3 s"])


def test_only_the_reviewers_that_read_tickets_are_told_them():
    ticket = TrackerIssue(key="SHOP-12", title="Cache", acceptance_criteria=["Reads never raise"], url="http://j/1")
    context = ReviewContext(title="t", tickets=[ticket])
    (part,) = pack([file_diff("a.py", "x = 1\n", "x = 2\n")], load_rules(None), budget_tokens=10_000, max_parts=1)
    told = {
        spec.key: "Reads never raise" in str(ReviewerConversation.start(spec, context, part).messages[1])
        for spec in (BUSINESS_LOGIC, CORRECTNESS, custom_reviewer("Specs", "Check the spec."))
    }
    assert told == {"business_logic": True, "correctness": False, "custom_specs": True}
