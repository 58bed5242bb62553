"""The Stack Exchange importer against a fake API speaking its wrapper: filters and paging as query
parameters, accepted and top answers chosen, `backoff` waited out per method, errors typed, quota respected,
and the API's address judged like an integration's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import IntegrationRateLimited, IntegrationRejected, InvalidRequest
from app.integrations.addresses import AllowList
from app.knowledge.stackexchange import QuestionQuery, StackExchangeClient, question_items
from tests.fakes.stackexchange_server import FakeAnswer, FakeQuestion, FakeStackExchange
from tests.knowledge.conftest import engine, ingest, make_source

LOCAL = AllowList.parse(["127.0.0.1"])


@pytest.fixture
def fake():
    with FakeStackExchange() as server:
        server.add_question(
            FakeQuestion(
                1,
                'How do I "cancel" an asyncio task?',
                ["python", "asyncio"],
                50,
                "<p>My task never stops.</p>",
                answers=[
                    FakeAnswer(
                        11,
                        10,
                        "<p>Call <code>task.cancel()</code>:</p><pre><code>task.cancel()\nawait asyncio.gather(task, return_exceptions=True)</code></pre>",
                        accepted=True,
                        owner="Ada",
                    ),
                    FakeAnswer(12, 30, "<p>Use a timeout instead.</p>", owner="Bob"),
                    FakeAnswer(13, 0, "<p>Restart Python.</p>", owner="Eve"),
                ],
            )
        )
        server.add_question(
            FakeQuestion(
                2,
                "Sort a dict by value",
                ["python", "dictionary"],
                3,
                "<p>?</p>",
                answers=[FakeAnswer(21, 5, "<p>sorted(d.items(), key=...)</p>")],
            )
        )
        server.add_question(
            FakeQuestion(3, "Java streams", ["java"], 80, "<p>?</p>", answers=[FakeAnswer(31, 9, "<p>map</p>")])
        )
        yield server


def client(fake: FakeStackExchange, **kwargs) -> StackExchangeClient:
    options = {"key": "", "timeout_s": 5.0, "max_backoff_s": 10.0, "allow": LOCAL} | kwargs
    return StackExchangeClient(fake.url, **options)


async def test_questions_are_filtered_and_their_accepted_and_best_answers_imported(fake):
    api = client(fake)
    query = QuestionQuery(tags=("python",), min_score=10, answers_per_question=2, min_answer_score=1)
    items = [i async for i in question_items(api, query)]
    await api.aclose()
    assert [i.external_id for i in items] == ["q1/a11", "q1/a12"]  # accepted first, then the best other
    first = fake.seen("GET", "/2.3/questions$")[0]
    assert first.param("tagged") == "python" and first.param("min") == "10" and first.param("sort") == "votes"
    assert first.param("filter") == "withbody" and first.param("site") == "stackoverflow"
    accepted = items[0]
    assert accepted.title == 'How do I "cancel" an asyncio task?'  # the API's HTML entities decoded
    assert accepted.meta["accepted"] and accepted.meta["score"] == 10 and accepted.meta["tags"] == ["python", "asyncio"]
    assert accepted.url == "https://stackoverflow.com/a/11"
    assert accepted.attribution["author"] == "Ada" and accepted.attribution["licence"] == "CC BY-SA 4.0"
    assert accepted.attribution["author_url"] == "https://stackoverflow.com/users/200/Ada"
    assert "```\ntask.cancel()" in accepted.text and accepted.language_hint == "python"
    assert api.quota.max == 300 and api.quota.remaining == 298


async def test_dates_and_paging_are_sent_and_followed(fake):
    for n in range(130):
        fake.add_question(
            FakeQuestion(
                1000 + n,
                f"Question {n}",
                ["go"],
                1,
                "<p>x</p>",
                creation_date=1_700_000_000,
                answers=[FakeAnswer(5000 + n, 2, "<p>a</p>")],
            )
        )
    api = client(fake)
    query = QuestionQuery(tags=("go",), from_date=datetime(2023, 1, 1, tzinfo=UTC), max_questions=120)
    items = [i async for i in question_items(api, query)]
    await api.aclose()
    assert len(items) == 120
    pages = fake.seen("GET", "/2.3/questions$")
    assert [p.param("page") for p in pages] == ["1", "2"] and pages[0].param("pagesize") == "100"
    assert pages[0].param("fromdate") == str(int(datetime(2023, 1, 1, tzinfo=UTC).timestamp()))
    assert len(fake.seen("GET", "/answers$")) == 2  # one answers call per page of questions


async def test_backoff_is_waited_out_before_the_same_method_is_called_again(fake):
    for n in range(150):
        fake.add_question(FakeQuestion(2000 + n, f"Q {n}", ["rust"], 1, "<p>x</p>", answers=[]))
    fake.backoff["questions"] = 1
    api = client(fake)
    items = [i async for i in question_items(api, QuestionQuery(tags=("rust",), max_questions=150))]
    await api.aclose()
    assert items == []  # no answers, but both pages were read
    assert len(fake.seen("GET", "/2.3/questions$")) == 2
    assert fake.throttled == 0  # the second page was not asked for early
    assert api.waited_s >= 0.5


async def test_a_backoff_longer_than_allowed_fails_typed_without_calling(fake):
    for n in range(150):
        fake.add_question(FakeQuestion(3000 + n, f"Q {n}", ["zig"], 1, "<p>x</p>", answers=[]))
    fake.backoff["questions"] = 30
    api = client(fake, max_backoff_s=5.0)
    with pytest.raises(IntegrationRateLimited) as caught:
        [i async for i in question_items(api, QuestionQuery(tags=("zig",), max_questions=150))]
    await api.aclose()
    assert caught.value.retry_after > 20
    assert len(fake.seen("GET", "/2.3/questions$")) == 1


async def test_api_errors_are_typed_with_their_name(fake):
    api = client(fake)
    with pytest.raises(IntegrationRejected, match="bad_parameter"):
        [i async for i in question_items(api, QuestionQuery(site="nosuchsite"))]
    await api.aclose()


async def test_the_key_is_sent_when_configured(fake):
    api = client(fake, key="app-key-123")
    [i async for i in question_items(api, QuestionQuery(tags=("java",)))]
    await api.aclose()
    assert all(r.param("key") == "app-key-123" for r in fake.requests)


async def test_an_address_that_is_not_public_needs_the_allow_list(fake):
    api = client(fake, allow=AllowList.parse([]))
    with pytest.raises(InvalidRequest, match=r"integrations\.allowed_hosts"):
        [i async for i in question_items(api, QuestionQuery())]
    await api.aclose()
    assert fake.requests == []


async def test_imported_answers_are_searchable_with_their_credit(db, fake, counting_embedder):
    api = client(fake)
    items = [i async for i in question_items(api, QuestionQuery(tags=("python",)))]
    await api.aclose()
    source = await make_source("core", "so-python", kind="stackexchange")
    stats = await ingest(source, items, counting_embedder)
    assert stats.created == 3  # a11 (accepted), a12, a21; a13 is below the score floor
    hits = await engine(counting_embedder).search(source.team_id, "cancel an asyncio task", kinds=["qa"], limit=3)
    assert hits[0].qa["answer_id"] in (11, 12) and hits[0].attribution["link"].startswith(
        "https://stackoverflow.com/a/"
    )


async def test_the_import_stops_when_the_quota_is_spent(fake):
    fake.quota_remaining = 1  # this page of questions is the last call the day allows
    api = client(fake)
    items = [i async for i in question_items(api, QuestionQuery(tags=("python",)))]
    await api.aclose()
    assert items == [] and api.quota.remaining == 0
    assert len(fake.requests) == 1  # no answers call the API would refuse
