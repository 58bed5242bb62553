"""Schemathesis over the service's own OpenAPI document: every documented HTTP operation, sent generated valid
and invalid requests by a real token holder, never answers 5xx, answers only the statuses and bodies the
document declares, refuses what the document calls invalid, and changes no row when it refuses (4xx).

Each operation gets schemathesis's coverage cases (boundary values, missing and unexpected parameters, wrong
types) and then a bounded, derandomized Hypothesis run in its positive and negative modes: the cases are the
same on every run and machine and no example database is written, so a failure in CI reproduces locally. Every
cause found is also pinned by a deterministic case in tests/api/test_malformed_input.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import GenerationConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.malformed import NASTY_INTS, NASTY_TEXT, World, start_world, stop_world
from tests.api.scripted_models import scripted_settings
from tests.conftest import CLIENT_HEADERS

EXAMPLES_PER_OPERATION = 30
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),  # failures are collected, not raised: there is nothing to shrink
    suppress_health_check=list(HealthCheck),
    verbosity=Verbosity.quiet,
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Values that once caused 500s, drawn for half of the generated strings and integers: Hypothesis alone rarely
# writes NUL, "²" or 2^63 in 30 examples. Lone surrogates are left to tests/api/test_malformed_input.py
# (`requests` cannot encode them), as are texts too long for a query string.
NASTY_WIRE_TEXT = [text for text in NASTY_TEXT if len(text) < 1000 and text.encode("utf-8", "replace").decode() == text]
NASTY_WIRE_INTEGERS = [value for value in NASTY_INTS if type(value) is int]
NASTY = {"string": "nasty-text", "integer": "nasty-integers"}
SKIPPED = {
    "GET /end_user/v2/code-gen/generate-code-ws": "a WebSocket: tests/api/test_malformed_socket_frames.py",
    "GET /end_user/v1/ide-reviews/review-solver": "a WebSocket: tests/contract/test_ide_review.py (R9)",
    "GET /end_user/v1/ide-reviews/post-process-solver": "a WebSocket: tests/contract/test_ide_review.py (R9)",
    "POST /v1/llm/stream": "a server-sent event stream of a model call per case; refusals: test_malformed_input",
    "POST /v1/query-solver/stream": "a server-sent event stream of a whole chat step per case",
    "POST /v1/answer/stream": "a server-sent event stream of an answer per case; refusals: tests/answers",
    "POST /v1/query-solver/tool-response": "continues a step no generated case owns; a chat step per case",
}


@dataclass
class Findings:
    """What the fuzzer saw, grouped by cause so that one bug met 20 times reads as one line."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    unsendable: int = 0

    def fail(self, operation: str, cause: str, example: str) -> None:
        self.failures.setdefault((operation, cause), example)

    def report(self) -> str:
        return "\n".join(f"{op}: {cause}\n    {example}" for (op, cause), example in sorted(self.failures.items()))


@dataclass
class Fuzzer:
    """Sends cases synchronously (schemathesis sends with `requests`) from a worker thread, while the
    service answers on the test's event loop; `state` and `settle` run on that loop."""

    base_url: str
    headers: dict[str, str]
    state: Callable[[], dict[str, str]]
    settle: Callable[[], None]
    findings: Findings
    session: requests.Session = field(default_factory=requests.Session)
    before: dict[str, str] = field(default_factory=dict)

    def run(self, operation: schemathesis.APIOperation, seeded: dict[str, str]) -> None:
        self.before = self.state()
        for case in coverage_cases(operation, self.headers):
            self.send(case)
        fixed = {"headers": self.headers}
        strategies = [
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, **fixed),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, **fixed),
        ]
        declared = {p.name for p in operation.headers}
        if declared & set(seeded):
            owned = {**self.headers, **{k: v for k, v in seeded.items() if k in declared}}
            strategies.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE, headers=owned))

        @FUZZ
        @given(case=st.one_of(strategies))
        def generated(case: schemathesis.Case) -> None:
            self.send(case)

        generated()

    def send(self, case: schemathesis.Case) -> None:
        label = case.operation.label
        try:
            response = case.call(base_url=self.base_url, session=self.session, timeout=30)
        except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
            self.findings.unsendable += 1  # refused by `requests` (a space or CR in a header): never left here
            return
        self.findings.cases[label] += 1
        self.findings.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=self.headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.findings.fail(label, failure.title, describe(case, response))
        if response.status_code < 300:
            self.settle()
        after = self.state()
        if 400 <= response.status_code < 500 and after != self.before:
            changed = sorted(name for name in after if after[name] != self.before.get(name))
            self.findings.fail(label, f"a {response.status_code} changed {changed}", describe(case, response))
        self.before = after


