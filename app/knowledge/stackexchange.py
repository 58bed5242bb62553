"""The Stack Exchange API (v2.3): questions by tags, score and dates with their bodies, then their answers.

Every response is the API's wrapper: `items`, `has_more`, `quota_max`, `quota_remaining` and, when the API wants
a method called less often, `backoff` — seconds to wait before calling that method again (calling early gets a
`throttle_violation`). Errors come as `error_id`, `error_name` and `error_message`. The base URL is a setting;
it must be a public address or allow-listed (integrations.allowed_hosts), like a connection's base URL.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.errors import (
    IntegrationAuthFailed,
    IntegrationError,
    IntegrationRateLimited,
    IntegrationRejected,
    IntegrationUnavailable,
    InvalidRequest,
)
from app.integrations.addresses import AddressRefused, AllowList, Resolver, resolve_allowed, system_resolver
from app.knowledge.items import KnowledgeItem, stack_overflow_attribution
from app.knowledge.markup import html_to_markdown, language_from_tags

SERVICE = "stackexchange"
API_VERSION = "2.3"
PAGE_SIZE = 100  # the API's largest page, and the most ids one /questions/{ids}/answers call takes
SITE_NAMES = {"stackoverflow": "Stack Overflow", "serverfault": "Server Fault", "superuser": "Super User"}
RETRY_AFTER = re.compile(r"available in (\d+) seconds")
log = logging.getLogger("adjutant.knowledge")


@dataclass(frozen=True)
class QuestionQuery:
    site: str = "stackoverflow"
    tags: tuple[str, ...] = ()  # all of them (the API's `tagged`)
    min_score: int | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    max_questions: int = 200
    answers_per_question: int = 3  # the accepted one, then the best others
    min_answer_score: int = 1  # others below are skipped


@dataclass
class Quota:
    max: int | None = None
    remaining: int | None = None


class StackExchangeClient:
    def __init__(
        self,
        base_url: str,
        *,
        key: str,
        timeout_s: float,
        max_backoff_s: float,
        allow: AllowList,
        resolver: Resolver = system_resolver,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.max_backoff_s = max_backoff_s
        self.allow = allow
        self.resolver = resolver
        self.sleep = sleep
        self.quota = Quota()
        self.calls = 0
        self.waited_s = 0.0
        self._not_before: dict[str, float] = {}  # method -> monotonic time it may be called again
        self._checked = False
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, headers={"User-Agent": "Adjutant"}
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _check_address(self) -> None:
        if self._checked:
            return
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            resolved = await resolve_allowed(parts.hostname or "", port, self.allow, self.resolver)
        except AddressRefused as exc:
            raise InvalidRequest(
                f"knowledge.stackexchange_api_url: {exc}; an operator can allow it in integrations.allowed_hosts"
            ) from None
        if parts.scheme == "http" and not resolved.allow_listed:
            raise InvalidRequest(
                "knowledge.stackexchange_api_url: http:// only for hosts in integrations.allowed_hosts"
            )
        self._checked = True

    async def call(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One call of `method` (the backoff key: "questions", "questions/answers"), after its backoff."""
        await self._check_address()
        wait = self._not_before.get(method, 0.0) - time.monotonic()
        if wait > 0:
            if wait > self.max_backoff_s:
                raise IntegrationRateLimited(
                    f"stackexchange asked to wait {round(wait)} s before calling {method} again",
                    retry_after=wait,
                    service=SERVICE,
                )
            self.waited_s += wait
            await self.sleep(wait)
        query = dict(params) | ({"key": self.key} if self.key else {})
        self.calls += 1
        try:
            response = await self._http.get(f"{self.base_url}/{API_VERSION}/{path.lstrip('/')}", params=query)
        except httpx.TransportError as exc:
            raise IntegrationUnavailable(
                f"stackexchange could not be reached ({exc.__class__.__name__})", service=SERVICE
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise IntegrationUnavailable(
                f"stackexchange answered HTTP {response.status_code} without JSON", service=SERVICE
            ) from None
        if not isinstance(body, dict):
            raise IntegrationUnavailable("stackexchange answered something that is not its wrapper", service=SERVICE)
        if isinstance(body.get("backoff"), int | float) and body["backoff"] > 0:
            self._not_before[method] = time.monotonic() + float(body["backoff"])
        if "quota_remaining" in body:
            self.quota = Quota(body.get("quota_max"), body.get("quota_remaining"))
        if "error_id" in body or response.status_code >= 400:
            raise _error(body, response.status_code)
        return body

    async def questions(self, query: QuestionQuery) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of questions (with bodies), best voted first, until `max_questions`, the last page or the quota."""
        params: dict[str, Any] = {
            "site": query.site,
            "sort": "votes",
            "order": "desc",
            "filter": "withbody",
            "pagesize": min(PAGE_SIZE, query.max_questions),
        }
        if query.tags:
            params["tagged"] = ";".join(query.tags)
        if query.min_score is not None:
            params["min"] = query.min_score  # with sort=votes, `min` bounds the score
        if query.from_date is not None:
            params["fromdate"] = int(query.from_date.timestamp())
        if query.to_date is not None:
            params["todate"] = int(query.to_date.timestamp())
        page, seen = 1, 0
        while seen < query.max_questions:
            body = await self.call("questions", "questions", params | {"page": page})
            items = [q for q in body.get("items") or [] if isinstance(q, dict) and "question_id" in q]
            items = items[: query.max_questions - seen]
            seen += len(items)
            if items:
                yield items
            if not body.get("has_more") or self.quota.remaining == 0:
                if self.quota.remaining == 0:
                    log.warning("stackexchange quota spent after %s calls; the import stops here", self.calls)
                return
            page += 1

    async def answers(self, site: str, question_ids: list[int]) -> list[dict[str, Any]]:
        """Every answer (with its body) of up to 100 questions, best voted first."""
        ids = ";".join(str(int(i)) for i in question_ids[:PAGE_SIZE])
        params = {"site": site, "sort": "votes", "order": "desc", "filter": "withbody", "pagesize": PAGE_SIZE}
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self.call("questions/answers", f"questions/{ids}/answers", params | {"page": page})
            found.extend(a for a in body.get("items") or [] if isinstance(a, dict) and "answer_id" in a)
            if not body.get("has_more") or self.quota.remaining == 0:
                return found
            page += 1


def _error(body: dict[str, Any], status: int) -> IntegrationError:
    error_id = body.get("error_id", status)
    name = str(body.get("error_name") or f"HTTP {status}")
    message = html.unescape(str(body.get("error_message") or ""))[:300]
    detail = f"stackexchange: {name}" + (f" ({message})" if message else "")
    if name == "throttle_violation" or error_id == 502:
        found = RETRY_AFTER.search(message)
        return IntegrationRateLimited(detail, retry_after=float(found.group(1)) if found else 60.0, service=SERVICE)
    if error_id in (401, 402, 403, 405, 406) or name in ("access_denied", "access_token_required", "key_required"):
        return IntegrationAuthFailed(detail, service=SERVICE)
    if error_id in (400, 404):
        return IntegrationRejected(detail, service=SERVICE)
    return IntegrationUnavailable(detail, service=SERVICE)


def _text(value: Any) -> str:
    return html.unescape(str(value or ""))


def _year_month(epoch: Any) -> tuple[int, int] | None:
    if not isinstance(epoch, int | float):
        return None
    when = datetime.fromtimestamp(epoch, UTC)
    return when.year, when.month


def _chosen(answers: list[dict[str, Any]], query: QuestionQuery) -> list[dict[str, Any]]:
    """The accepted answer, then the best others above the score floor, `answers_per_question` in all."""
    accepted = [a for a in answers if a.get("is_accepted")]
    others = sorted(
        (a for a in answers if not a.get("is_accepted") and int(a.get("score") or 0) >= query.min_answer_score),
        key=lambda a: -int(a.get("score") or 0),
    )
    return (accepted + others)[: max(query.answers_per_question, len(accepted))]


def answer_item(question: dict[str, Any], answer: dict[str, Any], *, site: str) -> KnowledgeItem:
    link = str(question.get("link") or "")
    parts = urlsplit(link)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else f"https://{site}.com"
    answer_link = f"{origin}/a/{int(answer['answer_id'])}"
    tags = [str(t) for t in question.get("tags") or []]
    owner = answer.get("owner") or {}
    _, question_text = html_to_markdown(str(question.get("body") or ""))
    _, text = html_to_markdown(str(answer.get("body") or ""))
    title = _text(question.get("title"))
    return KnowledgeItem(
        external_id=f"q{int(question['question_id'])}/a{int(answer['answer_id'])}",
        kind="qa",
        title=title,
        text=text,
        url=answer_link,
        meta={
            "question": title,
            "question_text": question_text[:1500],
            "question_id": int(question["question_id"]),
            "answer_id": int(answer["answer_id"]),
            "question_score": int(question.get("score") or 0),
            "score": int(answer.get("score") or 0),
            "accepted": bool(answer.get("is_accepted")),
            "tags": tags,
            "question_url": link or None,
        },
        attribution=stack_overflow_attribution(
            author=_text(owner.get("display_name")) or None,
            author_url=owner.get("link") if isinstance(owner.get("link"), str) else None,
            link=answer_link,
            created=_year_month(answer.get("creation_date")),
            site=SITE_NAMES.get(site, site),
        ),
        language_hint=language_from_tags(tags),
    )


async def question_items(client: StackExchangeClient, query: QuestionQuery) -> AsyncIterator[KnowledgeItem]:
    """Items for the questions the query finds: each chosen answer with its question."""
    async for questions in client.questions(query):
        by_question: dict[int, list[dict[str, Any]]] = {}
        answered = [int(q["question_id"]) for q in questions if int(q.get("answer_count") or 1) > 0]
        if answered and client.quota.remaining == 0:
            log.warning("stackexchange quota spent before the answers of a page; the import stops here")
            return
        if answered:
            for answer in await client.answers(query.site, answered):
                by_question.setdefault(int(answer.get("question_id") or 0), []).append(answer)
        for question in questions:
            for answer in _chosen(by_question.get(int(question["question_id"]), []), query):
                yield answer_item(question, answer, site=query.site)
