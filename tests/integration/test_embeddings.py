"""Embeddings: the real model on CPU, the service over real HTTP, the embed stage into pgvector."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from harvest.crawl.runs import create_run, finish_run
from harvest.crawl.sources import add_source, source_id
from harvest.crawl.spec import parse_spec
from harvest.crawl.writer import CrawlWriter, PageOutcome
from harvest.db.engine import get_engine
from harvest.db.models import Chunk, ChunkEmbedding
from harvest.embeddings.backend import longest_chunk
from harvest.embeddings.client import EmbeddingsUnavailableError, ServiceEncoder
from harvest.embeddings.encoder import Embeddings, TorchEncoder, load_encoder
from harvest.embeddings.service import create_app
from harvest.embeddings.stage import embed_pending
from harvest.embeddings.store import activate_model, index_name, list_models
from harvest.model_files import model_dir
from harvest.process.runner import process_pending
from harvest.settings import DEFAULT_EMBEDDING_MODEL, Settings, settings_env
from tests.conftest import free_port, make_settings, run_cli

TOKEN = "service-token"
TOPICS = ["solar power", "river fishing", "jazz piano", "mountain hiking", "bread baking", "chess openings"]


@pytest.fixture(scope="module")
def encoder() -> TorchEncoder:
    # as the stages load it with the default settings (the model reads a whole default-sized chunk)
    return load_encoder(DEFAULT_EMBEDDING_MODEL, chunk_tokens=longest_chunk(make_settings()))


class CountingEncoder:
    """The real encoder, counting forward passes (to see micro-batching merge requests)."""

    def __init__(self, inner: TorchEncoder) -> None:
        self.inner = inner
        self.name, self.dimension, self.max_tokens, self.device = (
            inner.name,
            inner.dimension,
            inner.max_tokens,
            "cpu",
        )
        self.calls = 0

    def encode(self, texts: list[str]) -> Embeddings:
        self.calls += 1
        time.sleep(0.02)  # a slower device: requests pile up while one batch runs
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def service(encoder: TorchEncoder) -> Iterator[tuple[str, CountingEncoder]]:
    counting = CountingEncoder(encoder)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(counting, token=TOKEN, max_inputs=64, max_body_bytes=200_000),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    yield url, counting
    server.should_exit = True
    thread.join(timeout=10)


def test_vectors_are_normalised_and_shaped(encoder: TorchEncoder) -> None:
    result = encoder.encode(["a sunny day", "", "a rainy night"])
    assert result.vectors.shape == (3, 384) and result.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(result.vectors, axis=1), 1.0, atol=1e-5)
    assert result.truncated == 0


def test_a_default_sized_chunk_is_read_whole_beyond_the_models_stated_limit(encoder: TorchEncoder) -> None:
    """all-MiniLM-L6-v2 states 256 tokens and has 512 positions: a 320-token chunk (the default budget)
    is read whole, and what comes after the 256th token changes its vector; an explicit
    HARVEST_EMBEDDING_MAX_TOKENS still cuts it."""
    settings = make_settings()
    assert settings.chunk_max_tokens == 320
    # a full chunk plus a page tail too small to stand alone, and [CLS] and [SEP] around it
    assert encoder.max_tokens == 320 + settings.chunk_min_tokens + 1 + 2
    chunk = "the river floods the valley every spring " * 30 + "volcanic ash over the harbour " * 10
    counted = encoder.token_counts([chunk])[0]
    assert 256 < counted <= 322
    whole = encoder.encode([chunk])
    assert whole.truncated == 0
    cut = load_encoder(DEFAULT_EMBEDDING_MODEL, max_tokens=256).encode([chunk])
    assert cut.truncated == 1
    assert float(whole.vectors[0] @ cut.vectors[0]) < 0.999


def test_over_long_inputs_are_truncated_and_counted(encoder: TorchEncoder) -> None:
    result = encoder.encode(["word " * 2000, "short"])
    assert result.truncated == 1
    assert result.token_counts[0] > encoder.max_tokens


def test_an_openai_client_gets_normalised_vectors(service: tuple[str, CountingEncoder]) -> None:
    import openai

    client = openai.OpenAI(base_url=service[0] + "/v1", api_key=TOKEN)
    response = client.embeddings.create(model=DEFAULT_EMBEDDING_MODEL, input=["first text", "second text"])
    vectors = np.array([item.embedding for item in response.data])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert response.usage.prompt_tokens > 0
    models = client.models.list()
    assert [m.id for m in models.data] == [DEFAULT_EMBEDDING_MODEL]


def test_service_and_in_process_vectors_are_identical(
    service: tuple[str, CountingEncoder], encoder: TorchEncoder
) -> None:
    texts = [f"a note about {topic}" for topic in TOPICS]
    remote = ServiceEncoder(service[0], DEFAULT_EMBEDDING_MODEL, token=TOKEN).encode(texts)
    local = encoder.encode(texts)
    assert np.allclose(remote.vectors, local.vectors, atol=1e-5)


def test_concurrent_requests_are_micro_batched(service: tuple[str, CountingEncoder]) -> None:
    url, counting = service
    client = ServiceEncoder(url, DEFAULT_EMBEDDING_MODEL, token=TOKEN)
    before = counting.calls
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: client.encode([f"request {n} about {TOPICS[n % 6]}"]), range(16)))
    assert all(r.vectors.shape == (1, 384) for r in results)
    assert counting.calls - before < 16  # several requests shared a forward pass


@pytest.mark.parametrize(
    ("request_kwargs", "status", "message"),
    [
        ({"json": {"input": ["x"]}, "headers": {}}, 401, "bearer token"),
        ({"json": {"input": ["x"] * 65}}, 413, "limit is 64"),
        (
            {
                "content": b'{"input": "' + b"x" * 250_000 + b'"}',
                "headers": {"content-type": "application/json"},
            },
            413,
            "over the limit",
        ),
        ({"json": {"input": []}}, 422, "at least one"),
        ({"json": {"input": 42}}, 422, "input"),
        ({"json": {"input": ["x"], "model": "other-model"}}, 404, "not served here"),
    ],
)
def test_bad_requests_get_a_json_error(
    service: tuple[str, CountingEncoder], request_kwargs: dict[str, Any], status: int, message: str
) -> None:
    kwargs = {"headers": {"Authorization": f"Bearer {TOKEN}"}} | request_kwargs
    response = httpx.post(service[0] + "/v1/embeddings", **kwargs)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def test_a_service_that_is_down_is_one_readable_error() -> None:
    client = ServiceEncoder(f"http://127.0.0.1:{free_port()}", DEFAULT_EMBEDDING_MODEL, timeout_s=1)
    with pytest.raises(EmbeddingsUnavailableError, match="HARVEST_EMBEDDINGS_URL"):
        client.encode(["hello"])


def test_unknown_model_is_a_config_error(db_settings: Settings) -> None:
    env = {k: v for k, v in settings_env(db_settings).items() if k.startswith("HARVEST_")}
    result = run_cli("embed", "--model", "no-such-org/no-such-model", env=env)
    assert result.returncode == 78
    assert "not in the local Hugging Face cache" in result.stderr


# -- the embed stage --------------------------------------------------------------------------------
def make_chunks(settings: Settings, source: str, pages: int) -> int:
    engine = get_engine(settings)
    add_source(engine, parse_spec({"name": source, "start_urls": [f"https://{source}.example.org/"]}))
    run_id = create_run(engine, source)
    items = []
    for n in range(pages):
        paragraphs = "".join(
            f"<p>Note {n}.{k} on {TOPICS[(n + k) % 6]}: practical advice, common mistakes and the history "
            f"behind it, written for readers who want to learn about {TOPICS[k % 6]} step by step.</p>"
            for k in range(3)
        )
        html = f"<html><body><article><h1>Page {n} of {source}</h1>{paragraphs}</article></body></html>"
        items.append(
            PageOutcome(
                "fetched",
                url=f"https://{source}.example.org/{n}",
                body=html.encode(),
                content_type="text/html",
                http_status=200,
            )
        )
    from harvest.storage import open_raw_store

    with open_raw_store(settings) as raw:
        CrawlWriter(engine, raw, run_id=run_id, source_id=source_id(engine, source), source=source).write(
            items
        )
    finish_run(engine, run_id, "succeeded")
    process_pending(settings, source)
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Chunk)) or 0)


def vectors_per_chunk(settings: Settings, model_id: int) -> dict[str, int]:
    with Session(get_engine(settings)) as session:
        rows = session.execute(
            select(Chunk.id, func.count(ChunkEmbedding.chunk_id))
            .outerjoin(
                ChunkEmbedding, (ChunkEmbedding.chunk_id == Chunk.id) & (ChunkEmbedding.model_id == model_id)
            )
            .group_by(Chunk.id)
        ).all()
    return dict(rows)


def hnsw_index(settings: Settings, model_id: int) -> bool | None:
    """Whether the model's HNSW index is valid (None: there is none)."""
    with get_engine(settings).connect() as conn:
        valid = conn.execute(
            text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"),
            {"n": index_name(model_id)},
        ).scalar()
    return None if valid is None else bool(valid)


