"""Feedback clustering and deduplication, measured on a generated set whose topics are known.

Sixteen documentation topics, each said many ways by different people (a subject phrase from a few synonyms
in a sentence frame from many), mixed with chit-chat that is about no topic. The harness embeds every message
with the local model, clusters with DBSCAN under the configured `feedback.eps` / `feedback.min_samples`
(or the ones given), and prints:

- purity: the share of clustered messages that belong to their cluster's majority topic;
- noise kept out: the share of chit-chat messages left as noise;
- adjusted Rand index of the clustering against the topics (noise as its own label per message);
- duplicate detection F1: half the topics have an existing ticket whose title is worded differently; every
  significant cluster is matched against the tickets (`feedback.match_similarity` / `match_overlap`), and a
  right match is a true positive, a wrong or missing one a false negative, a match where no ticket exists a
  false positive;
- the run time of embedding and of clustering.

Prints figures; asserts nothing.

    uv run --no-sync python bench/feedback_eval.py [--per-topic 20] [--noise 80] [--eps 0.55] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

import numpy as np

from app.feedback.clustering import NOISE, central_index, centroid, dbscan
from app.feedback.matching import Topic, best_match
from app.runtime.config_loader import load_settings
from app.search.embeddings import local_embedder

# topic -> (subject phrases, the title of an existing ticket or None)
TOPICS: dict[str, tuple[list[str], str | None]] = {
    "webhook-secret": (
        ["the Jira webhook secret", "where the webhook signing secret goes", "the secret for Jira webhooks"],
        "Jira webhooks: document where the signing secret is configured",
    ),
    "search-limits": (
        ["the search API rate limits", "how many code search requests per minute are allowed", "search 429 limits"],
        None,
    ),
    "windows-path": (
        ["adding the binary to PATH on Windows", "the Windows PATH step", "PATH after the Windows install"],
        "Windows installation guide misses the PATH step",
    ),
    "docker-volumes": (
        ["which Docker volume keeps the data", "persisting data with Docker volumes", "the Docker data directory"],
        None,
    ),
    "token-expiry": (
        ["how long API tokens last", "API token expiry", "when an access token expires"],
        "Explain API token lifetime and renewal",
    ),
    "kafka-setup": (
        ["using Kafka instead of Redis for jobs", "the Kafka job backend setup", "configuring Kafka brokers"],
        None,
    ),
    "slack-scopes": (
        ["the Slack bot scopes needed", "which OAuth scopes the Slack app needs", "Slack permissions for the bot"],
        "List the Slack app's required OAuth scopes",
    ),
    "model-fallback": (
        ["how model fallback works", "what happens when the first model fails", "the router's fallback order"],
        None,
    ),
    "review-rules": (
        ["the .adjutant.toml review rules", "writing review rules per repository", "review rule syntax"],
        "Reference for review rules in .adjutant.toml",
    ),
    "embedding-dims": (
        ["changing the embedding dimension", "switching to OpenAI embeddings", "reindexing after an embedding change"],
        None,
    ),
    "sso-login": (
        ["logging in with SSO", "single sign-on setup", "connecting our identity provider"],
        "Document single sign-on configuration",
    ),
    "backup-restore": (
        ["backing up the database", "restoring from a backup", "the backup procedure for PostgreSQL"],
        None,
    ),
    "proxy": (
        ["running behind a corporate proxy", "HTTPS proxy settings", "the outbound proxy configuration"],
        "How to run Adjutant behind an HTTP proxy",
    ),
    "schedules-tz": (
        ["schedule time zones", "which time zone cron schedules use", "daylight saving in schedules"],
        None,
    ),
    "local-model": (
        ["running the local model offline", "the embedded local LLM", "using a local GGUF model"],
        "Guide to the embedded local model",
    ),
    "metrics": (
        ["the Prometheus metrics", "which metrics are exported", "scraping metrics from the service"],
        None,
    ),
}
FRAMES = [
    "The docs don't explain {s}.",
    "Where is {s} documented? I can't find it.",
    "I looked everywhere for {s} in the documentation, nothing.",
    "Is there a page about {s}? Stuck for an hour.",
    "Documentation is missing {s}, please add it",
    "Docs are outdated on {s}",
    "nothing in the guide about {s} :(",
    "{S} — is this written down anywhere?",
    "Could someone point me to the docs for {s}?",
    "The page on {s} is wrong, it describes the old behaviour",
    "hey, quick q: {s}? the docs say nothing",
    "We spent a day figuring out {s} because the docs skip it",
]
NOISE_OPENERS = ["", "hey all, ", "fyi ", "quick one: ", "ok so ", "morning! ", "heads up, ", "lol "]
NOISE_TEXTS = [
    "thanks everyone",
    "anyone up for lunch?",
    "great release, well done team",
    "I'll be out tomorrow",
    "can someone review my PR?",
    "the build is green again",
    "happy friday",
    "who is on call this week?",
    "nice, that worked",
    "meeting moved to 3pm",
    "welcome to the channel",
    "is the office open on monday?",
    "merged, thanks",
    "coffee machine is fixed",
    "the demo went well",
    "pushing the hotfix now",
    "my laptop died again",
    "retro notes are in the wiki",
    "who broke the staging deploy",
    "congrats on the launch",
]


def generate(per_topic: int, noise: int, rng: random.Random) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for topic, (subjects, _) in TOPICS.items():
        for _ in range(per_topic):
            subject = rng.choice(subjects)
            frame = rng.choice(FRAMES)
            texts.append(frame.format(s=subject, S=subject[:1].upper() + subject[1:]))
            labels.append(topic)
    for _ in range(noise):
        texts.append(rng.choice(NOISE_OPENERS) + rng.choice(NOISE_TEXTS) + rng.choice(["", "!", " :)", " 👍", "?"]))
        labels.append("noise")
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], [labels[i] for i in order]


def adjusted_rand_index(truth: list[str], predicted: list[str]) -> float:
    def pairs(n: np.ndarray) -> float:
        return float((n * (n - 1) / 2).sum())

    truth_ids = {t: i for i, t in enumerate(sorted(set(truth)))}
    pred_ids = {p: i for i, p in enumerate(sorted(set(predicted)))}
    table = np.zeros((len(truth_ids), len(pred_ids)))
    for t, p in zip(truth, predicted, strict=True):
        table[truth_ids[t], pred_ids[p]] += 1
    index = pairs(table)
    rows, columns = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * columns / pairs(np.array([len(truth)]))
    maximum = (rows + columns) / 2
    return (index - expected) / (maximum - expected) if maximum != expected else 1.0


def main() -> None:
    settings = load_settings(include_config_file=False).feedback
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-topic", type=int, default=20)
    parser.add_argument("--noise", type=int, default=80)
    parser.add_argument("--eps", type=float, default=settings.eps)
    parser.add_argument("--min-samples", type=int, default=settings.min_samples)
    parser.add_argument("--match-similarity", type=float, default=settings.match_similarity)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts, labels = generate(args.per_topic, args.noise, rng)

    embedder = local_embedder()
    embedder.embed(["warm up"])
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    embedded_s = time.perf_counter() - started
    started = time.perf_counter()
    found = dbscan(vectors, eps=args.eps, min_samples=args.min_samples)
    clustered_s = time.perf_counter() - started

    clusters: dict[int, list[int]] = {}
    for index, label in enumerate(found):
        if label != NOISE:
            clusters.setdefault(label, []).append(index)
    clustered = sum(len(m) for m in clusters.values())
    majority = sum(Counter(labels[i] for i in m).most_common(1)[0][1] for m in clusters.values())
    purity = majority / clustered if clustered else 0.0
    noise_total = labels.count("noise")
    noise_kept_out = sum(1 for i, label in enumerate(labels) if label == "noise" and found[i] == NOISE) / noise_total
    predicted = [f"c{label}" if label != NOISE else f"noise{i}" for i, label in enumerate(found)]
    truth = [label if label != "noise" else f"noise{i}" for i, label in enumerate(labels)]
    ari = adjusted_rand_index(truth, predicted)

    titles = {topic: title for topic, (_, title) in TOPICS.items() if title}
    ticket_vectors = embedder.embed(list(titles.values()))
    tickets = [Topic(i, title, v) for i, (title, v) in enumerate(zip(titles.values(), ticket_vectors, strict=True))]
    ticket_topic = dict(enumerate(titles))
    tp = fp = fn = 0
    for members in clusters.values():
        if len(members) < settings.min_count:
            continue
        topic = Counter(labels[i] for i in members).most_common(1)[0][0]
        member_vectors = [vectors[i] for i in members]
        title = texts[members[central_index(member_vectors)]]
        match = best_match(
            title,
            centroid(member_vectors),
            tickets,
            min_similarity=args.match_similarity,
            min_overlap=settings.match_overlap,
        )
        expected = topic in titles
        if match is not None and expected and ticket_topic[match.ticket_id] == topic:
            tp += 1
        elif match is not None:
            fp += 1
            fn += int(expected)
        elif expected:
            fn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    print(
        f"messages: {len(texts)} ({len(TOPICS)} topics x {args.per_topic}, {noise_total} noise); "
        f"eps={args.eps} min_samples={args.min_samples} match_similarity={args.match_similarity}"
    )
    print(f"clusters: {len(clusters)}; clustered messages: {clustered}")
    print(f"purity: {purity:.3f}   noise kept out: {noise_kept_out:.3f}   adjusted Rand index: {ari:.3f}")
    print(f"duplicate detection: precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f} (tp={tp} fp={fp} fn={fn})")
    print(
        f"run time: embedding {embedded_s:.2f} s ({len(texts) / embedded_s:.0f} messages/s), "
        f"clustering {clustered_s * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
