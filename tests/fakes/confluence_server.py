"""A loopback Confluence speaking the REST API v1 in its JSON shapes, as Cloud (under `/wiki`, Basic auth with
email + API token) or Data Center (under a context path, Bearer personal access token).

Content carries `body.storage.value` only when `expand` asks for it, `version.number`/`when`, `space`, and
`_links.webui`/`base`; CQL search answers `results[].content` with an `excerpt` (Cloud's `@@@hl@@@`
highlight markers included) and pages by `_links.next` (a `cursor` on Cloud). Creating and updating check
what Confluence checks: a storage body that parses as XHTML, a unique title per space, and on update the
next version number (else 409). Faults are scripted with `fail_next`; `delay_s` slows every answer.
"""

from __future__ import annotations

import base64
import itertools
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

from tests.fakes.http_fake import Answer, FakeRequest, FakeService

EMAIL = "writer@acme.test"
API_TOKEN = "conf-api-token-s3cr3t"
PAT = "conf-pat-s3cr3t"
NAMESPACES = 'xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier"'


@dataclass
class FakePage:
    id: str
    space: str
    title: str
    storage: str
    version: int = 1
    parent: str | None = None
    when: str = "2024-05-01T10:00:00.000Z"


class FakeConfluence(FakeService):
    def __init__(
        self, deployment: str = "cloud", *, context: str | None = None, email: str = EMAIL, api_token: str = API_TOKEN
    ) -> None:
        self.deployment = deployment
        self.context = ("/wiki" if deployment == "cloud" else "") if context is None else context
        self.email = email
        self.api_token = api_token
        self.pat = PAT
        self.delay_s = 0.0
        self.max_page = 25  # Confluence caps a search page whatever `limit` asks
        self.pages: dict[str, FakePage] = {}
        self.spaces = {"ENG": "Engineering", "OPS": "Operations"}
        self.anonymous = False
        self.conflict_next = False  # someone else saves between our read of the version and our update
        self._ids = itertools.count(65_001)
        super().__init__()

    @property
    def base(self) -> str:
        return self.url + self.context

    def add_page(
        self, space: str, title: str, storage: str, *, parent: str | None = None, version: int = 1
    ) -> FakePage:
        page = FakePage(str(next(self._ids)), space, title, storage, version=version, parent=parent)
        self.pages[page.id] = page
        return page

    def routes(self) -> None:
        api = re.escape(self.context) + "/rest/api"
        self.route("GET", f"{api}/user/current", self._current_user)
        self.route("GET", f"{api}/content/(?P<id>\\d+)", self._get)
        self.route("GET", f"{api}/content/(?P<id>\\d+)/history", self._history)
        self.route("GET", f"{api}/content/(?P<id>\\d+)/child/page", self._children)
        self.route("GET", f"{api}/content/?", self._by_title)
        self.route("POST", f"{api}/content/?", self._create)
        self.route("PUT", f"{api}/content/(?P<id>\\d+)", self._update)
        self.route("GET", f"{api}/search", self._search)

    def before(self, request: FakeRequest) -> Answer | None:
        if self.delay_s:
            time.sleep(self.delay_s)
        header = request.headers.get("authorization", "")
        ok = False
        if header.startswith("Basic "):
            user, _, secret = base64.b64decode(header[6:]).decode(errors="replace").partition(":")
            ok = user == self.email and secret == self.api_token
        elif header.startswith("Bearer "):
            ok = self.deployment != "cloud" and header[7:] == self.pat
        if not ok:
            return 401, {"statusCode": 401, "message": "Current user not permitted to use Confluence"}, {}
        return None

    def unmatched(self, request: FakeRequest) -> Answer:
        return 404, {"statusCode": 404, "message": f"No resource at {request.path}", "reason": "Not Found"}, {}

    # --- shapes -------------------------------------------------------------------------------------------------

    def webui(self, page: FakePage) -> str:
        if self.deployment == "cloud":
            return f"/spaces/{page.space}/pages/{page.id}/{quote_plus(page.title)}"
        return f"/display/{page.space}/{quote_plus(page.title)}"

    def content(self, page: FakePage, expand: str) -> dict[str, Any]:
        wanted = set(filter(None, expand.split(",")))
        body: dict[str, Any] = {
            "id": page.id,
            "type": "page",
            "status": "current",
            "title": page.title,
            "_links": {
                "webui": self.webui(page),
                "edit": f"/pages/resumedraft.action?draftId={page.id}",
                "tinyui": "/x/ewA",
                "self": f"{self.base}/rest/api/content/{page.id}",
            },
            "_expandable": {
                "container": f"/rest/api/space/{page.space}",
                "children": f"/rest/api/content/{page.id}/child",
            },
        }
        if {"space", "content.space"} & wanted:
            body["space"] = {"id": 98305, "key": page.space, "name": self.spaces[page.space], "type": "global"}
        if {"version", "content.version"} & wanted:
            body["version"] = {
                "by": {"type": "known", "displayName": "Ada Lovelace"},
                "when": page.when,
                "number": page.version,
                "minorEdit": False,
            }
        if "body.storage" in wanted:
            body["body"] = {"storage": {"value": page.storage, "representation": "storage"}}
        return body

    def _links(self) -> dict[str, str]:
        return {"base": self.base, "context": self.context}

    # --- handlers -----------------------------------------------------------------------------------------------

    def _current_user(self, request: FakeRequest) -> Answer:
        if self.anonymous:
            return 200, {"type": "anonymous", "displayName": "Anonymous"}, {}
        user: dict[str, Any] = {"type": "known", "displayName": "Docs Writer"}
        if self.deployment == "cloud":
            user |= {
                "accountId": "557058:f1e2d3c4",
                "accountType": "atlassian",
                "email": self.email,
                "publicName": "docs",
            }
        else:
            user |= {"username": "docswriter", "userKey": "ff8080817a1b2c3d"}
        if "operations" in (request.param("expand") or ""):
            user["operations"] = [
                {"operation": "create", "targetType": "page"},
                {"operation": "read", "targetType": "space"},
                {"operation": "update", "targetType": "page"},
            ]
        return 200, user, {}

    def _page(self, request: FakeRequest) -> FakePage | None:
        return self.pages.get(request.match["id"])

    def _get(self, request: FakeRequest) -> Answer:
        page = self._page(request)
        if page is None:
            return (
                404,
                {"statusCode": 404, "message": f"No content found with id : ContentId{{id={request.match['id']}}}"},
                {},
            )
        return 200, self.content(page, request.param("expand") or ""), {}

    def _history(self, request: FakeRequest) -> Answer:
        page = self._page(request)
        if page is None:
            return 404, {"statusCode": 404, "message": "No content found"}, {}
        return (
            200,
            {
                "latest": True,
                "createdBy": {"type": "known", "displayName": "Ada Lovelace"},
                "createdDate": "2024-04-01T09:00:00.000Z",
                "lastUpdated": {"when": page.when, "number": page.version, "minorEdit": False},
            },
            {},
        )

    def _children(self, request: FakeRequest) -> Answer:
        parent = self._page(request)
        if parent is None:
            return 404, {"statusCode": 404, "message": "No content found"}, {}
        kids = [p for p in self.pages.values() if p.parent == parent.id]
        start, limit = int(request.param("start") or 0), int(request.param("limit") or 25)
        page = kids[start : start + limit]
        links = self._links()
        if start + limit < len(kids):
            links["next"] = f"/rest/api/content/{parent.id}/child/page?limit={limit}&start={start + limit}"
        expand = request.param("expand") or ""
        return (
            200,
            {
                "results": [self.content(p, expand) for p in page],
                "start": start,
                "limit": limit,
                "size": len(page),
                "_links": links,
            },
            {},
        )

    def _by_title(self, request: FakeRequest) -> Answer:
        space, title = request.param("spaceKey"), request.param("title")
        found = [p for p in self.pages.values() if p.space == space and p.title == title]
        expand = request.param("expand") or ""
        return (
            200,
            {
                "results": [self.content(p, expand) for p in found],
                "start": 0,
                "limit": 25,
                "size": len(found),
                "_links": self._links(),
            },
            {},
        )

    def _storage_error(self, value: Any) -> Answer | None:
        try:
            ET.fromstring(f"<root {NAMESPACES}>{value}</root>")  # noqa: S314 - what our own client wrote
        except ET.ParseError as exc:
            return 400, {"statusCode": 400, "message": f"Error parsing xhtml: {exc}", "reason": "Bad Request"}, {}
        return None

    def _create(self, request: FakeRequest) -> Answer:
        data = request.json() or {}
        space = (data.get("space") or {}).get("key")
        if space not in self.spaces:
            return 404, {"statusCode": 404, "message": f"No space with key : {space}"}, {}
        title = data.get("title")
        if any(p.space == space and p.title == title for p in self.pages.values()):
            return (
                400,
                {
                    "statusCode": 400,
                    "message": f"A page with this title already exists: A page already exists with the title {title} in the space with key {space}",
                },
                {},
            )
        storage = ((data.get("body") or {}).get("storage") or {}).get("value", "")
        refused = self._storage_error(storage)
        if refused:
            return refused
        parent = next((a.get("id") for a in data.get("ancestors") or []), None)
        page = self.add_page(space, title, storage, parent=parent)
        return 200, self.content(page, "body.storage,version,space"), {}

    def _update(self, request: FakeRequest) -> Answer:
        page = self._page(request)
        if page is None:
            return 404, {"statusCode": 404, "message": "No content found"}, {}
        if self.conflict_next:
            self.conflict_next = False
            page.version += 1
        data = request.json() or {}
        number = (data.get("version") or {}).get("number")
        if number != page.version + 1:
            return (
                409,
                {
                    "statusCode": 409,
                    "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                    "message": f"Version must be incremented on update. Current version is: {page.version}",
                    "reason": "Conflict",
                },
                {},
            )
        storage = ((data.get("body") or {}).get("storage") or {}).get("value", "")
        refused = self._storage_error(storage)
        if refused:
            return refused
        page.version, page.title, page.storage = number, data.get("title") or page.title, storage
        page.when = "2024-05-06T12:00:00.000Z"
        return 200, self.content(page, "body.storage,version,space"), {}

    def _search(self, request: FakeRequest) -> Answer:
        cql = request.param("cql") or ""
        match = re.fullmatch(
            r'\s*(?:type\s*=\s*"?page"?\s+AND\s+)?(?:space\s*=\s*"?(\w+)"?\s+AND\s+)?(?:text|title)\s*~\s*"([^"]*)"\s*',
            cql,
        )
        # A whole space: `type = page AND space = "KEY"`.
        listing = re.fullmatch(r'\s*type\s*=\s*"?page"?\s+AND\s+space\s*=\s*"?(\w+)"?\s*', cql)
        if not match and not listing:
            return 400, {"statusCode": 400, "message": f"Could not parse cql : {cql[:60]}", "reason": "Bad Request"}, {}
        space, words = match.groups() if match else (listing.group(1), "")  # type: ignore[union-attr]
        found = [
            p
            for p in self.pages.values()
            if (space is None or p.space == space) and words.lower() in (p.title + " " + p.storage).lower()
        ]
        limit = min(int(request.param("limit") or 25), self.max_page)
        cursor = request.param("cursor")
        start = int(base64.b64decode(cursor).decode()) if cursor else int(request.param("start") or 0)
        chunk = found[start : start + limit]
        expand = request.param("expand") or ""
        results = []
        for page in chunk:
            text = re.sub(r"<[^>]+>", " ", page.storage)
            excerpt = re.sub(re.escape(words), lambda m: f"@@@hl@@@{m.group(0)}@@@endhl@@@", text[:200], flags=re.I)
            results.append(
                {
                    "content": self.content(page, expand),
                    "title": f"@@@hl@@@{page.title}@@@endhl@@@",
                    "excerpt": excerpt,
                    "url": self.webui(page),
                    "resultGlobalContainer": {"title": self.spaces[page.space], "displayUrl": f"/spaces/{page.space}"},
                    "entityType": "content",
                    "iconCssClass": "aui-icon content-type-page",
                    "lastModified": page.when,
                    "friendlyLastModified": "May 01, 2024",
                }
            )
        links = self._links()
        if start + limit < len(found):
            following = {"cql": cql, "limit": limit, "start": start + limit}
            if self.deployment == "cloud":
                following["cursor"] = base64.b64encode(str(start + limit).encode()).decode()
                following["next"] = "true"
            links["next"] = "/rest/api/search?" + urlencode(following)
        return (
            200,
            {
                "results": results,
                "start": start,
                "limit": limit,
                "size": len(results),
                "totalSize": len(found),
                "cqlQuery": cql,
                "searchDuration": 12,
                "_links": links,
            },
            {},
        )
