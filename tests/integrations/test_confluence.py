"""The Confluence client (atlassian-python-api in the integration pool) against a loopback Confluence, Cloud
and Data Center."""

from __future__ import annotations

import asyncio
import base64
import logging
import time

import pytest

from app.errors import (
    IntegrationAuthFailed,
    IntegrationNotFound,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
)
from app.integrations.confluence import ConfluenceClient
from tests.fakes.confluence_server import API_TOKEN, EMAIL, PAT, FakeConfluence
from tests.integrations.atlassian_support import closed_port, other_worker, record_request_threads
from tests.integrations.conftest import connection

CLOUD_CREDENTIALS = {"email": EMAIL, "api_token": API_TOKEN}

DEPLOY_GUIDE = (
    "<h1>Deploy guide</h1>"
    "<p>Deploys run from <code>main</code> via the <strong>release</strong> pipeline; see "
    '<a href="https://ci.acme.test/release">the pipeline</a> and '
    '<ac:link><ri:page ri:content-title="Rollback" ri:space-key="ENG" />'
    "<ac:plain-text-link-body><![CDATA[how to roll back]]></ac:plain-text-link-body></ac:link>.</p>"
    '<ac:structured-macro ac:name="info" ac:schema-version="1"><ac:rich-text-body>'
    "<p>Freeze on Fridays.</p></ac:rich-text-body></ac:structured-macro>"
    '<ac:structured-macro ac:name="code" ac:schema-version="1"><ac:parameter ac:name="language">bash</ac:parameter>'
    '<ac:plain-text-body><![CDATA[make deploy ENV=prod && echo "<done>"]]></ac:plain-text-body></ac:structured-macro>'
    "<ol><li>Tag the release</li><li>Watch the dashboards</li></ol>"
)


def seeded(deployment: str, **kwargs) -> FakeConfluence:
    fake = FakeConfluence(deployment, **kwargs).start()
    guide = fake.add_page("ENG", "Deploy guide", DEPLOY_GUIDE, version=7)
    for n in range(1, 6):
        fake.add_page("ENG", f"Deploy runbook {n}", f"<p>deploy step {n}</p>", parent=guide.id)
    fake.add_page("OPS", "On-call", "<p>pager rota</p>")
    return fake


@pytest.fixture
def cloud():
    fake = seeded("cloud")
    yield fake
    fake.stop()


@pytest.fixture
def datacenter():
    fake = seeded("datacenter", context="/confluence")
    yield fake
    fake.stop()


def client_for(fake: FakeConfluence, runtime, **options) -> ConfluenceClient:
    if fake.deployment == "cloud":
        # The site only, as users paste it: the client adds Cloud's /wiki.
        return ConfluenceClient(connection("confluence", fake.url, CLOUD_CREDENTIALS, **options), runtime)
    info = connection("confluence", fake.base, {"token": PAT}, deployment="datacenter", **options)
    return ConfluenceClient(info, runtime)


def guide_id(fake: FakeConfluence) -> str:
    return next(p.id for p in fake.pages.values() if p.title == "Deploy guide")


# --- identity -------------------------------------------------------------------------------------------------


async def test_cloud_identity_is_the_current_user_and_its_operations(cloud, runtime):
    client = client_for(cloud, runtime)
    identity = await client.identity()
    assert identity.login == "557058:f1e2d3c4" and identity.name == "Docs Writer"
    assert identity.scopes == ["create:page", "read:space", "update:page"]
    assert identity.detail == f"Confluence Cloud at {cloud.url}/wiki"
    (seen,) = cloud.requests
    assert seen.path == "/wiki/rest/api/user/current" and seen.param("expand") == "operations"
    assert seen.headers["authorization"] == "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
    await client.aclose()


async def test_datacenter_identity_uses_the_context_path_and_a_bearer_token(datacenter, runtime):
    identity = await client_for(datacenter, runtime).identity()
    assert identity.login == "docswriter" and "Data Center" in (identity.detail or "")
    (seen,) = datacenter.requests
    assert seen.path == "/confluence/rest/api/user/current" and seen.headers["authorization"] == f"Bearer {PAT}"


async def test_anonymous_access_is_not_an_identity(cloud, runtime):
    cloud.anonymous = True
    with pytest.raises(IntegrationAuthFailed, match="anonymous"):
        await client_for(cloud, runtime).identity()


# --- reading --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
async def test_cql_search_follows_next_links_and_cleans_the_excerpts(deployment, runtime):
    fake = seeded(deployment, context=None if deployment == "cloud" else "/confluence")
    try:
        fake.max_page = 2
        hits = await client_for(fake, runtime).search('space = ENG AND text ~ "deploy"', limit=5)
        assert [h.title for h in hits] == ["Deploy guide"] + [f"Deploy runbook {n}" for n in range(1, 5)]
        assert hits[1].excerpt == "deploy step 1"  # Cloud's @@@hl@@@ markers removed
        assert hits[1].url == fake.base + fake.webui(fake.pages[hits[1].id])
        assert (hits[0].space, hits[0].version, hits[0].body_markdown) == ("ENG", 7, "")
        seen = fake.seen("GET", "/search")
        assert [r.path for r in seen] == [f"{fake.context}/rest/api/search"] * 3
        assert all(r.param("cql") == 'space = ENG AND text ~ "deploy"' for r in seen)
        if deployment == "cloud":
            assert seen[0].param("cursor") is None and seen[1].param("cursor") and seen[2].param("cursor")
        else:
            assert [r.param("start") for r in seen] == ["0", "2", "4"]
    finally:
        fake.stop()


