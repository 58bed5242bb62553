"""The Jira client (the `jira` package in the integration pool) against a loopback Jira, Cloud and Data Center."""

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
from app.integrations.jira import JiraClient
from tests.fakes.jira_server import API_TOKEN, EMAIL, PAT, FakeIssue, FakeJira, adf
from tests.integrations.atlassian_support import closed_port, other_worker, record_request_threads
from tests.integrations.conftest import connection

CLOUD_CREDENTIALS = {"email": EMAIL, "api_token": API_TOKEN}
DC_CREDENTIALS = {"token": PAT}

DESCRIPTION_ADF = {
    "type": "doc",
    "version": 1,
    "content": [
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "SSO logins fail when "},
                {"type": "text", "text": "redirect_uri", "marks": [{"type": "code"}]},
                {"type": "text", "text": " ends with a slash. See "},
                {
                    "type": "text",
                    "text": "RFC 6749",
                    "marks": [{"type": "link", "attrs": {"href": "https://www.rfc-editor.org/rfc/rfc6749"}}],
                },
                {"type": "text", "text": "."},
            ],
        },
        {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "Acceptance criteria"}]},
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "A trailing slash is ignored"}]}
                    ],
                },
                {
                    "type": "listItem",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "A regression test covers it"}]}
                    ],
                },
            ],
        },
        {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "Notes"}]},
        {
            "type": "codeBlock",
            "attrs": {"language": "python"},
            "content": [{"type": "text", "text": "uri.rstrip('/')"}],
        },
    ],
}
DESCRIPTION_WIKI = """SSO logins fail when {{redirect_uri}} ends with a slash.

h3. Notes
{code:python}
uri.rstrip('/')
{code}"""


