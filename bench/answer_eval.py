"""Answer quality, measured on a question set whose supporting code is known.

The corpus is the small multi-language working copy the tests index (billing, networking, a cart, a user
store, a README). Each question names the passages that support it (a path and a name in the code); one has
no answer in the corpus. Through the product path (`Answers.prepare`, the same retrieval and context fusion
as /v1/answer) the harness computes exactly:

- context precision: RAGAS's rank-aware form, the mean of precision@k over the ranks k that hold a
  supporting passage (1.0 when every supporting passage is ranked above every other one);
- context recall: the share of a question's supporting passages that reached the context;
- MRR: 1 / rank of the first supporting passage in the fused ranking (0 when none).

With a judge model (`--judge NAME`, a model of llm.models) it also has each question answered (by
`answers.model`) and asks the judge, in the manner of RAGAS:

- faithfulness: the judge lists the answer's claims, each SUPPORTED or UNSUPPORTED by the sources; the score
  is the supported share;
- answer relevance: the judge writes three questions the answer would answer; the score is their mean
  cosine similarity to the real question under the local embedding model.

Every judge prompt, reply and score is written to `--record` (JSON lines). Prints figures; asserts nothing.

    uv run python bench/answer_eval.py [--judge gpt-4o-mini] [--record answer_eval.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.answers.events import DeltaEvent, ErrorEvent  # noqa: E402
from app.answers.passages import Passage  # noqa: E402
from app.answers.service import Answers, Question  # noqa: E402
from app.search.embeddings import Embedder  # noqa: E402

Judge = Callable[[str], Awaitable[str]]
CLAIM = re.compile(r"^\s*(?:[-*\d.)]+\s*)?(SUPPORTED|UNSUPPORTED)\s*[:\-]", re.IGNORECASE)

CORPUS = {
    "src/billing/invoice.py": '''class Invoice:
    """An invoice with line items."""

    def __init__(self, customer):
        self.customer = customer
        self.items = []

    def add_line_item(self, description, amount):
        self.items.append((description, amount))

    def total_amount(self):
        """Sum of the amounts of every line item, including tax."""
        subtotal = sum(amount for _, amount in self.items)
        return round(subtotal * 1.2, 2)
''',
    "src/net/http_client.py": '''import socket


def open_connection(host, port, timeout=5.0):
    """Open a TCP connection to a remote server and return the socket."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def retry_with_backoff(call, attempts=5):
    delay = 0.1
    for attempt in range(attempts):
        try:
            return call()
        except OSError:
            delay *= 2
    raise RuntimeError("gave up")
