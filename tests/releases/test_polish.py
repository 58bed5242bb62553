"""The model passes: a polish rewrite is kept only when it restates the facts exactly (every item once, none
invented, group counts and breaking callouts kept), else the deterministic text stands with the reason; the
model classifies only what no rule did, marked as such; earlier approved notes reach the prompt for voice.
The model is the scripted provider, through the same router as any other."""

from __future__ import annotations

import asyncio
import re

import pytest

from app.db.models import Repository, Team, User
from app.db.repositories import identity
from app.llm.providers.pool import ProviderPool
from app.llm.registry import ModelRegistry
from app.llm.router import LLMRouter
from app.releases.git import GitRepository
from app.releases.model import release_model
from app.releases.polish import validate
from app.releases.render import groups, render
from app.releases.service import ModelUse, RangeRequest, collect_facts, generate, write_notes
from tests.api.scripted_models import scripted_settings
from tests.conftest import start_service, stop_service


@pytest.fixture
async def facts(app_repo):
    repo, _ = app_repo
    return await collect_facts(GitRepository(repo.path), RangeRequest("v0.1.0", "v0.2.0"), name="app")


def faithful(text: str) -> str:
    """A rewrite a good model would give: every item reworded, its reference and heading kept."""
    lines = []
    for line in text.splitlines():
        if line.startswith("- "):
            words, ref = re.match(r"^- (.*) (\([^)]*\))$", line).groups()  # type: ignore[union-attr]
            line = f"- You will notice this: {words.lower()} {ref}"
        lines.append(line)
    return "\n".join(lines) + "\nEnjoy the release!\n"


def test_a_faithful_rewrite_passes_and_every_unfaithful_one_fails_with_its_reason(facts):
    text = render(facts, "external")
    expected = groups(facts, "external")
    good = faithful(text)
    assert validate(good, text, expected) is None
    item = next(line for line in good.splitlines() if "(#9)" in line)

    dropped = good.replace(item + "\n", "")
    assert validate(dropped, text, expected) == "#9 is missing; 'New' holds 3 items instead of 4"
    invented = good.replace(item, item + "\n- Also a faster importer (#99)")
    reason = validate(invented, text, expected)
    assert "#99 is not a change of this release" in reason and "invented references: #99" in reason
    mentioned = good.replace("Enjoy the release!", "Thanks to the fix in 1a2b3c4d5e and #4242.")
    assert validate(mentioned, text, expected) == "invented references: #4242, 1a2b3c4d5e"
    duplicated = good.replace(item, item + "\n" + item)
    assert validate(duplicated, text, expected) == "#9 is referenced 2 times; 'New' holds 5 items instead of 4"
    moved = good.replace(item + "\n", "").replace("## Fixed\n", f"## Fixed\n\n{item}\n")
    assert "#9 moved out of 'New'" in validate(moved, text, expected)
    no_callout = good.replace("## ⚠ Breaking changes (action needed)", "## Changes")
    assert "the heading '⚠ Breaking changes (action needed)' appears 0 times" in validate(no_callout, text, expected)


@pytest.fixture
async def scripted(database_url, redis_url, tmp_path):
    settings, _, helper = scripted_settings(database_url, redis_url, tmp_path)
    registry = ModelRegistry(settings.llm, settings.providers)
    pool = ProviderPool(settings.providers, settings.llm.router)
    model = release_model(settings, registry, LLMRouter(registry, pool, settings.llm.router))
    assert model is not None and model.name == "helper"  # chat.summary_model, when release_notes.model is empty
    yield settings, model, helper
    await pool.aclose()