def links(fake: FakeJira) -> list[dict]:
    return [
        {
            "id": "10100",
            "self": f"{fake.url}/rest/api/{fake.version}/issueLink/10100",
            "type": {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
            "outwardIssue": {
                "id": "10002",
                "key": "ENG-2",
                "fields": {"summary": "Release 4.2", "status": {"name": "To Do"}},
            },
        },
        {
            "id": "10101",
            "type": {"id": "10003", "name": "Relates", "inward": "relates to", "outward": "relates to"},
            "inwardIssue": {"id": "10077", "key": "OPS-7", "fields": {"summary": "IdP upgrade"}},
        },
    ]


def seeded(deployment: str) -> FakeJira:
    fake = FakeJira(deployment).start()
    cloud = deployment == "cloud"
    fake.add_issue(
        FakeIssue(
            "ENG-1",
            "SSO login fails with a trailing slash",
            status="In Progress",
            labels=["sso", "backend"],
            description=DESCRIPTION_ADF if cloud else DESCRIPTION_WIKI,
            comments=[
                fake.comment(
                    adf(f"comment {n}") if cloud else f"comment *{n}*", created=f"2024-05-0{n}T09:00:00.000+0000"
                )
                for n in (1, 2, 3)
            ],
            links=links(fake),
            custom={"customfield_10100": "* Works for Okta\n* Works for Azure AD"},
        )
    )
    for n in range(2, 6):
        fake.add_issue(FakeIssue(f"ENG-{n}", f"Follow-up {n}", description=adf("x") if cloud else "x"))
    fake.add_issue(FakeIssue("OPS-7", "IdP upgrade"))
    return fake


@pytest.fixture
def cloud():
    fake = seeded("cloud")
    yield fake
    fake.stop()


@pytest.fixture
def datacenter():
    fake = seeded("datacenter")
    yield fake
    fake.stop()


def client_for(fake: FakeJira, runtime, *, connection_info=None, **options) -> JiraClient:
    credentials = CLOUD_CREDENTIALS if fake.deployment == "cloud" else DC_CREDENTIALS
    info = connection_info or connection("jira", fake.url, credentials, **options)
    return JiraClient(info, runtime)


# --- identity -------------------------------------------------------------------------------------------------


async def test_cloud_identity_is_the_account_and_its_granted_permissions_over_rest_v3(cloud, runtime):
    client = client_for(cloud, runtime)  # no deployment option: email + API token say Cloud
    identity = await client.identity()
    assert identity.login == "5b10ac8d82e05b22cc7d4ef5" and identity.name == "Jira Bot"
    assert identity.scopes == ["ADD_COMMENTS", "BROWSE_PROJECTS", "CREATE_ISSUES"]  # only what is granted
    assert "Cloud" in (identity.detail or "")
    assert [r.path for r in cloud.requests] == ["/rest/api/3/myself", "/rest/api/3/mypermissions"]  # no serverInfo
    expected = "Basic " + base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
    assert all(r.headers["authorization"] == expected for r in cloud.requests)
    assert cloud.requests[1].param("permissions").split(",")[:2] == ["BROWSE_PROJECTS", "CREATE_ISSUES"]
    await client.aclose()


async def test_datacenter_identity_uses_the_token_as_bearer_over_rest_v2(datacenter, runtime):
    client = client_for(datacenter, runtime, deployment="datacenter")
    identity = await client.identity()
    assert identity.login == "jbot" and "Data Center" in (identity.detail or "")
    assert [r.path for r in datacenter.requests] == ["/rest/api/2/myself", "/rest/api/2/mypermissions"]
    assert all(r.headers["authorization"] == f"Bearer {PAT}" for r in datacenter.requests)


# --- issues ---------------------------------------------------------------------------------------------------


async def test_cloud_issue_reads_adf_comments_links_and_acceptance_criteria(cloud, runtime):
    issue = await client_for(cloud, runtime).get_issue("eng-1", max_comments=2)
    assert issue.key == "ENG-1" and issue.url == f"{cloud.url}/browse/ENG-1"
    assert (issue.status, issue.issue_type, issue.priority) == ("In Progress", "Story", "Medium")
    assert (issue.assignee, issue.reporter, issue.labels) == ("Ada Lovelace", "Grace Hopper", ["sso", "backend"])
    assert issue.description.startswith(
        "SSO logins fail when `redirect_uri` ends with a slash. See [RFC 6749](https://www.rfc-editor.org/rfc/rfc6749)."
    )
    assert "```python\nuri.rstrip('/')\n```" in issue.description
    assert issue.acceptance_criteria == ["A trailing slash is ignored", "A regression test covers it"]
    assert [c.body for c in issue.comments] == ["comment 2", "comment 3"]  # the latest, oldest first
    assert issue.comments[0].author == "Grace Hopper" and issue.comments[0].created_at.day == 2
    assert [(link.relation, link.key, link.title) for link in issue.links] == [
        ("blocks", "ENG-2", "Release 4.2"),
        ("relates to", "OPS-7", "IdP upgrade"),
    ]
    assert issue.links[0].url == f"{cloud.url}/browse/ENG-2"
    assert issue.updated_at is not None and issue.updated_at.utcoffset().total_seconds() == 7200
    asked = cloud.seen("GET", "/issue/ENG-1")[0].param("fields").split(",")
    assert {"description", "comment", "issuelinks"} <= set(asked)


async def test_datacenter_issue_reads_wiki_markup_and_criteria_from_the_configured_field(datacenter, runtime):
    client = client_for(datacenter, runtime, deployment="datacenter", acceptance_criteria_field="customfield_10100")
    issue = await client.get_issue("ENG-1")
    assert issue.description == (
        "SSO logins fail when `redirect_uri` ends with a slash.\n\n### Notes\n\n```python\nuri.rstrip('/')\n```"
    )
    assert issue.acceptance_criteria == ["Works for Okta", "Works for Azure AD"]
    assert [c.body for c in issue.comments] == ["comment **1**", "comment **2**", "comment **3**"]
    assert "customfield_10100" in datacenter.seen("GET", "/rest/api/2/issue/ENG-1")[0].param("fields").split(",")


async def test_a_key_that_is_not_an_issue_key_is_refused_before_any_request(cloud, runtime):
    client = client_for(cloud, runtime)
    for key in ("../myself", "ENG-1/comment", "", "ENG"):
        with pytest.raises(IntegrationRejected, match="not an issue key"):
            await client.get_issue(key)
    assert cloud.requests == []


async def test_unknown_issue_is_not_found_with_jiras_message(cloud, runtime):
    with pytest.raises(IntegrationNotFound, match="Issue does not exist"):
        await client_for(cloud, runtime).get_issue("ENG-999")


# --- search ---------------------------------------------------------------------------------------------------


async def test_cloud_search_pages_with_next_page_token(cloud, runtime):
    client = client_for(cloud, runtime)
    keys, cursors, cursor = [], [], None
    while True:
        page = await client.search("project = ENG", limit=2, cursor=cursor)
        assert page.total is None  # the enhanced search counts nothing
        keys += [issue.key for issue in page.issues]
        cursor = page.next_cursor
        cursors.append(cursor)
        if cursor is None:
            break
    assert keys == ["ENG-1", "ENG-2", "ENG-3", "ENG-4", "ENG-5"]
    assert len(cursors) == 3 and cursors[-1] is None
    seen = cloud.seen("GET", "/search")
    assert [r.path for r in seen] == ["/rest/api/3/search/jql"] * 3  # never the removed offset search
    assert [r.param("nextPageToken") for r in seen] == [None, cursors[0], cursors[1]]
    assert all(r.param("maxResults") == "2" for r in seen)
    assert "comment" not in seen[0].param("fields").split(",")  # search results stay light


async def test_datacenter_search_pages_with_start_at_and_reports_the_total(datacenter, runtime):
    client = client_for(datacenter, runtime, deployment="datacenter")
    first = await client.search("project = ENG ORDER BY key ASC", limit=3)
    second = await client.search("project = ENG ORDER BY key ASC", limit=3, cursor=first.next_cursor)
    assert [i.key for i in first.issues] == ["ENG-1", "ENG-2", "ENG-3"] and first.total == 5
    assert [i.key for i in second.issues] == ["ENG-4", "ENG-5"] and second.next_cursor is None
    assert [r.param("startAt") for r in datacenter.seen("GET", "/rest/api/2/search")] == ["0", "3"]
    assert first.issues[0].acceptance_criteria == []  # search results carry no comments, criteria from text only


async def test_bad_jql_is_rejected_with_jiras_error_message(cloud, runtime):
    with pytest.raises(IntegrationRejected) as caught:
        await client_for(cloud, runtime).search("assignee_typo = bob")
    assert "Field 'assignee_typo' does not exist" in str(caught.value)
    assert len(cloud.requests) == 1  # a 400 is not retried


async def test_a_cursor_that_no_search_returned_is_refused(datacenter, runtime):
    client = client_for(datacenter, runtime, deployment="datacenter")
    with pytest.raises(IntegrationRejected, match="cursor"):
        await client.search("project = ENG", cursor="1; DROP")
    assert datacenter.requests == []


# --- writing --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
async def test_create_issue_sends_the_description_in_the_deployments_format(deployment, runtime):
    fake = seeded(deployment)
    try:
        client = client_for(fake, runtime, deployment=deployment)
        issue = await client.create_issue(
            "eng", "Docs: explain  SSO\nsetup", "Steps:\n\n1. open **Admin**\n2. run `sso init`", "Bug", ["docs"]
        )
        assert issue.key == "ENG-6" and issue.url == f"{fake.url}/browse/ENG-6"
        assert (issue.title, issue.issue_type, issue.labels) == ("Docs: explain SSO setup", "Bug", ["docs"])
        assert issue.description == "Steps:\n\n1. open **Admin**\n2. run `sso init`"  # read back from Jira
        sent = fake.seen("POST", "/issue$")[0].json()["fields"]
        assert sent["project"] == {"key": "ENG"} and sent["issuetype"] == {"name": "Bug"}
        if deployment == "cloud":
            assert sent["description"]["type"] == "doc"
            assert sent["description"]["content"][1]["type"] == "orderedList"
        else:
            assert sent["description"] == "Steps:\n\n# open *Admin*\n# run {{sso init}}"
        assert len(fake.seen("POST")) == 1
    finally:
        fake.stop()


async def test_create_issue_refuses_bad_input_before_calling_jira(cloud, runtime):
    client = client_for(cloud, runtime)
    with pytest.raises(IntegrationRejected, match="project key"):
        await client.create_issue("not a key", "x")
    with pytest.raises(IntegrationRejected, match="summary"):
        await client.create_issue("ENG", "   ")
    with pytest.raises(IntegrationRejected, match="labels"):
        await client.create_issue("ENG", "x", labels=["two words"])
    assert cloud.requests == []


async def test_create_issue_reports_jiras_field_errors(cloud, runtime):
    with pytest.raises(IntegrationRejected, match="issuetype: Specify a valid issue type"):
        await client_for(cloud, runtime).create_issue("ENG", "x", issue_type="Epicish")


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
async def test_comment_is_posted_in_the_deployments_format_and_links_to_itself(deployment, runtime):
    fake = seeded(deployment)
    try:
        comment = await client_for(fake, runtime, deployment=deployment).comment("ENG-1", "Fixed in **4.2**.")
        body = fake.seen("POST", "/comment")[0].json()["body"]
        if deployment == "cloud":
            assert body["content"][0]["content"][1] == {"type": "text", "text": "4.2", "marks": [{"type": "strong"}]}
        else:
            assert body == "Fixed in *4.2*."
        assert comment.body == "Fixed in **4.2**." and comment.author == "Jira Bot"
        assert comment.url == f"{fake.url}/browse/ENG-1?focusedCommentId={comment.id}"
    finally:
        fake.stop()


async def test_transition_finds_the_transition_by_its_target_status(cloud, runtime):
    reached = await client_for(cloud, runtime).transition("ENG-1", "in review")
    assert reached == "In Review" and cloud.issues["ENG-1"].status == "In Review"
    assert cloud.seen("POST", "/transitions")[0].json()["transition"] == {"id": 11}


async def test_transition_to_an_unreachable_status_names_the_reachable_ones(cloud, runtime):
    with pytest.raises(IntegrationRejected) as caught:
        await client_for(cloud, runtime).transition("ENG-1", "Done")
    assert "In Review, To Do" in str(caught.value)
    assert cloud.seen("POST") == [] and cloud.issues["ENG-1"].status == "In Progress"


# --- failures -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"), [(401, IntegrationAuthFailed), (403, IntegrationAuthFailed), (404, IntegrationNotFound)]
)
async def test_status_maps_to_the_typed_error(cloud, runtime, status, error):
    cloud.fail_next(status, body={"errorMessages": [f"scripted {status}"], "errors": {}})
    with pytest.raises(error, match=f"HTTP {status}: scripted {status}"):
        await client_for(cloud, runtime).identity()
    assert len(cloud.requests) == 1