async def test_search_stops_at_the_limit_without_fetching_more_pages(cloud, runtime):
    cloud.max_page = 2
    hits = await client_for(cloud, runtime).search('text ~ "deploy"', limit=2)
    assert len(hits) == 2 and len(cloud.seen("GET", "/search")) == 1


async def test_bad_cql_is_rejected_with_confluences_message(cloud, runtime):
    with pytest.raises(IntegrationRejected, match="Could not parse cql"):
        await client_for(cloud, runtime).search("text ~~ deploy")


async def test_page_by_id_turns_storage_into_markdown(datacenter, runtime):
    page = await client_for(datacenter, runtime).get_page(guide_id(datacenter))
    assert page.body_markdown == (
        "# Deploy guide\n\n"
        "Deploys run from `main` via the **release** pipeline; see [the pipeline](https://ci.acme.test/release)"
        " and how to roll back (page: Rollback).\n\n"
        "> **Info:** Freeze on Fridays.\n\n"
        '```bash\nmake deploy ENV=prod && echo "<done>"\n```\n\n'
        "1. Tag the release\n2. Watch the dashboards"
    )
    assert (page.title, page.space, page.version) == ("Deploy guide", "ENG", 7)
    assert page.url == f"{datacenter.base}/display/ENG/Deploy+guide"
    assert page.updated_at is not None and page.updated_at.year == 2024
    assert datacenter.requests[0].param("expand") == "body.storage,version,space"


async def test_page_by_title_finds_the_page_or_says_it_is_not_there(cloud, runtime):
    client = client_for(cloud, runtime)
    page = await client.get_page_by_title("ENG", "Deploy guide")
    assert page.id == guide_id(cloud) and page.body_markdown.startswith("# Deploy guide")
    with pytest.raises(IntegrationNotFound, match="no page 'Missing' in space ENG"):
        await client.get_page_by_title("ENG", "Missing")
    assert cloud.requests[0].param("spaceKey") == "ENG" and cloud.requests[0].param("title") == "Deploy guide"


async def test_unknown_page_is_not_found(cloud, runtime):
    with pytest.raises(IntegrationNotFound, match="No content found"):
        await client_for(cloud, runtime).get_page("424242")


async def test_children_are_bounded_and_carry_links_not_bodies(cloud, runtime):
    children = await client_for(cloud, runtime).children(guide_id(cloud), limit=3)
    assert [c.title for c in children] == ["Deploy runbook 1", "Deploy runbook 2", "Deploy runbook 3"]
    assert all(c.body_markdown == "" and c.url.startswith(f"{cloud.url}/wiki/spaces/ENG/pages/") for c in children)
    assert cloud.requests[0].param("limit") == "3"


async def test_ids_keys_and_titles_are_checked_before_any_request(cloud, runtime):
    client = client_for(cloud, runtime)
    with pytest.raises(IntegrationRejected, match="not a page id"):
        await client.get_page("../user/current")
    with pytest.raises(IntegrationRejected, match="not a space key"):
        await client.get_page_by_title("ENG/x", "t")
    with pytest.raises(IntegrationRejected, match="title"):
        await client.create_page("ENG", "  ", "body")
    assert cloud.requests == []


# --- writing --------------------------------------------------------------------------------------------------


async def test_create_page_writes_valid_storage_with_the_code_macro(cloud, runtime):
    body = "## Setup\n\nRun this & wait:\n\n```python\nprint('<ok>')  # ]]> stays code\n```\n\n- one\n- two"
    page = await client_for(cloud, runtime).create_page("ENG", "Setup notes", body, parent_id=guide_id(cloud))
    sent = cloud.seen("POST", "/content")[0].json()
    storage = sent["body"]["storage"]
    assert storage["representation"] == "storage"
    assert "<p>Run this &amp; wait:</p>" in storage["value"]
    assert (
        '<ac:structured-macro ac:name="code"><ac:parameter ac:name="language">python</ac:parameter>' in storage["value"]
    )
    assert sent["ancestors"] == [{"type": "page", "id": guide_id(cloud)}] and sent["space"] == {"key": "ENG"}
    # Confluence accepted it (the fake parses it as XHTML) and it reads back as the Markdown written.
    assert page.body_markdown == body and page.version == 1
    assert page.url == f"{cloud.url}/wiki/spaces/ENG/pages/{page.id}/Setup+notes"


async def test_creating_a_page_whose_title_exists_is_rejected(cloud, runtime):
    with pytest.raises(IntegrationRejected, match="already exists"):
        await client_for(cloud, runtime).create_page("ENG", "Deploy guide", "again")


