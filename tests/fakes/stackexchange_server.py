"""A loopback Stack Exchange API (v2.3) speaking its real wrapper: `items`, `has_more`, `quota_max`,
`quota_remaining`, an optional `backoff`, and errors as `error_id` / `error_name` / `error_message`, every body
gzip-compressed as the API sends it.

Implemented: GET /2.3/questions (site, tagged = all of the tags, sort=votes with min, fromdate/todate on the
creation date, page, pagesize <= 100, filter=withbody adds `body`) and GET /2.3/questions/{ids}/answers.
A test scripts `backoff[method] = seconds` ("questions" or "questions/answers"): the next answer of that method
carries it, and a call of that method before it has elapsed gets a throttle_violation, as the real API does.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.http_fake import Answer, FakeRequest, FakeService


@dataclass
class FakeAnswer:
    answer_id: int
    score: int
    body: str
    accepted: bool = False
    owner: str = "answerer"
    owner_id: int = 200
    creation_date: int = 1_600_000_000


@dataclass
class FakeQuestion:
    question_id: int
    title: str
    tags: list[str]
    score: int
    body: str
    creation_date: int = 1_600_000_000
    answers: list[FakeAnswer] = field(default_factory=list)


class FakeStackExchange(FakeService):
    def __init__(self, *, quota_max: int = 300) -> None:
        self.questions: dict[str, list[FakeQuestion]] = {}  # site -> questions
        self.quota_max = quota_max
        self.quota_remaining = quota_max
        self.backoff: dict[str, int] = {}
        self.blocked_until: dict[str, float] = {}
        self.throttled = 0
        self._state = threading.Lock()
        super().__init__()

    def add_question(self, question: FakeQuestion, site: str = "stackoverflow") -> FakeQuestion:
        self.questions.setdefault(site, []).append(question)
        return question

    def routes(self) -> None:
        self.route("GET", "/2.3/questions", self._questions)
        self.route("GET", r"/2.3/questions/(?P<ids>[0-9;]+)/answers", self._answers)

    def unmatched(self, request: FakeRequest) -> Answer:
        return self._error(404, "no_method", "no method found with this name")

    # --- the wrapper -------------------------------------------------------------------------------------------

    def _wrap(self, method: str, items: list[dict[str, Any]], has_more: bool) -> Answer:
        with self._state:
            self.quota_remaining = max(self.quota_remaining - 1, 0)
            body: dict[str, Any] = {
                "items": items,
                "has_more": has_more,
                "quota_max": self.quota_max,
                "quota_remaining": self.quota_remaining,
            }
            seconds = self.backoff.pop(method, 0)
            if seconds:
                body["backoff"] = seconds
                self.blocked_until[method] = time.monotonic() + seconds
        return self._gzip(200, body)

    def _gzip(self, status: int, body: dict[str, Any]) -> Answer:
        data = gzip.compress(json.dumps(body).encode())
        return status, data, {"Content-Type": "application/json; charset=utf-8", "Content-Encoding": "gzip"}

    def _error(self, error_id: int, name: str, message: str) -> Answer:
        return self._gzip(
            error_id if error_id < 500 else 400,
            {
                "error_id": error_id,
                "error_name": name,
                "error_message": message,
            },
        )

    def _checked(self, request: FakeRequest, method: str) -> Answer | None:
        site = request.param("site")
        if not site:
            return self._error(400, "bad_parameter", "site is required")
        if site not in self.questions:
            return self._error(400, "bad_parameter", f"No site found for name `{site}`")
        with self._state:
            if time.monotonic() < self.blocked_until.get(method, 0.0):
                self.throttled += 1
                left = max(1, round(self.blocked_until[method] - time.monotonic()))
                return self._error(
                    502,
                    "throttle_violation",
                    f"too many requests from this IP, more requests available in {left} seconds",
                )
            if self.quota_remaining <= 0:
                return self._error(502, "throttle_violation", "out of quota")
        pagesize = int(request.param("pagesize", "30") or 30)
        if not 0 <= pagesize <= 100:
            return self._error(400, "bad_parameter", "pagesize")
        return None

    def _page(self, request: FakeRequest, items: list[dict[str, Any]], method: str) -> Answer:
        page = int(request.param("page", "1") or 1)
        size = int(request.param("pagesize", "30") or 30)
        chunk = items[(page - 1) * size : page * size]
        return self._wrap(method, chunk, page * size < len(items))

    # --- methods ---------------------------------------------------------------------------------------------

    def _question_json(self, q: FakeQuestion, site: str, with_body: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "tags": q.tags,
            "owner": {"user_id": 100, "display_name": "asker", "link": f"https://{site}.com/users/100/asker"},
            "is_answered": bool(q.answers),
            "view_count": 10,
            "answer_count": len(q.answers),
            "score": q.score,
            "last_activity_date": q.creation_date,
            "creation_date": q.creation_date,
            "question_id": q.question_id,
            "content_license": "CC BY-SA 4.0",
            "link": f"https://{site}.com/questions/{q.question_id}/{q.title.lower().replace(' ', '-')[:40]}",
            "title": q.title.replace('"', "&quot;"),
        }
        accepted = next((a.answer_id for a in q.answers if a.accepted), None)
        if accepted is not None:
            shown["accepted_answer_id"] = accepted
        if with_body:
            shown["body"] = q.body
        return shown

    def _questions(self, request: FakeRequest) -> Answer:
        refused = self._checked(request, "questions")
        if refused:
            return refused
        site = request.param("site") or ""
        found = list(self.questions[site])
        tagged = [t for t in (request.param("tagged") or "").split(";") if t]
        found = [q for q in found if all(t in q.tags for t in tagged)]
        if request.param("min") is not None and request.param("sort") == "votes":
            found = [q for q in found if q.score >= int(request.param("min") or 0)]
        if request.param("fromdate"):
            found = [q for q in found if q.creation_date >= int(request.param("fromdate") or 0)]
        if request.param("todate"):
            found = [q for q in found if q.creation_date <= int(request.param("todate") or 0)]
        if request.param("sort") == "votes":
            found.sort(key=lambda q: (-q.score, q.question_id))
        with_body = request.param("filter") == "withbody"
        return self._page(request, [self._question_json(q, site, with_body) for q in found], "questions")

    def _answers(self, request: FakeRequest) -> Answer:
        refused = self._checked(request, "questions/answers")
        if refused:
            return refused
        site = request.param("site") or ""
        ids = {int(i) for i in (request.match.group("ids") if request.match else "").split(";") if i}
        if len(ids) > 100:
            return self._error(400, "bad_parameter", "ids")
        with_body = request.param("filter") == "withbody"
        answers = []
        for q in self.questions[site]:
            if q.question_id in ids:
                for a in q.answers:
                    shown = {
                        "owner": {
                            "user_id": a.owner_id,
                            "display_name": a.owner,
                            "link": f"https://{site}.com/users/{a.owner_id}/{a.owner}",
                        },
                        "is_accepted": a.accepted,
                        "score": a.score,
                        "last_activity_date": a.creation_date,
                        "creation_date": a.creation_date,
                        "answer_id": a.answer_id,
                        "question_id": q.question_id,
                        "content_license": "CC BY-SA 4.0",
                    }
                    if with_body:
                        shown["body"] = a.body
                    answers.append(shown)
        answers.sort(key=lambda a: (-a["score"], a["answer_id"]))
        return self._page(request, answers, "questions/answers")
