"""A running service with scripted models and the shop working copy indexed for team `core`."""

from __future__ import annotations

import pytest

from app.db.repositories.identity import team_named
from tests.api.scripted_models import scripted_settings
from tests.conftest import start_service, stop_service
from tests.search.conftest import FILES, write_tree


@pytest.fixture
async def answering(database_url, redis_url, tmp_path):
    settings, chat, helper = scripted_settings(database_url, redis_url, tmp_path, **{"answers.rerank": False})
    running = await start_service(settings)
    running.chat, running.helper = chat, helper
    running.token = await running.issue_token(team="core")
    write_tree(tmp_path / "shop", FILES)
    team = await team_named("core")
    assert team is not None
    await running.app.ctx.search.index_path(tmp_path / "shop", team_id=team.id, name="shop")
    yield running
    await stop_service(running)


async def ask(service, body, *, token=None, stream=False):
    path = "/v1/answer/stream" if stream else "/v1/answer"
    return await service.request("POST", path, token=token or service.token, client_headers=False, json=body)
