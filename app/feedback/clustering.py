"""Density clusters of candidate embeddings: DBSCAN over cosine distance, and what makes a cluster significant.

DBSCAN, not k-means: the number of topics is unknown and most feedback is noise that belongs to no topic. The
vectors are unit length, so cosine distance is `1 - a·b` and one matrix product gives every pair; a run
clusters at most a few thousand candidates, whose distance matrix fits in memory comfortably.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

NOISE = -1


def dbscan(vectors: Sequence[Sequence[float]], *, eps: float, min_samples: int) -> list[int]:
    """A label per vector: clusters numbered from 0 in order of their first member, NOISE for the rest.
    A point with at least `min_samples` points (itself included) within `eps` is a core point; a cluster
    is the core points reachable from one another and the border points within `eps` of them."""
    count = len(vectors)
    if count == 0:
        return []
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.clip(norms, 1e-12, None)
    distances = 1.0 - matrix @ matrix.T
    neighbours = [np.flatnonzero(row <= eps) for row in distances]
    core = np.array([len(n) >= min_samples for n in neighbours])
    labels = [NOISE] * count
    cluster = 0
    for start in range(count):
        if labels[start] != NOISE or not core[start]:
            continue
        labels[start] = cluster
        frontier = [start]
        while frontier:
            point = frontier.pop()
            for other in neighbours[point]:
                if labels[other] != NOISE:
                    continue
                labels[other] = cluster
                if core[other]:
                    frontier.append(int(other))
        cluster += 1
    return labels


def centroid(vectors: Sequence[Sequence[float]]) -> list[float]:
    """The unit-length mean direction of the vectors."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).tolist()


def central_index(vectors: Sequence[Sequence[float]]) -> int:
    """The member nearest the centroid: the most typical phrasing of the topic."""
    matrix = np.asarray(vectors, dtype=np.float64)
    return int(np.argmax(matrix @ np.asarray(centroid(vectors))))


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    va, vb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(va @ vb / max(float(np.linalg.norm(va) * np.linalg.norm(vb)), 1e-12))


@dataclass(frozen=True)
class Significance:
    min_count: int
    min_people: int
    recent_days: int

    def holds(self, *, count: int, people: int, last_seen: datetime, now: datetime) -> bool:
        """Enough messages, from enough different people, and still being said lately."""
        return (
            count >= self.min_count
            and people >= self.min_people
            and now - last_seen <= timedelta(days=self.recent_days)
        )