async def test_update_page_sends_the_next_version(datacenter, runtime):
    page = await client_for(datacenter, runtime).update_page(guide_id(datacenter), "Deploy guide", "Now *simpler*.")
    put = datacenter.seen("PUT")[0].json()
    assert put["version"]["number"] == 8 and put["body"]["storage"]["value"] == "<p>Now <em>simpler</em>.</p>"
    assert (page.version, page.body_markdown) == (8, "Now *simpler*.")


async def test_an_update_that_lost_a_race_is_rejected_and_not_retried(cloud, runtime):
    cloud.conflict_next = True  # someone saves between our version read and our write
    with pytest.raises(IntegrationRejected, match="Version must be incremented"):
        await client_for(cloud, runtime).update_page(guide_id(cloud), "Deploy guide", "mine")
    assert len(cloud.seen("PUT")) == 1


# --- failures -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"), [(401, IntegrationAuthFailed), (403, IntegrationAuthFailed), (404, IntegrationNotFound)]
)
async def test_status_maps_to_the_typed_error(cloud, runtime, status, error):
    cloud.fail_next(status, body={"statusCode": status, "message": f"scripted {status}"})
    with pytest.raises(error, match=f"HTTP {status}: scripted {status}"):
        await client_for(cloud, runtime).get_page(guide_id(cloud))


async def test_reads_are_retried_through_5xx_then_succeed(cloud, runtime):
    cloud.fail_next(503, count=2)
    assert (await client_for(cloud, runtime).get_page(guide_id(cloud))).title == "Deploy guide"
    assert len(cloud.requests) == 3


async def test_a_create_that_reached_confluence_is_not_retried_on_5xx(cloud, runtime):
    cloud.fail_next(502, count=3, path="/content")
    with pytest.raises(IntegrationUnavailable, match="HTTP 502"):
        await client_for(cloud, runtime).create_page("ENG", "Fresh", "text")
    assert len(cloud.seen("POST")) == 1


async def test_an_unreachable_confluence_is_unavailable(runtime):
    info = connection("confluence", f"http://127.0.0.1:{closed_port()}", {"token": PAT}, deployment="datacenter")
    with pytest.raises(IntegrationUnavailable, match="could not be reached"):
        await ConfluenceClient(info, runtime).identity()


async def test_a_redirect_to_another_host_is_not_followed(cloud, runtime):
    with FakeConfluence("cloud") as elsewhere:
        cloud.fail_next(302, headers={"Location": f"{elsewhere.url}/wiki/rest/api/user/current"})
        with pytest.raises(IntegrationUnavailable, match="another host"):
            await client_for(cloud, runtime).identity()
        assert elsewhere.requests == []


async def test_a_long_retry_after_pauses_every_worker(cloud, runtime, redis_url):
    info = connection("confluence", cloud.url, CLOUD_CREDENTIALS)
    cloud.fail_next(429, headers={"Retry-After": "20"})
    with pytest.raises(IntegrationRateLimited) as caught:
        await ConfluenceClient(info, runtime).search('text ~ "deploy"')
    assert caught.value.retry_after > 19
    async with other_worker(redis_url) as elsewhere:
        with pytest.raises(IntegrationRateLimited):
            await ConfluenceClient(info, elsewhere).get_page(guide_id(cloud))
    assert len(cloud.requests) == 1


async def test_a_short_retry_after_is_waited_out_by_our_limiter_not_the_library(cloud, runtime):
    info = connection("confluence", cloud.url, CLOUD_CREDENTIALS)
    cloud.fail_next(429, headers={"Retry-After": "1"})
    started = time.monotonic()
    page = await ConfluenceClient(info, runtime).get_page(guide_id(cloud))
    assert page.title == "Deploy guide" and time.monotonic() - started >= 0.9
    assert len(cloud.requests) == 2
    # The 429 reached our policy (the pause every worker sees), not a sleep inside the library's thread.
    assert await runtime.limiter(info).paused_until() > 0


# --- threads, secrets -----------------------------------------------------------------------------------------


async def test_calls_run_in_the_integration_pool_and_leave_the_loop_free(cloud, runtime, monkeypatch):
    threads = record_request_threads(monkeypatch)
    cloud.delay_s = 0.3
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await client_for(cloud, runtime).search('text ~ "deploy"', limit=1)
    ticker.cancel()
    assert threads and all(name.startswith("integration") for name in threads)
    assert ticks >= 15


async def test_secrets_appear_in_no_error_and_no_log(cloud, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(cloud, runtime)
    failures = []
    for status in (401, 400, 409, 500):
        cloud.fail_next(status, count=3, body={"statusCode": status, "message": "nope"})
        try:
            await client.update_page(guide_id(cloud), "Deploy guide", "text")
        except Exception as exc:  # noqa: BLE001 - every failure is inspected below
            failures.append(exc)
    assert len(failures) == 4
    basic = base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
    for exc in failures:
        assert exc.__cause__ is None and exc.__context__ is None
        assert API_TOKEN not in str(exc) and basic not in repr(exc)
    assert API_TOKEN not in caplog.text and basic not in caplog.text
