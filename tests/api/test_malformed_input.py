"""Malformed input over HTTP gets a typed 4xx and changes nothing: ids that are not ASCII digits or do not fit
their column, NUL and lone surrogates anywhere, bytes that are not UTF-8, JSON nested without bound, non-ASCII
signatures, and names that would split a header. Each case once caused a 500."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from app.api.openapi import JSON, declaration
from app.db.models import Attachment, Session, UserQuery
from tests.api.malformed import (
    PRESIGN,
    World,
    assert_typed_error,
    client_headers,
    json_bytes,
    nasty_values,
    raw_http,
    start_world,
    stop_world,
)

BAD_ID_TEXT = ["²", "١٢", "𝟙", "1²", "9223372036854775808", "9007199254740992", "1" * 40, "0", "-1", "1.0", "0x1"]
DEEP = b"[" * 100_000 + b"]" * 100_000
BROKEN_BODIES = {
    "nested 100k deep": DEEP,
    "nested objects 100k deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "not UTF-8": b'{"query": "caf\xe9"}',
    "an encoded surrogate": b'{"query": "\xed\xa0\x80"}',
    "NUL in a key": b'{"\\u0000": 1}',
    "NUL in a value": b'{"query": "a\\u0000b"}',
    "a lone surrogate": b'{"query": "\\ud83d"}',
    "a lone low surrogate in a key": b'{"\\udc00": "x"}',
    "NaN": b'{"n": NaN}',
    "an infinite number": b'{"n": 1e999}',
    "an integer of 5000 digits": b'{"n": ' + b"9" * 5000 + b"}",
}


@pytest_asyncio.fixture
async def world(database_url, redis_url):
    world = await start_world(database_url, redis_url)
    yield world
    await stop_world(world)


def json_body_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) whose declared body is JSON: the decoder is shared, so all must refuse alike."""
    found = []
    for route in app.router.routes:
        doc = declaration(route.handler)
        if doc is not None and doc.body is not None and doc.body_media == JSON:
            found += [(method, "/" + route.path) for method in sorted(route.methods)]
    return sorted(found)


def query_routes(app) -> list[tuple[str, str]]:
    found = []
    for route in app.router.routes:
        doc = declaration(route.handler)
        if doc is not None and doc.query is not None and "<" not in route.path:
            found += [(method, "/" + route.path) for method in sorted(route.methods)]
    return sorted(found)


# --- ids ---------------------------------------------------------------------------------------------------

SESSION_ROUTES = {
    "chats": ("GET", "/end_user/v1/history/chats", {}),
    "delete": ("PUT", "/end_user/v1/history/delete-session", {"json": {}}),
    "pin": (
        "PUT",
        "/end_user/v1/history/pin-unpin-session",
        {"params": {"sessions_list_type": "PINNED", "pinned_rank": 1}},
    ),
    "cancel": ("POST", "/end_user/v2/code-gen/cancel", {"json": {}}),
    "feedback": ("POST", "/end_user/v1/feedbacks/submit", {}),
    "terminal": (
        "POST",
        "/end_user/v2/code-gen/terminal-command-edit",
        {"json": {"query": "q", "old_terminal_command": "ls"}},
    ),
    "rerank": ("POST", "/end_user/v1/chunks/rerank-via-llm", {"json": {"query": "q", "relevant_chunks": []}}),
}