async def test_the_model_rewrite_is_kept_only_when_it_checks_out(scripted, facts):
    _, model, helper = scripted
    text = render(facts, "external")
    use = ModelUse(model.ask, model.name, classify=False)
    helper.play({"text": "```markdown\n" + faithful(text) + "```"})
    kept = await write_notes(facts, use)
    assert kept.generator == "model" and kept.model == "helper" and kept.polish_reason is None
    assert "You will notice this: dark mode (#9)" in kept.external and "Enjoy the release!" in kept.external
    (request,) = helper.calls()
    assert "keep every '## ' heading exactly as written" in json_text(request) and "(#9)" in json_text(request)

    helper.play({"text": faithful(text).replace("(#9)", "(#9) (#10)")})
    rejected = await write_notes(facts, use)
    assert rejected.generator == "deterministic" and rejected.external == text
    assert rejected.polish_reason == (
        "rewrite rejected: #10 is not a change of this release; 'New' holds 5 items instead of 4; "
        "invented references: #10"
    )
    helper.play({"error": {"kind": "provider", "status": 500}})
    failed = await write_notes(facts, use)
    assert failed.external == text and failed.polish_reason.startswith("the model failed")


async def test_the_model_classifies_only_what_no_rule_did_and_is_marked(scripted, app_repo):
    _, model, helper = scripted
    repo, _ = app_repo
    helper.play({"text": '{"1": "perf"}'}, {"text": "not markdown at all"})
    notes = await generate(
        GitRepository(repo.path), RangeRequest("v0.1.0", "v0.2.0"), name="app", model=ModelUse(model.ask, model.name)
    )
    classify, _polish = helper.calls()
    assert "1. Widget colours are calmer" in json_text(classify) and "2." not in json_text(classify)
    (colours,) = [c for c in notes.facts.changes if c.description == "Widget colours are calmer"]
    assert (colours.type, colours.classified_by) == ("perf", "model")
    assert "Widget colours are calmer" in notes.internal and "type suggested by a model" in notes.internal
    assert "- Widget colours are calmer" in notes.external  # now user-facing, under Faster
    assert notes.polish_reason.startswith("rewrite rejected") and notes.generator == "deterministic"


async def test_earlier_approved_notes_of_the_repository_reach_the_polish_prompt(
    database_url, redis_url, tmp_path, app_repo
):
    repo, _ = app_repo
    settings, _, helper = scripted_settings(database_url, redis_url, tmp_path, **{"jobs.poll_ms": 50})
    service = await start_service(settings)
    try:
        token = await service.issue_token("lead@example.com")
        user = await User.get(email="lead@example.com")
        team = await Team.get(name="core")
        assert await identity.membership_role(user.id, team.id) == "admin"
        repository = await Repository.create(
            team_id=team.id, name="app", source=str(repo.path), source_kind="local", status="READY"
        )
        helper.play({"text": "no rewrite"}, mode="repeat")
        first = await _draft(service, token, repository.id, {"to_ref": "v0.1.0"})
        approved = await service.request(
            "POST", f"/v1/release-notes/{first}/approve", token=token, client_headers=False
        )
        assert approved.status_code == 200, approved.text
        helper.play({"text": "no rewrite"}, mode="repeat")
        await _draft(service, token, repository.id, {"from_ref": "v0.1.0", "to_ref": "v0.2.0"})
        polish = [c for c in helper.calls() if "Rewrite these release notes" in json_text(c)]
        assert len(polish) == 1
        prompt = json_text(polish[0])
        assert "Earlier release notes of this project" in prompt and "# app v0.1.0" in prompt
        assert prompt.index("# app v0.1.0") < prompt.index("# app v0.2.0")
    finally:
        await stop_service(service)


async def _draft(service, token, repository_id: int, body: dict) -> int:
    asked = await service.request(
        "POST", f"/v1/repositories/{repository_id}/release-notes", token=token, client_headers=False, json=body
    )
    assert asked.status_code == 202, asked.text
    for _ in range(400):
        job = (
            await service.request(
                "GET", f"/v1/jobs/{asked.json()['data']['job_id']}", token=token, client_headers=False
            )
        ).json()["data"]
        if job["status"] == "SUCCEEDED":
            return job["result"]["release_note_id"]
        assert job["status"] in ("QUEUED", "RUNNING"), job
        await asyncio.sleep(0.05)
    raise AssertionError("the release-notes job did not finish")


def json_text(request: dict) -> str:
    return str(request)