async def test_wrong_credentials_are_an_auth_failure_that_names_no_secret(cloud, runtime):
    info = connection("jira", cloud.url, {"email": EMAIL, "api_token": "wrong-token-123"})
    with pytest.raises(IntegrationAuthFailed) as caught:
        await client_for(cloud, runtime, connection_info=info).get_issue("ENG-1")
    assert "wrong-token-123" not in str(caught.value) and EMAIL not in str(caught.value)


async def test_reads_are_retried_through_5xx_then_succeed(cloud, runtime):
    cloud.fail_next(503, count=2, path="/issue/")
    issue = await client_for(cloud, runtime).get_issue("ENG-1")
    assert issue.key == "ENG-1"
    assert len(cloud.seen("GET", "/issue/ENG-1")) == 3  # our two retries; the library's own are off


async def test_a_read_failing_past_the_retries_is_unavailable(cloud, runtime):
    cloud.fail_next(502, count=10)
    with pytest.raises(IntegrationUnavailable, match="HTTP 502"):
        await client_for(cloud, runtime).get_issue("ENG-1")
    assert len(cloud.requests) == 3


async def test_a_post_that_reached_jira_is_not_retried_on_5xx(cloud, runtime):
    cloud.fail_next(502, count=3, path="/comment")
    with pytest.raises(IntegrationUnavailable):
        await client_for(cloud, runtime).comment("ENG-1", "hello")
    assert len(cloud.seen("POST")) == 1 and len(cloud.issues["ENG-1"].comments) == 3