@pytest.mark.parametrize("route", SESSION_ROUTES, ids=list(SESSION_ROUTES))
async def test_a_session_header_that_is_not_an_id_is_session_not_found_and_changes_nothing(world: World, route):
    method, path, kwargs = SESSION_ROUTES[route]
    extra = {"X-Query-ID": str(world.query_id), "X-Feedback": "UPVOTE"} if route == "feedback" else {}
    before = await world.state()
    for raw in BAD_ID_TEXT:
        # Sent as UTF-8 bytes: "²" passes str.isdigit() but not int(), "١٢" passes both.
        response = await world.request(method, path, headers={**extra, "X-Session-ID": raw.encode()}, **kwargs)
        assert_typed_error(response, 404, "SESSION_NOT_FOUND")
    assert await world.state() == before
    owned = await world.request(method, path, headers={**extra, **world.session_header}, **kwargs)
    assert owned.status_code < 400 or owned.status_code == 503, owned.text  # the same call with a real id works


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/end_user/v1/websearch", {"json": {"descriptive_query": "sanic"}}),
        ("POST", "/end_user/v2/code-gen/generate-enhanced-user-query", {"json": {"user_query": "make it better"}}),
        ("POST", "/end_user/v2/code-gen/generate-inline-edit", {"json": {"query": "rename x"}}),
    ],
    ids=["websearch", "enhance", "inline-edit"],
)
async def test_an_optional_session_header_that_is_not_an_id_counts_as_absent(world: World, method, path, kwargs):
    """docs/protocol.md §0: an invalid id is treated as absent, never as a 500."""
    absent = await world.request(method, path, **kwargs)
    assert absent.status_code < 500 or absent.json()["error"]["message"] == "MODEL_UNAVAILABLE", absent.text
    for raw in ("²", "9223372036854775808", "0"):
        response = await world.request(method, path, headers={"X-Session-ID": raw.encode()}, **kwargs)
        assert response.status_code == absent.status_code, response.text
        assert response.json()["is_success"] == absent.json()["is_success"]


async def test_a_query_header_that_is_not_an_id_is_not_found(world: World):
    before = await world.state()
    for raw in BAD_ID_TEXT:
        response = await world.request(
            "POST",
            "/end_user/v1/feedbacks/submit",
            headers={**world.session_header, "X-Query-ID": raw.encode(), "X-Feedback": "UPVOTE"},
        )
        assert_typed_error(response, 404, "NOT_FOUND")
    assert await world.state() == before
    assert (await UserQuery.get(id=world.query_id)).feedback is None


# True, 2.0 and the texts after it are what pydantic alone reads as integers (found by tests/api/test_fuzz.py).
NOT_INTEGERS = ["²", "١٢", "1e3", "0x1", "1" * 5000, 1.5, None, [], {}, True, 2.0, "2.0", " 2", "1_000", "+2"]
OUT_OF_RANGE = [2**53, 2**63, 2**64, 10**30, 0, -1, "9223372036854775808"]


@pytest.mark.parametrize(
    ("path", "field", "method"),
    [
        ("/end_user/v1/file-upload/get-presigned-get-url", "attachment_id", "POST"),
        ("/end_user/v1/file-upload/delete-file", "attachment_id", "POST"),
        ("/end_user/v1/urls/update_url", "id", "PUT"),
    ],
)
async def test_a_body_id_that_is_no_integer_is_invalid_and_one_out_of_range_is_not_found(
    world: World, path, field, method
):
    before = await world.state()
    for raw in NOT_INTEGERS:
        response = await world.request(method, path, content=json_bytes({field: raw, "name": "renamed"}))
        assert_typed_error(response, 422, "INVALID_REQUEST")
    code = "ATTACHMENT_NOT_FOUND" if field == "attachment_id" else "NOT_FOUND"
    for raw in [*OUT_OF_RANGE, 987654321]:  # like an id nobody owns (docs/protocol.md §0)
        response = await world.request(method, path, content=json_bytes({field: raw, "name": "renamed"}))
        assert_typed_error(response, 404, code)
    assert await world.state() == before