def test_embed_stage_is_complete_idempotent_and_switches_models_atomically(db_settings: Settings) -> None:
    settings = make_settings(**db_settings.model_dump() | {"embed_batch_chunks": 16})
    chunks = make_chunks(settings, "stage", 12)
    assert chunks > 0
    first = embed_pending(settings)
    assert first.embedded == chunks
    assert set(vectors_per_chunk(settings, first.model_id).values()) == {1}
    assert hnsw_index(settings, first.model_id) is True  # built after the first load
    assert embed_pending(settings).embedded == 0  # a rerun embeds nothing

    # the same weights under another name: a second model that can be switched to
    other = str(model_dir(DEFAULT_EMBEDDING_MODEL))
    second = embed_pending(settings, other)
    assert second.embedded == chunks
    engine = get_engine(settings)
    seen: list[int] = []
    stop = threading.Event()

    def search_while_switching() -> None:
        while not stop.is_set():
            with engine.connect() as conn:
                seen.append(
                    int(
                        conn.execute(
                            text(
                                "SELECT count(*) FROM chunk_embeddings e "
                                "JOIN embedding_models m ON m.id = e.model_id WHERE m.active"
                            )
                        ).scalar_one()
                    )
                )

    reader = threading.Thread(target=search_while_switching)
    reader.start()
    try:
        for _ in range(15):
            activate_model(engine, other)
            activate_model(engine, DEFAULT_EMBEDDING_MODEL)
    finally:
        stop.set()
        reader.join()
    assert seen and min(seen) == chunks  # never an empty (or half) index during a switch
    assert [m.name for m in list_models(engine) if m.active] == [DEFAULT_EMBEDDING_MODEL]