async def test_an_unreachable_jira_is_unavailable(runtime):
    info = connection("jira", f"http://127.0.0.1:{closed_port()}", CLOUD_CREDENTIALS)
    with pytest.raises(IntegrationUnavailable, match="could not be reached"):
        await JiraClient(info, runtime).identity()


async def test_a_redirect_to_another_host_is_not_followed(cloud, runtime):
    with FakeJira("cloud") as elsewhere:
        cloud.fail_next(302, headers={"Location": f"{elsewhere.url}/rest/api/3/myself"})
        with pytest.raises(IntegrationUnavailable, match="another host"):
            await client_for(cloud, runtime).identity()
        assert elsewhere.requests == []


async def test_a_redirect_within_jira_is_followed(cloud, runtime):
    cloud.fail_next(301, headers={"Location": "/rest/api/3/issue/ENG-1"}, path="/issue/OLD-1")
    issue = await client_for(cloud, runtime).get_issue("OLD-1")
    assert issue.key == "ENG-1"


# --- rate limits ----------------------------------------------------------------------------------------------


async def test_a_short_retry_after_is_waited_out_and_the_call_retried(cloud, runtime):
    info = connection("jira", cloud.url, CLOUD_CREDENTIALS)
    cloud.fail_next(429, headers={"Retry-After": "1"}, body={"errorMessages": ["Rate limit exceeded."]})
    started = time.monotonic()
    issue = await JiraClient(info, runtime).get_issue("ENG-1")
    assert issue.key == "ENG-1" and time.monotonic() - started >= 0.9
    assert len(cloud.requests) == 2
    # Our limiter waited (a pause every worker sees), not the library sleeping in a pool thread.
    assert await runtime.limiter(info).paused_until() > 0