async def test_query_and_path_ids_that_do_not_fit_are_refused_before_the_database(world: World):
    before = await world.state()
    for raw in BAD_ID_TEXT:
        job = await world.request("GET", "/end_user/v1/code-gen/get-job-status", params={"job_id": raw})
        assert_typed_error(job, *((404, "JOB_NOT_FOUND") if len(raw) <= 32 else (422, "INVALID_REQUEST")))
        url = await world.request("GET", "/end_user/v1/urls/delete_url", params={"url_id": raw})
        integer = raw.lstrip("-").isascii() and raw.lstrip("-").isdigit()  # any size: not found, as §0 says
        assert_typed_error(url, *((404, "NOT_FOUND") if integer else (422, "INVALID_REQUEST")))
        repo = await world.request("GET", f"/v1/repositories/{raw}", client_headers=False)
        assert_typed_error(repo, 404, "NOT_FOUND")
    for raw in ("9223372036854775808", "9223372036854775807", "9007199254740992", "1" * 40):
        download = await world.service.http.get(f"/uploads/{raw}", params={"expires": "9" * 12, "signature": "x"})
        assert_typed_error(download, 404, "ATTACHMENT_NOT_FOUND")
    assert await world.state() == before
    assert await Attachment.filter(id=world.attachment_id, status="PENDING_UPLOAD").exists()


async def test_session_dragged_refuses_keys_and_ranks_that_do_not_fit_and_changes_nothing(world: World):
    path = "/end_user/v1/history/session-dragged"
    mine = str(world.session_id)
    before = await world.state()
    for body in (
        {"²": 1},
        {mine: 1, "9223372036854775808": 2},
        {mine: 1, "9007199254740992": 2},
        {mine: 1, "0": 2},
        {mine: 1, "-3": 2},
        {mine: 1, "01": 2},
        {mine: 2**31},
        {mine: -(2**31) - 1},
        {mine: 2**63},
        {mine: 1.5},
        {mine: None},
        {},
    ):
        response = await world.request("PUT", path, content=json_bytes(body))
        assert_typed_error(response, 422, "INVALID_REQUEST")
    foreign = await world.request("PUT", path, json={mine: 1, "987654321": 2})
    assert_typed_error(foreign, 404, "SESSION_NOT_FOUND")
    assert await world.state() == before
    ok = await world.request("PUT", path, json={mine: 2**31 - 1})
    assert ok.status_code == 200, ok.text
    assert (await Session.get(id=world.session_id)).pinned_rank == 2**31 - 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/end_user/v1/history/sessions", {"offset": str(2**63)}),
        ("/end_user/v1/history/sessions", {"offset": str(2**31)}),
        ("/end_user/v1/history/sessions", {"offset": "-1"}),
        ("/end_user/v1/history/sessions", {"offset": "²"}),
        ("/end_user/v1/history/sessions", {"limit": str(2**63)}),
        ("/end_user/v1/urls/saved_url/list", {"offset": str(2**63)}),
        ("/end_user/v1/urls/saved_url/list", {"limit": "1" * 5000}),
    ],
)
async def test_paging_beyond_the_column_range_is_invalid_request(world: World, path, params):
    assert_typed_error(await world.request("GET", path, params=params), 422, "INVALID_REQUEST")


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/end_user/v1/history/sessions", "offset"),
        ("/end_user/v1/history/sessions", "limit"),
        ("/end_user/v1/urls/saved_url/list", "offset"),
        ("/v1/search", "top_k"),
    ],
)
async def test_a_query_integer_is_written_in_digits_or_refused(world: World, path, name):
    """Found by tests/api/test_fuzz.py: `offset=0.0` listed the first page as if it said 0."""
    params = {"q": "parser"} if path == "/v1/search" else {}
    for raw in ("0.0", "1.0", "1_0", " 1", "+1", "1e1", "true", "٣"):
        response = await world.request("GET", path, params={**params, name: raw})
        assert_typed_error(response, 422, "INVALID_REQUEST")
    assert (await world.request("GET", path, params={**params, name: "1"})).status_code == 200


