"""DBSCAN over cosine distance, the centroid and typical member of a cluster, significance, and ticket matching:
the pure parts of the workflow, on planted vectors whose answer is known."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from app.feedback.clustering import NOISE, Significance, central_index, centroid, dbscan
from app.feedback.matching import Topic, best_match, overlap, words


def direction(angle_degrees: float, axis: int = 0, size: int = 8) -> list[float]:
    """A unit vector in the plane of `axis` and `axis + 1`, `angle_degrees` from `axis`."""
    vector = [0.0] * size
    vector[axis] = math.cos(math.radians(angle_degrees))
    vector[axis + 1] = math.sin(math.radians(angle_degrees))
    return vector


def test_dense_groups_become_clusters_and_stragglers_are_noise():
    # Cosine distance 1 - cos(10°) ≈ 0.015 within a group; the groups are orthogonal (distance 1).
    first = [direction(a, 0) for a in (0, 5, 10)]
    second = [direction(a, 2) for a in (0, 8)]
    lonely = [direction(0, 4), direction(0, 6)]
    labels = dbscan(first + second + lonely, eps=0.05, min_samples=2)
    assert labels == [0, 0, 0, 1, 1, NOISE, NOISE]


def test_a_chain_of_neighbours_is_one_cluster_but_min_samples_needs_a_dense_core():
    # Each point is within eps of the next only: density-reachable end to end.
    chain = [direction(a) for a in (0, 20, 40, 60)]
    eps = 1 - math.cos(math.radians(21))
    assert dbscan(chain, eps=eps, min_samples=2) == [0, 0, 0, 0]
    # With three needed, only the inner points are cores; the ends are borders of the same cluster.
    assert dbscan(chain, eps=eps, min_samples=3) == [0, 0, 0, 0]
    assert dbscan(chain, eps=eps, min_samples=4) == [NOISE] * 4
    assert dbscan([], eps=0.1, min_samples=2) == []


def test_vectors_need_not_be_unit_length():
    assert dbscan([[2.0, 0.0], [0.0, 3.0], [5.0, 0.1]], eps=0.01, min_samples=2) == [0, NOISE, 0]


def test_the_centroid_is_the_unit_mean_direction_and_the_typical_member_is_nearest_it():
    members = [direction(0), direction(30), direction(60)]
    middle = centroid(members)
    assert math.isclose(math.hypot(*middle), 1.0)
    assert math.isclose(math.degrees(math.atan2(middle[1], middle[0])), 30.0, abs_tol=1e-6)
    assert central_index(members) == 1


def test_significance_needs_count_people_and_recency():
    rule = Significance(min_count=3, min_people=2, recent_days=30)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert rule.holds(count=3, people=2, last_seen=now - timedelta(days=30), now=now)
    assert not rule.holds(count=2, people=2, last_seen=now, now=now)
    assert not rule.holds(count=5, people=1, last_seen=now, now=now)  # one person saying it five times
    assert not rule.holds(count=5, people=3, last_seen=now - timedelta(days=31), now=now)


def test_a_cluster_matches_a_ticket_semantically_or_by_title_words():
    tickets = [
        Topic(1, "Windows install guide misses the PATH step", direction(0)),
        Topic(2, "Explain the search API rate limits", direction(0, 2)),
    ]
    near = best_match("anything at all", direction(20), tickets, min_similarity=0.9, min_overlap=0.5)
    assert near is not None and (near.ticket_id, near.by) == (1, "semantic")
    worded = best_match(
        "search API rate limits undocumented", direction(0, 4), tickets, min_similarity=0.9, min_overlap=0.5
    )
    assert worded is not None and (worded.ticket_id, worded.by) == (2, "lexical")
    assert best_match("lunch plans", direction(0, 4), tickets, min_similarity=0.9, min_overlap=0.5) is None


def test_title_overlap_ignores_case_punctuation_and_filler_words():
    assert words("The docs don't explain the PATH step!") == {"path", "step"}
    assert overlap("Where is the PATH step?", "PATH step missing") == 1.0
    assert overlap("", "anything") == 0.0
