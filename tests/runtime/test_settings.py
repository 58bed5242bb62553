"""Configuration: layering, validation errors as one readable line, secrets never echoed, generated docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.runtime.config_docs import reference_markdown, template, template_json
from app.runtime.config_loader import load_settings
from app.runtime.settings import Settings, secret_values


def load(env: dict[str, str] | None = None, config: dict | None = None, tmp_path: Path | None = None, **kw) -> Settings:
    config_path = None
    if config is not None:
        assert tmp_path is not None
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
    return load_settings(environ=env or {}, config_path=config_path, include_config_file=config is not None, **kw)


def test_defaults_come_from_settings_toml():
    settings = load()
    assert settings.server.port == 8084
    assert settings.database.url == ""  # empty = embedded
    assert settings.client.min_version == "14.0.0"


def test_layers_apply_in_order_toml_json_env_overrides(tmp_path):
    config = {"server": {"port": 9001, "workers": 3}, "auth": {"token_ttl_days": 9}}
    settings = load({"ADJUTANT_SERVER__PORT": "9002"}, config, tmp_path, overrides={("server", "workers"): 4})
    assert settings.server.port == 9002  # env beats config.json
    assert settings.server.workers == 4  # command line beats everything
    assert settings.auth.token_ttl_days == 9  # config.json beats settings.toml
    assert settings.server.host == "127.0.0.1"  # untouched keys keep the shipped default


def test_conventional_environment_names_map_to_settings():
    settings = load(
        {
            "DATABASE_URL": "postgres://u:p@db:5432/x",
            "REDIS_URL": "redis://r:6379/0",
            "OPENAI_API_KEY": "sk-test-123456",
            "GOOGLE_API_KEY": "google-key",
            "GEMINI_API_KEY": "gemini-key",
            "SENTRY_DSN": "http://k@sentry/1",
        }
    )
    assert settings.database.url == "postgres://u:p@db:5432/x"
    assert settings.redis.url == "redis://r:6379/0"
    assert settings.providers.openai_api_key == "sk-test-123456"
    assert settings.providers.gemini_api_key == "gemini-key"  # GEMINI_API_KEY wins, as in google-genai
    assert settings.sentry.dsn == "http://k@sentry/1"


def test_structured_values_from_the_environment_are_json():
    models = [
        {
            "id": 7,
            "name": "gpt",
            "display_name": "GPT",
            "input_token_limit": 1000,
            "output_token_limit": 100,
            "routes": [{"provider": "openai", "model": "gpt-4.1"}],
        }
    ]
    settings = load(
        {
            "ADJUTANT_LLM__MODELS": json.dumps(models),
            "ADJUTANT_LLM__DEFAULT_MODEL": "gpt",
            "ADJUTANT_LLM__CODE_GEN_MODELS": '["gpt"]',
            "ADJUTANT_CLIENT_CONFIG__BINARY__TARGETS__LINUX-X64__DOWNLOAD_LINK": "https://mirror/bin",
        }
    )
    assert [m.name for m in settings.llm.models] == ["gpt"]
    assert settings.client_config.binary.targets["linux-x64"].download_link == "https://mirror/bin"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"ADJUTANT_SERVER__PORT": "70000"},
            'server.port = "70000" (from env ADJUTANT_SERVER__PORT): Input should be less than or equal to 65535',
        ),
        ({"ADJUTANT_SERVER__WORKERS": "many"}, 'server.workers = "many" (from env ADJUTANT_SERVER__WORKERS)'),
        ({"ADJUTANT_SERVER__PROT": "1"}, "ADJUTANT_SERVER__PROT: no such setting"),
        (
            {"ADJUTANT_CLIENT__MIN_VERSION": "latest"},
            'client.min_version = "latest" (from env ADJUTANT_CLIENT__MIN_VERSION): must be a semantic version',
        ),
        ({"ADJUTANT_LLM__DEFAULT_MODEL": "nope"}, "'nope' is not one of the configured models"),
        ({"ADJUTANT_AUTH__ROTATION_OVERLAP_MINUTES": "2"}, 'auth.rotation_overlap_minutes = "2"'),
    ],
)
def test_bad_values_name_the_key_the_source_and_the_problem(env, expected):
    with pytest.raises(ConfigError) as caught:
        load(env)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_config_json_errors_are_located(tmp_path):
    with pytest.raises(ConfigError, match=r"server\.prot: unknown setting \(from config\.json\)"):
        load(config={"server": {"prot": 1}}, tmp_path=tmp_path)
    bad = tmp_path / "config.json"
    bad.write_text('{"server": {"port": 80,}}')
    with pytest.raises(ConfigError, match=r"config\.json: invalid JSON at line 1 column \d+"):
        load_settings(environ={}, config_path=bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must contain a JSON object"):
        load_settings(environ={}, config_path=bad)


def test_secret_values_are_never_echoed_in_errors():
    with pytest.raises(ConfigError) as caught:
        load({"DATABASE_URL": "mysql://admin:hunter2-secret@db/x"})
    assert "hunter2-secret" not in str(caught.value)
    assert "database.url = (hidden)" in str(caught.value)


def test_secret_values_lists_every_configured_credential():
    settings = load({"OPENAI_API_KEY": "sk-aaaaaaaaaaaaaaaa", "DATABASE_URL": "postgres://u:pw@h/d"})
    assert set(secret_values(settings)) == {"sk-aaaaaaaaaaaaaaaa", "postgres://u:pw@h/d"}


def test_settings_are_immutable_snapshots():
    settings = load()
    with pytest.raises(Exception, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]


def test_committed_template_documents_every_key_with_empty_secrets(project_root):
    committed = json.loads((project_root / "config_template.json").read_text())
    assert committed == template(), "config_template.json is stale: run `adjutant config template --write`"
    assert committed["database"]["url"] == committed["providers"]["openai_api_key"] == committed["sentry"]["dsn"] == ""
    # Copying the template to config.json must change nothing and must validate.
    assert Settings.model_validate(committed) == load()
    assert (project_root / "config_template.json").read_text() == template_json()


def test_committed_configuration_reference_is_current(project_root):
    committed = (project_root / "docs" / "configuration.md").read_text()
    assert committed == reference_markdown(), "docs/configuration.md is stale: run `adjutant config docs --write`"


def test_cli_prints_one_line_and_exits_2_on_bad_configuration(project_root):
    env = {**os.environ, "ADJUTANT_SERVER__PORT": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "config", "check"],
        cwd=project_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "server.port" in lines[0] and "ADJUTANT_SERVER__PORT" in lines[0]