async def test_json_booleans_and_numbers_are_taken_only_as_json_types_them(world: World):
    """Found by tests/api/test_fuzz.py: `{"enable_grace_period": 0}` or `{"file_size": "10"}`-like coercions
    were accepted silently; a JSON boolean is true or false, a JSON number no string (ids in digits aside)."""
    before = await world.state()
    for method, path, body in (
        ("POST", "/end_user/v1/auth/verify-auth-token", {"enable_grace_period": 0}),
        ("POST", "/end_user/v1/auth/verify-auth-token", {"use_grace_period": "true"}),
        ("POST", "/end_user/v1/code-gen/create-embedding", {"texts": ["x"], "store_embeddings": 1}),
        ("POST", "/end_user/v2/code-gen/generate-inline-edit", {"query": "rename x", "search_web": 0}),
        ("POST", "/v1/repositories", {"name": "r", "git_url": "https://example.com/r.git", "force": "yes"}),
        ("POST", PRESIGN, {"file_name": "a.png", "file_size": 10.0, "file_type": "image/png", "folder": "image"}),
        ("POST", PRESIGN, {"file_name": "a.png", "file_size": True, "file_type": "image/png", "folder": "image"}),
        ("POST", "/end_user/v1/file-upload/delete-file", {"attachment_id": True}),  # would have been id 1
        ("PUT", "/end_user/v1/urls/update_url", {"id": float(1), "name": "renamed"}),
    ):
        response = await world.request(method, path, content=json_bytes(body))
        assert_typed_error(response, 422, "INVALID_REQUEST")
    assert await world.state() == before
    assert await Attachment.filter(id=world.attachment_id, status="PENDING_UPLOAD").exists()
    as_digits = await world.request("POST", "/end_user/v1/file-upload/delete-file", json={"attachment_id": "987654"})
    assert_typed_error(as_digits, 404, "ATTACHMENT_NOT_FOUND")  # an id in digits is still an id


async def test_a_request_line_beyond_the_header_limit_is_a_typed_413(world: World):
    """Found by tests/api/test_fuzz.py: the answer was undocumented and said the body was too large."""
    response = await world.request("GET", "/end_user/v1/history/sessions", params={"session_type": "x" * 20_000})
    assert_typed_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert "header" in response.json()["error"]["errors"][0]["message"].lower()


async def test_a_pinned_rank_beyond_its_range_is_invalid_request_and_pins_nothing(world: World):
    for rank in (str(2**63), str(2**31), "²", "1e3"):
        response = await world.request(
            "PUT",
            "/end_user/v1/history/pin-unpin-session",
            headers=world.session_header,
            params={"sessions_list_type": "PINNED", "pinned_rank": rank},
        )
        assert_typed_error(response, 422, "INVALID_REQUEST")
    assert (await Session.get(id=world.session_id)).pinned_rank is None


# --- bodies: one decoder for every JSON route ---------------------------------------------------------------


async def test_every_json_route_refuses_broken_bodies_with_invalid_request_and_changes_nothing(world: World):
    routes = json_body_routes(world.service.app)
    assert ("PUT", "/end_user/v1/history/session-dragged") in routes and len(routes) >= 15, routes
    before = await world.state()
    failures = []
    for method, path in routes:
        for label, body in BROKEN_BODIES.items():
            response = await world.request(method, path, content=body, headers=world.session_header)
            if response.status_code != 422 or response.json()["error"]["message"] != "INVALID_REQUEST":
                failures.append((method, path, label, response.status_code, response.text[:200]))
    assert failures == []
    assert await world.state() == before


async def test_text_fields_with_nul_or_lone_surrogates_are_refused_in_bodies(world: World):
    before = await world.state()
    for text in ("a\x00b", "\ud800", "tail \udfff"):
        for method, path, body in (
            ("POST", PRESIGN, {"file_name": text, "file_size": 10, "file_type": "image/png", "folder": "image"}),
            ("POST", "/end_user/v1/urls/save_url", {"name": text, "url": "https://example.com/"}),
            ("POST", "/end_user/v1/websearch", {"descriptive_query": text}),
            ("POST", "/v1/query-solver/stream", {"query": text}),
            ("POST", "/v1/repositories", {"name": "r", "path": text}),
            (
                "POST",
                "/end_user/v1/extension_settings/update_extension_settings",
                {"terminal_settings": {"enable_yolo_mode": False, "command_deny_list": [text]}},
            ),
        ):
            response = await world.request(method, path, content=json_bytes(body), headers=world.session_header)
            assert_typed_error(response, 422, "INVALID_REQUEST")
            assert "NUL" in response.text, response.text
    assert await world.state() == before


