"""GitHub Discussions as a team's own Q&A, from the fake GitHub's GraphQL: answered discussions become Q&A items
credited to the answer's author, pages are followed, an unknown repository is a typed error."""

from __future__ import annotations

import pytest

from app.errors import IntegrationNotFound
from app.knowledge.discussions import discussion_items
from app.knowledge.specs import DiscussionsSpec
from tests.fakes.github_discussions import discussion
from tests.fakes.github_server import FakeGitHub
from tests.integrations.conftest import connection
from tests.knowledge.conftest import engine, ingest, make_source


@pytest.fixture
def github():
    with FakeGitHub() as fake:
        repo = fake.add_repo("acme/app")
        repo.discussions.append(
            discussion(
                1,
                "How do I configure the retry budget?",
                "Calls give up too early.",
                answer="Set `router.max_retries = 5` in settings.toml.",
                upvotes=7,
                labels=("config",),
            )
        )
        repo.discussions.append(discussion(2, "Is there a dark mode?", "Asking for a friend."))
        for n in range(3, 63):
            repo.discussions.append(discussion(n, f"Question {n}", "body", answer=f"answer {n}"))
        yield fake


def spec(**overrides) -> DiscussionsSpec:
    return DiscussionsSpec.model_validate({"kind": "discussions", "connection": "gh", "repo": "acme/app"} | overrides)


async def test_answered_discussions_become_credited_qa(github, runtime, db, counting_embedder):
    info = connection("github", github.url, {"token": github.token})
    items = [i async for i in discussion_items(info, runtime, spec())]
    assert len(items) == 61  # 60 answered on two pages; the unanswered one left out
    assert len([r for r in github.seen("POST") if r.path.endswith("/graphql")]) == 2
    first = items[0]
    assert first.external_id == "discussion/1" and first.text.startswith("Set `router.max_retries = 5`")
    assert first.meta["accepted"] is True and first.meta["score"] == 7 and first.meta["tags"] == ["Q&A", "config"]
    assert first.url == "https://github.com/acme/app/discussions/1#discussioncomment-10"
    assert first.attribution["author"] == "maintainer" and "acme/app Discussions" in first.attribution["text"]

    source = await make_source("core", "discussions:acme/app", kind="discussions")
    await ingest(source, items[:3], counting_embedder)
    hits = await engine(counting_embedder).search(source.team_id, "retry budget configuration", kinds=["qa"])
    assert hits[0].qa["question"] == "How do I configure the retry budget?"


async def test_unanswered_discussions_on_request_and_unknown_repositories(github, runtime):
    info = connection("github", github.url, {"token": github.token})
    items = [i async for i in discussion_items(info, runtime, spec(answered_only=False, max_discussions=2))]
    assert [(i.external_id, i.meta["accepted"]) for i in items] == [("discussion/1", True), ("discussion/2", False)]
    with pytest.raises(IntegrationNotFound):
        [i async for i in discussion_items(info, runtime, spec(repo="acme/missing"))]