def fuzz_config(spec: dict[str, Any]) -> schemathesis.Config:
    """The checks' options and the nasty values. Type-wide bindings miss an optional query parameter (its
    `allowEmptyValue` schema is an anyOf without a type), so those are bound by name."""
    by_name = {}
    for operations in spec["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                kind = schema.get("type") or next((s.get("type") for s in schema.get("anyOf", [])), None)
                if parameter["in"] == "query" and kind in NASTY:
                    by_name[f"query.{parameter['name']}"] = {"dictionary": NASTY[kind], "probability": 0.5}
    return schemathesis.Config.from_dict(
        {
            # A refusal may also be 413: a request line or header beyond Sanic's limits (a 10 kB query string).
            "checks": {"negative_data_rejection": {"expected-statuses": ["400", "404", "405", "409", "413", "422"]}},
            "dictionaries": {
                NASTY["string"]: {"values": NASTY_WIRE_TEXT},
                NASTY["integer"]: {"values": NASTY_WIRE_INTEGERS},
            },
            "generation": {
                "dictionaries": {kind: {"dictionary": name, "probability": 0.5} for kind, name in NASTY.items()}
            },
            "parameters": by_name,
        }
    )


def coverage_cases(operation: schemathesis.APIOperation, headers: dict[str, str]) -> Iterable[schemathesis.Case]:
    """Schemathesis's deterministic boundary cases, both modes, with the client headers and token fixed."""
    return CoverageGenerator(
        operation=operation,
        generation_modes=list(GenerationMode),
        generation_config=GenerationConfig(),
        auth_storage=None,
        override=Override(headers=headers),
        feedback=FeedbackSources(),
    )


def describe(case: schemathesis.Case, response: requests.Response) -> str:
    body = case.body[:80] if isinstance(case.body, bytes | bytearray) else case.body
    sent = {"path": case.path_parameters, "query": case.query, "headers": dict(case.headers or {}), "body": body}
    sent["headers"].pop("Authorization", None)
    return f"{response.status_code} {response.text[:200]!r} for {json.dumps(sent, default=repr)[:400]}"


async def background_work(app: Any) -> None:
    """What a success started and writes after its answer (an inline-edit turn): awaited, so that the next
    refusal is judged on its own writes only."""
    await asyncio.gather(*app.ctx.inline_edits.running.values(), return_exceptions=True)


@pytest_asyncio.fixture
async def fuzz_world(database_url, redis_url, tmp_path):
    fuzz_settings, chat, helper = scripted_settings(
        database_url,
        redis_url,
        tmp_path,
        # Accepted jobs stay queued: a job run by an embedded worker writes after its 202, and the next refusal
        # would be blamed for it.
        **{"providers.local_enabled": False, "jobs.embedded_worker": False},
    )
    chat.play({"text": "Scripted answer"}, mode="repeat")
    helper.play({"text": "Scripted helper answer"}, mode="repeat")
    world = await start_world(database_url, redis_url, settings=fuzz_settings, openapi=True)
    set_hypothesis_home_dir(tmp_path / "hypothesis")  # its caches, too, stay out of the work tree
    try:
        yield world
    finally:
        set_hypothesis_home_dir(None)
        await stop_world(world)


async def test_every_documented_operation_survives_fuzzing(fuzz_world: World):
    service = fuzz_world.service
    spec = (await service.request("GET", "/docs/openapi.json", client_headers=False)).json()
    schema = schemathesis.openapi.from_dict(spec, config=fuzz_config(spec))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= set(SKIPPED), "a skipped operation is no longer documented"
    fuzzed = [op for op in operations if op.label not in SKIPPED]
    assert len(fuzzed) >= 40, [op.label for op in fuzzed]

    loop = asyncio.get_running_loop()
    fuzzer = Fuzzer(
        base_url=service.base_url,
        headers={**CLIENT_HEADERS, "Authorization": f"Bearer {fuzz_world.token}"},
        state=lambda: asyncio.run_coroutine_threadsafe(fuzz_world.state(), loop).result(timeout=30),
        settle=lambda: asyncio.run_coroutine_threadsafe(background_work(service.app), loop).result(timeout=60),
        findings=Findings(),
    )
    # Where an operation declares it, a third strategy sends the seeded session, so that the routes' real work
    # runs and not only their not-found answer.
    seeded = {"X-Session-ID": str(fuzz_world.session_id)}
    started = time.monotonic()
    timings: dict[str, float] = {}
    for operation in fuzzed:
        began = time.monotonic()
        await asyncio.to_thread(fuzzer.run, operation, seeded)
        timings[operation.label] = time.monotonic() - began
    elapsed = time.monotonic() - started
    fuzzer.session.close()

    findings = fuzzer.findings
    slowest = sorted(timings.items(), key=lambda item: -item[1])[:3]
    print(
        f"\nfuzzed {len(fuzzed)} operations with {sum(findings.cases.values())} cases in {elapsed:.1f} s; "
        f"statuses {dict(sorted(findings.statuses.items()))}; slowest {[(k, round(v, 1)) for k, v in slowest]}"
    )
    assert findings.failures == {}, f"{len(findings.failures)} distinct failures:\n{findings.report()}"
    assert all(findings.cases[op.label] for op in fuzzed), findings.cases
    assert sum(findings.cases.values()) > 2000 and findings.unsendable < 100, (findings.cases, findings.unsendable)
    assert findings.statuses[200] > 100 and findings.statuses[422] > 100, "the cases must reach the routes' work"
    # No time limit is asserted (speed lives in bench/; the run's time is printed above).