async def test_query_strings_with_nul_are_refused_on_every_route_that_reads_one(world: World):
    routes = query_routes(world.service.app)
    assert ("GET", "/end_user/v1/history/sessions") in routes, routes
    before = await world.state()
    for method, path in routes:
        for query in ("session_type=a%00b", "q=%00", "x%00=1"):
            response = await world.request(method, f"{path}?{query}", headers=world.session_header)
            assert_typed_error(response, 422, "INVALID_REQUEST")
    assert await world.state() == before


# --- headers ------------------------------------------------------------------------------------------------


async def test_headers_with_nul_or_bytes_that_are_not_utf8_are_invalid_request(world: World):
    before = await world.state()
    inline_edit = b'{"query": "rename x"}'
    for name, value in (
        (b"X-Session-Type", b"VSCODE\x00EXT"),  # stored on the session this request would create
        (b"X-Session-Type", b"VSCODE_\xff_EXT"),
        (b"X-Session-Type", b"T" * 65),
        (b"X-Session-ID", b"1\x00"),
        (b"X-Anything", b"\xed\xa0\x80"),
    ):
        status, body = await raw_http(
            world.service.base_url,
            "POST",
            "/end_user/v2/code-gen/generate-inline-edit",
            [*client_headers(world.token), (name, value), (b"Content-Type", b"application/json")],
            inline_edit,
        )
        assert (status, body["error"]["message"]) == (422, "INVALID_REQUEST"), (name, value, body)
    assert await world.state() == before


# --- uploads ------------------------------------------------------------------------------------------------


async def upload_form(world: World, file_name: str, content: bytes) -> dict:
    grant = await world.request(
        "POST",
        PRESIGN,
        json={"file_name": file_name, "file_size": len(content), "file_type": "image/png", "folder": "image"},
    )
    assert grant.status_code == 200, grant.text
    return grant.json()["data"]


