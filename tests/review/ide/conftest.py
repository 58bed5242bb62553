"""A service with a small IDE token limit, two users of one team and helpers that drive its review routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio

from app.auth.principal import Principal
from app.db.models import IdeReview
from app.db.repositories import ide_reviews as repo
from tests.conftest import RunningService, make_settings, start_service, stop_service

TOKEN_LIMIT = 2000
BASE = "/end_user/v1/ide-reviews"
DIFF = "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,3 @@\n def get(key):\n+    value = cache.get(key)\n     return value\n"


@dataclass
class User:
    service: RunningService
    token: str
    principal: Principal

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.service.request(method, BASE + path, token=self.token, **kwargs)

    async def data(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["data"]


@pytest_asyncio.fixture
async def review_service(database_url: str, redis_url: str) -> AsyncIterator[RunningService]:
    settings = make_settings(database_url, redis_url, **{"review.ide_token_limit": TOKEN_LIMIT})
    service = await start_service(settings)
    yield service
    await stop_service(service)


async def user(service: RunningService, email: str) -> User:
    token = await service.issue_token(email=email)
    principal = (await service.app.ctx.tokens.authenticate(token)).principal
    return User(service, token, principal)


@pytest_asyncio.fixture
async def ada(review_service: RunningService) -> User:
    return await user(review_service, "ada@example.com")


@pytest_asyncio.fixture
async def eve(review_service: RunningService) -> User:
    return await user(review_service, "eve@example.com")


def pre_process_body(
    *files: tuple[str, str], repo_name: str = "shop", source_branch: str = "feature"
) -> dict[str, Any]:
    return {
        "file_wise_diff": [
            {
                "file_path": path,
                "file_name": path.rsplit("/", 1)[-1],
                "status": "M",
                "line_changes": {"added": 1, "removed": 0},
                "diff": diff,
            }
            for path, diff in files
        ],
        "source_branch": source_branch,
        "target_branch": "main",
        "source_commit": "a" * 40,
        "target_commit": "b" * 40,
        "origin_url": f"git@example.com:team/{repo_name}.git",
        "repo_name": repo_name,
        "review_type": "ALL",
    }


async def completed_review(who: User, comments: list[dict[str, Any]], **body: Any) -> IdeReview:
    """A review created over HTTP and completed with these comments through the repository (as post-process does)."""
    files = body.pop("files", (("app/cache.py", DIFF), ("app/other.py", DIFF)))
    created = await who.data("POST", "/pre-process", json=pre_process_body(*files, **body))
    review = await IdeReview.get(id=created["review_id"])
    assert await repo.finalize_review(review, comments, title="t", execution_time_seconds=3) == "completed"
    return review


def comment(agent_id: int, line: int = 2, path: str = "app/cache.py", **fields: Any) -> dict[str, Any]:
    return {
        "agent_ids": [agent_id],
        "title": "Cache miss returns None",
        "comment": "A missing key makes this return None.",
        "rationale": "The changed line reads the cache without a default.",
        "corrective_code": "value = cache.get(key, default)",
        "file_path": path,
        "line_number": line,
        "tag": "bug",
        "category": "correctness",
        "severity": "high",
        "confidence": 0.95,
        **fields,
    }
