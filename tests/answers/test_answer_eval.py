"""bench/answer_eval.py, the harness itself: exact retrieval metrics, and judge prompts, replies and scores
recorded, with scripted answer and judge models over the product's retrieval."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from app.db.connection import close_database, open_database
from app.search.embeddings import local_embedder
from tests.api.scripted_models import scripted_settings

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("answer_eval", ROOT / "bench" / "answer_eval.py")
answer_eval = importlib.util.module_from_spec(spec)
sys.modules["answer_eval"] = answer_eval
spec.loader.exec_module(answer_eval)


def test_retrieval_metrics_are_exact():
    assert answer_eval.context_precision([True, False, True]) == pytest.approx((1 + 2 / 3) / 2)
    assert answer_eval.context_precision([False, True, True]) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert answer_eval.context_precision([False, False]) == 0.0
    assert answer_eval.reciprocal_rank([False, False, True]) == pytest.approx(1 / 3)
    assert answer_eval.reciprocal_rank([]) == 0.0
    assert answer_eval.context_recall(1, 2) == 0.5 and answer_eval.context_recall(0, 0) == 1.0


def test_judge_replies_are_scored_as_ragas_does():
    reply = "SUPPORTED: totals include tax\n- UNSUPPORTED: it caches results\n2. supported - rounds to cents"
    assert answer_eval.faithfulness_score(reply) == pytest.approx(2 / 3)
    assert answer_eval.faithfulness_score("no verdicts here") is None
    embedder = local_embedder()
    same = answer_eval.answer_relevance_score(
        "How is an invoice total computed?", "How is an invoice total computed?", embedder
    )
    other = answer_eval.answer_relevance_score(
        "How is an invoice total computed?", "What birds live in Antarctica?", embedder
    )
    assert same == pytest.approx(1.0, abs=1e-6) and other < 0.5


async def test_the_harness_runs_end_to_end_with_scripted_models(database_url, redis_url, tmp_path):
    settings, chat, helper = scripted_settings(database_url, redis_url, tmp_path, **{"answers.rerank": False})
    chat.play({"text": "It is computed by total_amount [1], which adds tax [4]."}, mode="repeat")
    judge_reply = "SUPPORTED: computed by total_amount\nUNSUPPORTED: adds tax"
    helper.play({"text": judge_reply}, mode="repeat")
    corpus = tmp_path / "corpus"
    answer_eval.write_corpus(corpus)
    record = tmp_path / "record.jsonl"
    await open_database(database_url, settings.database)
    try:
        figures = await answer_eval.run(settings, corpus, "helper", record)
    finally:
        await close_database()
    results = [json.loads(line) for line in record.read_text().splitlines()]
    assert [r["question"] for r in results] == [q.question for q in answer_eval.QUESTIONS]
    answered = [r for r in results if r["answered"]]
    assert answered and all(r["faithfulness"] == 0.5 for r in answered)
    for r in answered:
        metrics = [j["metric"] for j in r["judge"]]
        assert metrics == ["faithfulness", "answer_relevance"]
        faithfulness = r["judge"][0]
        assert r["answer"] in faithfulness["prompt"] and "[1] " in faithfulness["prompt"]
        assert faithfulness["reply"] == judge_reply
        assert r["answer_relevance"] is not None
    # Every figure is the mean of the per-question values recorded beside it.
    answerable = [r for r in results if r["answerable"]]
    assert figures["mrr"] == pytest.approx(sum(r["reciprocal_rank"] for r in answerable) / len(answerable), abs=1e-4)
    assert figures["faithfulness"] == 0.5
    (unanswerable,) = [r for r in results if not r["answerable"]]
    assert unanswerable["answered"] is False and unanswerable["judge"] == []
    assert figures["refused_when_unanswerable"] == 1.0
    # On this small corpus the supporting code must be found: a retrieval regression shows here.
    assert figures["context_recall"] >= 0.8 and figures["mrr"] >= 0.7, figures
