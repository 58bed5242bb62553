"""The local ONNX embedder (all-MiniLM-L6-v2) and the OpenAI embedder against a wire-level fake."""

from __future__ import annotations

import numpy as np
import pytest

from app.search.embeddings import LOCAL_DIMENSION, OpenAIEmbedder, local_embedder
from tests.fakes.llm_server import FakeLLMServer, Reply


@pytest.fixture(scope="module")
def embedder():
    return local_embedder()


def cosine(a, b) -> float:
    return float(np.dot(a, b))  # vectors are unit length


def test_local_vectors_have_the_fixed_dimension_and_unit_length(embedder):
    vectors = embedder.embed(["def add(a, b): return a + b", "x", "a much longer sentence " * 40])
    assert len(vectors) == 3
    for vector in vectors:
        assert len(vector) == LOCAL_DIMENSION == embedder.dimension
        assert abs(np.linalg.norm(vector) - 1.0) < 1e-5


def test_similar_meanings_are_closer_than_unrelated_ones(embedder):
    sort_a, sort_b, socket = embedder.embed(
        [
            "sort a list of numbers in ascending order",
            "order the items of an array from small to large",
            "open a TCP network connection to a remote host",
        ]
    )
    assert cosine(sort_a, sort_b) > cosine(sort_a, socket) + 0.15


def test_batching_and_order_do_not_change_a_text_s_vector(embedder):
    texts = [f"function number {i} " + "word " * (i * 7) for i in range(11)]
    together = embedder.embed(texts)
    alone = [embedder.embed([t])[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert cosine(a, b) > 0.9999
    assert cosine(together[0], together[10]) < 0.99  # and they are not all the same vector


def test_the_model_reads_256_tokens_not_the_shipped_128(embedder):
    head = "the parser reads configuration files " * 20  # ~120 tokens
    tail = "and then it uploads images to a storage bucket " * 8
    assert embedder.count_tokens([head + tail]) > 200
    # If truncation were at 128 tokens the tail would be invisible and both vectors identical.
    assert cosine(*embedder.embed([head, head + tail])) < 0.999


def test_openai_embeddings_are_requested_as_floats_batched_and_normalised():
    with FakeLLMServer() as fake:

        def reply(count: int, dim: int) -> Reply:
            # Out of order on purpose: the SDK's `index` decides the position.
            data = [{"object": "embedding", "index": i, "embedding": [float(i + 1)] * dim} for i in range(count)]
            return Reply(
                body={
                    "object": "list",
                    "data": list(reversed(data)),
                    "model": "m",
                    "usage": {"prompt_tokens": 3, "total_tokens": 3},
                }
            )

        embedder = OpenAIEmbedder("sk-test", "text-embedding-3-small", 8, base_url=fake.base_url + "/v1")
        embedder.batch_size = 2
        fake.queue(reply(2, 8), reply(1, 8))
        vectors = embedder.embed(["a", "b", "c"])
        assert len(vectors) == 3 and all(len(v) == 8 for v in vectors)
        assert all(abs(np.linalg.norm(v) - 1) < 1e-9 for v in vectors)
        assert [r.body["input"] for r in fake.requests] == [["a", "b"], ["c"]]
        first = fake.requests[0]
        assert first.path == "/v1/embeddings" and first.headers["authorization"] == "Bearer sk-test"
        assert first.body["encoding_format"] == "float" and first.body["dimensions"] == 8

        # A model that returns the wrong number of vectors is an error, never a silent misalignment.
        fake.queue(reply(1, 8))
        with pytest.raises(ValueError, match="1 embeddings for 2 texts"):
            embedder.embed(["a", "b"])