async def test_the_pause_is_shared_through_redis_with_other_workers(cloud, runtime, redis_url):
    info = connection("jira", cloud.url, CLOUD_CREDENTIALS)
    cloud.fail_next(429, headers={"Retry-After": "1"})
    first = asyncio.create_task(JiraClient(info, runtime).get_issue("ENG-1"))
    while not await runtime.limiter(info).paused_until():  # noqa: ASYNC110 - the pause lands in Redis
        await asyncio.sleep(0.01)
    async with other_worker(redis_url) as elsewhere:
        started = time.monotonic()
        await JiraClient(info, elsewhere).get_issue("ENG-2")  # its own limiter, the same Redis key
        assert time.monotonic() - started >= 0.8
    await first


async def test_a_long_retry_after_fails_fast_here_and_in_other_workers(cloud, runtime, redis_url):
    info = connection("jira", cloud.url, CLOUD_CREDENTIALS)
    cloud.fail_next(429, headers={"Retry-After": "30"})
    with pytest.raises(IntegrationRateLimited) as caught:
        await JiraClient(info, runtime).get_issue("ENG-1")
    assert 29 <= caught.value.retry_after <= 30
    async with other_worker(redis_url) as elsewhere:
        started = time.monotonic()
        with pytest.raises(IntegrationRateLimited):
            await JiraClient(info, elsewhere).search("project = ENG")
        assert time.monotonic() - started < 0.5
    assert len(cloud.requests) == 1  # the second worker never called Jira


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
    await client_for(cloud, runtime).get_issue("ENG-1")
    ticker.cancel()
    assert threads and all(name.startswith("integration") for name in threads)
    assert ticks >= 15  # the loop kept running while Jira took 0.3 s


async def test_secrets_appear_in_no_error_and_no_log(cloud, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(cloud, runtime)
    failures = []
    for status in (401, 400, 500):
        cloud.fail_next(status, count=3, body={"errorMessages": ["nope"], "errors": {}})
        try:
            await client.get_issue("ENG-1")
        except Exception as exc:  # noqa: BLE001 - every failure is inspected below
            failures.append(exc)
    info = connection("jira", f"http://127.0.0.1:{closed_port()}", CLOUD_CREDENTIALS)
    try:
        await JiraClient(info, runtime).identity()
    except Exception as exc:  # noqa: BLE001
        failures.append(exc)
    assert len(failures) == 4
    basic = base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
    for exc in failures:
        assert exc.__cause__ is None and exc.__context__ is None  # not even the library's exception behind it
        for text in (str(exc), repr(exc)):
            assert API_TOKEN not in text and basic not in text
    assert API_TOKEN not in caplog.text and basic not in caplog.text