@pytest.mark.slow
def test_a_killed_embed_run_resumes_without_duplicates(db_settings: Settings) -> None:
    settings = make_settings(**db_settings.model_dump() | {"embed_batch_chunks": 4})
    make_chunks(settings, "killed", 60)
    engine = get_engine(settings)
    with Session(engine) as session:
        chunks = int(session.scalar(select(func.count()).select_from(Chunk)) or 0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "harvest", "embed"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and worker.poll() is None:
        with Session(engine) as session:
            done = int(session.scalar(select(func.count()).select_from(ChunkEmbedding)) or 0)
        if done >= 20:
            break
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    [default] = [m for m in list_models(engine) if m.name == DEFAULT_EMBEDDING_MODEL]
    assert 0 < default.vectors < chunks  # killed mid-run, whole batches written
    report = embed_pending(settings)
    counts = vectors_per_chunk(settings, report.model_id)
    assert len(counts) == chunks and set(counts.values()) == {1}
    assert report.embedded == chunks - default.vectors
    assert hnsw_index(settings, report.model_id) is True


def test_a_missing_index_is_built_by_a_run_with_nothing_to_embed(db_settings: Settings) -> None:
    settings = make_settings(**db_settings.model_dump() | {"embed_batch_chunks": 16})
    make_chunks(settings, "reindex", 4)
    report = embed_pending(settings)
    engine = get_engine(settings)
    with engine.begin() as conn:  # as a run killed during its first load leaves it
        conn.execute(text(f"DROP INDEX {index_name(report.model_id)}"))
    assert embed_pending(settings).embedded == 0
    assert hnsw_index(settings, report.model_id) is True


@pytest.mark.slow
def test_onnx_backends_match_pytorch_and_int8_is_kept_apart(tmp_path: Any, encoder: TorchEncoder) -> None:
    from harvest.embeddings.backend import get_encoder
    from harvest.embeddings.onnx_encoder import INT8_SUFFIX

    texts = [f"a paragraph about {topic}, with a few more words" for topic in TOPICS] + ["word " * 600]
    reference = encoder.encode(texts)
    fp32 = get_encoder(make_settings(data_dir=tmp_path, embedding_backend="onnx"))
    same = fp32.encode(texts)
    assert fp32.name == DEFAULT_EMBEDDING_MODEL
    assert np.allclose(same.vectors, reference.vectors, atol=1e-5)
    assert same.truncated == reference.truncated == 1
    int8 = get_encoder(make_settings(data_dir=tmp_path, embedding_backend="onnx-int8"))
    # the stored name alone picks the same encoder: search encodes queries like the vectors it searches
    assert get_encoder(make_settings(data_dir=tmp_path), DEFAULT_EMBEDDING_MODEL + INT8_SUFFIX) is int8
    approximate = int8.encode(texts).vectors
    assert int8.name == DEFAULT_EMBEDDING_MODEL + INT8_SUFFIX  # its vectors never mix with fp32 ones
    cosine = float(np.mean(np.sum(approximate * reference.vectors, axis=1)))
    assert 0.8 < cosine < 0.9999