def on_service(url: str) -> str:
    """A signed URL's path and query: the URLs name the configured public base, the test server has its own."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def test_a_non_ascii_upload_signature_is_not_verified_and_stores_nothing(world: World):
    data = await upload_form(world, "a.png", b"\x89PNG....")
    fields = dict(data["upload_url"]["fields"])
    before = await world.state()
    for signature in ("é" * 64, "ü", "\u2603" + fields["signature"][1:]):
        posted = await world.service.http.post(
            on_service(data["upload_url"]["url"]),
            data={**fields, "signature": signature},
            files={"file": ("a.png", b"\x89PNG....", "image/png")},
        )
        assert_typed_error(posted, 400, "NOT_VERIFIED")
    broken_form = await world.service.http.post(
        "/uploads",
        content=b'--b\r\nContent-Disposition: form-data; name="signature"\r\n\r\n\xff\xfe\r\n--b--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert_typed_error(broken_form, 422, "INVALID_REQUEST")
    assert await world.state() == before
    download = await world.service.http.get(
        urlsplit(data["download_url"]).path, params={"expires": "9999999999", "signature": "é"}
    )
    assert_typed_error(download, 404, "ATTACHMENT_NOT_FOUND")


@pytest.mark.parametrize(
    ("file_name", "fallback", "encoded"),
    [
        (
            'x.png"\r\nX-Injected: yes\r\n\r\n<script>',
            "x.png___X-Injected: yes____<script>",
            "x.png%22%0D%0AX-Injected%3A%20yes%0D%0A%0D%0A%3Cscript%3E",
        ),
        ('résumé \\ "q".png', "r_sum_ _ _q_.png", "r%C3%A9sum%C3%A9%20%5C%20%22q%22.png"),
        ("plain.png", "plain.png", "plain.png"),
    ],
    ids=["header-split", "non-ascii-quotes", "plain"],
)
async def test_downloads_escape_the_client_chosen_name_and_are_never_sniffed(
    world: World, file_name, fallback, encoded
):
    content = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script>"
    data = await upload_form(world, file_name, content)
    posted = await world.service.http.post(
        on_service(data["upload_url"]["url"]),
        data=data["upload_url"]["fields"],
        files={"file": ("f.png", content, "image/png")},
    )
    assert posted.status_code == 204, posted.text
    download = await world.service.http.get(on_service(data["download_url"]))
    assert download.status_code == 200 and download.content == content
    assert "x-injected" not in download.headers
    assert download.headers["content-disposition"] == f"inline; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-type"] == "image/png"


# --- a deterministic property check over every JSON route ---------------------------------------------------


def mutations(body: dict) -> list[tuple[str, ...]]:
    """Paths to every scalar of `body`, so each field gets its turn."""
    paths: list[tuple[str, ...]] = []
    for key, value in body.items():
        if isinstance(value, dict):
            paths += [(key, *rest) for rest in mutations(value)]
        else:
            paths.append((key,))
    return paths


def replaced(body: dict, path: tuple[str, ...], value) -> dict:
    copy = dict(body)
    if len(path) == 1:
        copy[path[0]] = value
    else:
        copy[path[0]] = replaced(copy[path[0]], path[1:], value)
    return copy


# Valid bodies whose every field is then replaced by nasty values, one at a time. Routes that would call a
# model or compute embeddings on success are given bodies that fail before (no model is configured).
VALID_BODIES = {
    ("POST", "/end_user/v1/auth/verify-auth-token"): {"enable_grace_period": False},
    ("POST", PRESIGN): {"file_name": "n.png", "file_size": 10, "file_type": "image/png", "folder": "image"},
    ("POST", "/end_user/v1/file-upload/get-presigned-get-url"): {"attachment_id": 1},
    ("POST", "/end_user/v1/file-upload/delete-file"): {"attachment_id": 1},
    ("POST", "/end_user/v1/urls/save_url"): {"name": "n", "url": "https://example.com/", "last_indexed": None},
    ("PUT", "/end_user/v1/urls/update_url"): {"id": 1, "name": "n", "url": "https://example.com/"},
    ("POST", "/end_user/v1/websearch"): {"descriptive_query": "q"},
    ("POST", "/end_user/v2/code-gen/terminal-command-edit"): {
        "query": "q",
        "old_terminal_command": "ls",
        "shell": "sh",
    },
    ("POST", "/end_user/v1/chunks/rerank-via-llm"): {
        "query": "q",
        "relevant_chunks": [{"content": "c", "source_details": {"file_path": "a.py", "start_line": 1, "end_line": 2}}],
    },
    ("POST", "/v1/repositories"): {"name": "r", "path": "/nowhere"},
    ("POST", "/v1/query-solver/stream"): {"query": "q", "session_id": 1, "llm_model": "m", "session_type": "S"},
    ("POST", "/end_user/v1/extension_settings/update_extension_settings"): {
        "terminal_settings": {"enable_yolo_mode": False}
    },
}


async def test_nasty_values_in_any_field_get_a_typed_answer_never_a_5xx(world: World):
    cases = 0
    failures = []
    state = await world.state()
    for index, ((method, path), body) in enumerate(VALID_BODIES.items()):
        for field in mutations(body):
            for value in nasty_values(seed=index * 100 + len(field), count=24):
                response = await world.request(
                    method, path, content=json_bytes(replaced(body, field, value)), headers=world.session_header
                )
                cases += 1
                where = (path, field, repr(value)[:40])
                if response.status_code >= 400:
                    answer = response.json()
                    if answer.get("is_success") is not False or answer.get("status_code") != response.status_code:
                        failures.append((*where, "untyped", response.text[:160]))
                    elif response.status_code >= 500 and answer["error"]["message"] != "MODEL_UNAVAILABLE":
                        failures.append((*where, response.status_code, response.text[:160]))
                    elif await world.state() != state:
                        failures.append((*where, "changed the database"))
                state = await world.state()  # a success may write; the next case starts from there
    assert failures == [], failures[:10]
    assert cases > 500