''',
    "web/src/cart.ts": """export interface CartItem { sku: string; quantity: number; price: number }

export function cartTotal(items: CartItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.price, 0);
}

export const emptyCart = (): CartItem[] => [];
""",
    "server/users.go": """package server

type UserStore struct { users map[string]string }

func (s *UserStore) Lookup(email string) (string, bool) {
    name, ok := s.users[email]
    return name, ok
}
""",
    "docs/README.md": "# Billing service\n\nComputes invoices and talks to the payment gateway.\n",
}


@dataclass(frozen=True)
class Support:
    """A supporting passage: one in `path` whose text contains `name`."""

    path: str
    name: str

    def matches(self, passage: Passage) -> bool:
        return passage.path == self.path and self.name in passage.text


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    supports: tuple[Support, ...]  # empty: the corpus does not answer it


QUESTIONS = (
    EvalQuestion(
        "How is the total amount of an invoice computed, tax included?",
        (Support("src/billing/invoice.py", "def total_amount"),),
    ),
    EvalQuestion(
        "How do we open a TCP connection to a remote server?",
        (Support("src/net/http_client.py", "def open_connection"),),
    ),
    EvalQuestion(
        "How are failing calls retried with exponential backoff?",
        (Support("src/net/http_client.py", "def retry_with_backoff"),),
    ),
    EvalQuestion(
        "How is the total price of the items in a shopping cart calculated?", (Support("web/src/cart.ts", "cartTotal"),)
    ),
    EvalQuestion("How is a user's name looked up by email address?", (Support("server/users.go", "Lookup"),)),
    EvalQuestion(
        "What are the ways money amounts are summed up, for invoices and carts?",
        (Support("src/billing/invoice.py", "def total_amount"), Support("web/src/cart.ts", "cartTotal")),
    ),
    EvalQuestion("Which migratory birds winter on the Antarctic peninsula?", ()),
)


def context_precision(relevant: Sequence[bool]) -> float:
    """Mean of precision@k over the ranks k holding a relevant passage (0 when none is relevant)."""
    hits, total = 0, 0.0
    for k, is_relevant in enumerate(relevant, start=1):
        if is_relevant:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


def context_recall(found: int, supporting: int) -> float:
    return found / supporting if supporting else 1.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    return next((1 / k for k, is_relevant in enumerate(relevant, start=1) if is_relevant), 0.0)


def faithfulness_prompt(question: str, sources: str, answer: str) -> str:
    return (
        "You check whether an answer is supported by its sources.\n\n"
        f"Question: {question}\n\nSources:\n{sources}\n\nAnswer:\n{answer}\n\n"
        "List every factual claim the answer makes, one per line, each starting with SUPPORTED: or "
        "UNSUPPORTED: depending on whether the sources state it. Nothing else."
    )


def relevance_prompt(answer: str) -> str:
    return (
        f"Answer:\n{answer}\n\nWrite three different questions that this answer would answer, one per line, "
        "nothing else."
    )


def faithfulness_score(reply: str) -> float | None:
    verdicts = [m.group(1).upper() for m in map(CLAIM.match, reply.splitlines()) if m]
    return verdicts.count("SUPPORTED") / len(verdicts) if verdicts else None


def answer_relevance_score(question: str, reply: str, embedder: Embedder) -> float | None:
    generated = [line.strip(" -*0123456789.)") for line in reply.splitlines() if line.strip()][:3]
    if not generated:
        return None
    vectors = embedder.embed([question, *generated])
    return sum(sum(a * b for a, b in zip(vectors[0], v, strict=True)) for v in vectors[1:]) / len(generated)


@dataclass
class QuestionResult:
    question: str
    answerable: bool
    retrieved: list[str]
    context: list[str]
    context_precision: float
    context_recall: float
    reciprocal_rank: float
    answered: bool
    answer: str = ""
    faithfulness: float | None = None
    answer_relevance: float | None = None
    judge: list[dict[str, str]] = field(default_factory=list)


async def evaluate_question(
    answers: Answers,
    item: EvalQuestion,
    *,
    team_id: int,
    judge: Judge | None = None,
    embedder: Embedder | None = None,
) -> QuestionResult:
    prepared = await answers.prepare(Question(query=item.question, team_id=team_id))
    ranked = prepared.retrieved.passages
    relevant = [any(s.matches(p) for s in item.supports) for p in ranked]
    context = [c.passage for c in prepared.context.citations]
    found = sum(1 for s in item.supports if any(s.matches(p) for p in context))
    result = QuestionResult(
        question=item.question,
        answerable=bool(item.supports),
        retrieved=[p.label for p in ranked],
        context=[p.label for p in context],
        context_precision=context_precision(relevant) if item.supports else float(not ranked),
        context_recall=context_recall(found, len(item.supports)),
        reciprocal_rank=reciprocal_rank(relevant) if item.supports else float(not ranked),
        answered=prepared.answerable,
    )
    if judge is None:
        return result  # the retrieval figures need no answer; the model is asked only for the judge
    parts = []
    async for event in answers.events(prepared):
        if isinstance(event, DeltaEvent):
            parts.append(event.text)
        elif isinstance(event, ErrorEvent):
            parts.append(f"(error: {event.code})")
    result.answer = "".join(parts)
    if prepared.answerable:
        prompt = faithfulness_prompt(item.question, prepared.context.render(), result.answer)
        reply = await judge(prompt)
        result.faithfulness = faithfulness_score(reply)
        result.judge.append({"metric": "faithfulness", "prompt": prompt, "reply": reply})
        prompt = relevance_prompt(result.answer)
        reply = await judge(prompt)
        if embedder is not None:
            result.answer_relevance = await asyncio.to_thread(answer_relevance_score, item.question, reply, embedder)
        result.judge.append({"metric": "answer_relevance", "prompt": prompt, "reply": reply})
    return result


def summarize(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    def mean(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return round(sum(known) / len(known), 4) if known else None

    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    return {
        "context_precision": mean([r.context_precision for r in answerable]),
        "context_recall": mean([r.context_recall for r in answerable]),
        "mrr": mean([r.reciprocal_rank for r in answerable]),
        "refused_when_unanswerable": mean([float(not r.answered) for r in unanswerable]),
        "faithfulness": mean([r.faithfulness for r in answerable]),
        "answer_relevance": mean([r.answer_relevance for r in answerable]),
    }


def write_corpus(root: Path) -> None:
    for relative, text in CORPUS.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


async def run(settings, corpus: Path, judge_model: str | None, record: Path | None) -> dict[str, float | None]:
    """Index the corpus for a team of its own and evaluate every question (the database must be open)."""
    from app.answers.setup import make_answers
    from app.db.repositories.identity import get_or_create_team
    from app.llm.providers.pool import ProviderPool
    from app.llm.registry import ModelRegistry
    from app.llm.router import LLMRouter
    from app.llm.types import LLMRequest, Message
    from app.search.service import SearchService

    search = SearchService(settings)
    team = await get_or_create_team("answer-eval")
    await search.index_path(corpus, team_id=team.id, name="eval-corpus")
    registry = ModelRegistry(settings.llm, settings.providers)
    providers = ProviderPool(settings.providers, settings.llm.router)
    router = LLMRouter(registry, providers, settings.llm.router)
    answers = make_answers(settings, search, registry, router)
    judge: Judge | None = None
    if judge_model:
        model = registry.get(judge_model)

        async def judge(prompt: str) -> str:
            request = LLMRequest(
                model=model.name, messages=(Message.user(prompt),), temperature=0, max_output_tokens=800, purpose="eval"
            )
            return (await router.complete(request)).text

    try:
        results = [
            await evaluate_question(answers, item, team_id=team.id, judge=judge, embedder=search.embedder())
            for item in QUESTIONS
        ]
    finally:
        await providers.aclose()
    if record is not None:
        with record.open("w", encoding="utf-8") as handle:
            for result in results:
                handle.write(json.dumps(asdict(result)) + "\n")
    return summarize(results)


def main() -> None:
    from app.cli.database import prepare_database
    from app.db.connection import close_database, open_database
    from app.runtime.config_loader import load_settings
    from app.runtime.stack import backing_services

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge", help="judge model (a name from llm.models); without it, retrieval figures only")
    parser.add_argument("--record", type=Path, help="write each question's result, judge prompts and replies here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="adjutant-answer-eval-") as tmp:
        Path(tmp).chmod(0o711)
        corpus = Path(tmp) / "corpus"
        write_corpus(corpus)
        # The user's models and keys, but an embedded database of its own: nothing is indexed into theirs.
        overrides = {("server", "data_dir"): str(Path(tmp) / "data"), ("database", "url"): "", ("redis", "url"): ""}
        settings = load_settings(overrides=overrides)

        async def go() -> dict[str, float | None]:
            with backing_services(settings, need_redis=False) as stack:
                await prepare_database(stack.database_url)
                await open_database(stack.database_url, settings.database)
                try:
                    return await run(settings, corpus, args.judge, args.record)
                finally:
                    await close_database()

        figures = asyncio.run(go())
    for name, value in figures.items():
        print(f"{name:<28} {'-' if value is None else f'{value:.3f}'}")


if __name__ == "__main__":
    main()
