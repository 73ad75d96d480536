"""Serving: the version behind `production`, loaded once and reloaded when the alias moves (no restart).

Each call asks the registry which version `production` points at (one small query); a different version is
loaded before answering, so a promotion or rollback takes effect on the next request. Texts are encoded with
the embedding model the version was trained on — which must be the active one — and concurrent requests are
merged into one encoder batch (see `batching`).
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from harvest.db.engine import get_engine
from harvest.errors import ConflictError, InvalidInputError, NotFoundError
from harvest.settings import Settings
from harvest.train.batching import Batcher
from harvest.train.registry import VersionView, production_version
from harvest.train.rows import document_vectors
from harvest.train.snapshots import active_embedding_model

logger = logging.getLogger(__name__)

SEGMENT_WORDS = 150  # a long text is encoded in paragraph groups of about this size and averaged


@dataclass(frozen=True)
class PredictionOut:
    label: str
    labels: list[str]
    score: float
    probabilities: dict[str, float]
    model: str
    version: int
    document_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "label": self.label,
            "labels": self.labels,
            "score": round(self.score, 6),
            "probabilities": {k: round(v, 6) for k, v in self.probabilities.items()},
            "model": self.model,
            "model_version": self.version,
        }
        if self.document_id is not None:
            data["document_id"] = self.document_id
        return data


class LoadedModel:
    def __init__(self, version: VersionView, model: Any) -> None:
        self.version = version
        self.model = model
        self.classes = version.classes
        self.task = version.task
        self.lock = threading.Lock()

    def probabilities_from_vectors(self, vectors: np.ndarray) -> np.ndarray:
        import torch

        with self.lock, torch.no_grad():
            out = self.model(torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)))
        return np.asarray(out.numpy() if hasattr(out, "numpy") else out)

    def probabilities_from_texts(self, texts: list[str]) -> np.ndarray:
        with self.lock:
            return np.asarray(self.model.predict(texts), dtype=np.float32)

    def outputs(self, probabilities: np.ndarray, ids: list[int | None]) -> list[PredictionOut]:
        results = []
        for row, doc in zip(probabilities, ids, strict=True):
            probs = {name: float(p) for name, p in zip(self.classes, row, strict=True)}
            best = int(np.argmax(row))
            labels = (
                [n for n, p in probs.items() if p >= 0.5]
                if self.task == "multilabel"
                else [self.classes[best]]
            )
            results.append(
                PredictionOut(
                    label=self.classes[best],
                    labels=labels,
                    score=float(row[best]),
                    probabilities=probs,
                    model=self.version.name,
                    version=self.version.version,
                    document_id=doc,
                )
            )
        return results


def segments(text: str) -> list[str]:
    """Paragraph groups of about SEGMENT_WORDS words (encoded; their mean is the text's vector)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()] or [text.strip()]
    groups: list[str] = []
    current: list[str] = []
    words = 0
    for paragraph in paragraphs:
        count = len(paragraph.split())
        if current and words + count > SEGMENT_WORDS:
            groups.append("\n\n".join(current))
            current, words = [], 0
        current.append(paragraph)
        words += count
    if current:
        groups.append("\n\n".join(current))
    return groups


class Predictor:
    """Predictions with each model's production version; one per API process (or CLI command)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._models: dict[str, LoadedModel] = {}
        self._load_lock = threading.Lock()
        self._batcher = Batcher(self._encode_segments, max_batch=settings.predict_batch_size * 4)

    def model(self, name: str) -> LoadedModel:
        version = production_version(self.settings, name)
        loaded = self._models.get(name)
        if loaded is not None and loaded.version.version == version.version:
            return loaded
        with self._load_lock:
            loaded = self._models.get(name)
            if loaded is None or loaded.version.version != version.version:
                loaded = LoadedModel(version, _load(self.settings, version))
                self._models[name] = loaded
                logger.info("loaded model", extra={"model": name, "version": version.version})
        return loaded

    def _check_embedding_model(self, loaded: LoadedModel) -> tuple[int, str, int]:
        active = active_embedding_model(get_engine(self.settings))
        trained = loaded.version.embedding_model
        if loaded.version.kind == "head" and trained != active[1]:
            raise ConflictError(
                f"model {loaded.version.name!r} version {loaded.version.version} was trained on vectors of "
                f"{trained!r} but the active embedding model is {active[1]!r}; retrain it "
                f"(`harvest train {loaded.version.dataset or 'DATASET'}`) or activate {trained!r}"
            )
        return active

    def predict_texts(self, name: str, texts: list[str]) -> list[PredictionOut]:
        self._check_inputs(texts)
        loaded = self.model(name)
        if loaded.version.kind != "head":
            return loaded.outputs(loaded.probabilities_from_texts(texts), [None] * len(texts))
        self._check_embedding_model(loaded)
        vectors = self._text_vectors(loaded.version.embedding_model or "", texts)
        return loaded.outputs(loaded.probabilities_from_vectors(vectors), [None] * len(texts))

    def predict_documents(self, name: str, document_ids: list[int]) -> list[PredictionOut]:
        self._check_inputs(document_ids)
        loaded = self.model(name)
        texts = _document_texts(self.settings, document_ids)
        if loaded.version.kind != "head":
            return loaded.outputs(
                loaded.probabilities_from_texts([texts[d] for d in document_ids]), list(document_ids)
            )
        model_id, model_name, dimension = self._check_embedding_model(loaded)
        stored = document_vectors(get_engine(self.settings), model_id, dimension, list(document_ids))
        missing = [d for d in document_ids if d not in stored]
        encoded = (
            dict(zip(missing, self._text_vectors(model_name, [texts[d] for d in missing]), strict=True))
            if missing
            else {}
        )
        vectors = np.asarray(
            [
                _unit(np.asarray(stored[d], dtype=np.float32)) if d in stored else encoded[d]
                for d in document_ids
            ],
            dtype=np.float32,
        )
        return loaded.outputs(loaded.probabilities_from_vectors(vectors), list(document_ids))

    def _check_inputs(self, items: list[Any]) -> None:
        if not items:
            raise InvalidInputError("nothing to predict: send at least one text or document id")
        if len(items) > self.settings.predict_max_inputs:
            raise InvalidInputError(
                f"{len(items)} inputs in one request; the limit is {self.settings.predict_max_inputs} "
                "(HARVEST_PREDICT_MAX_INPUTS)"
            )

    def _text_vectors(self, model_name: str, texts: list[str]) -> np.ndarray:
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError("every text must be a non-empty string")
        parts = [segments(text) for text in texts]
        flat = [segment for group in parts for segment in group]
        encoded = self._batcher.submit(model_name, flat)
        out = []
        offset = 0
        for group in parts:
            out.append(_unit(encoded[offset : offset + len(group)].mean(axis=0)))
            offset += len(group)
        return np.asarray(out, dtype=np.float32)

    def _encode_segments(self, model_name: str, texts: list[str]) -> np.ndarray:
        from harvest.embeddings.backend import get_encoder

        encoder = get_encoder(self.settings, model_name)
        size = self.settings.predict_batch_size
        parts = [encoder.encode(texts[i : i + size]).vectors for i in range(0, len(texts), size)]
        return np.concatenate(parts).astype(np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _load(settings: Settings, version: VersionView) -> Any:
    from harvest.train import tracking

    tracking.client(settings)
    uri = f"models:/{version.name}/{version.version}"
    if version.kind == "head":
        import mlflow.pytorch

        return mlflow.pytorch.load_model(uri, dst_path=tempfile.mkdtemp(prefix="harvest-model-"))
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(uri, dst_path=tempfile.mkdtemp(prefix="harvest-model-"))


def _document_texts(settings: Settings, document_ids: list[int]) -> dict[int, str]:
    from sqlalchemy import select

    from harvest.db.models import Document

    for doc in document_ids:
        if not isinstance(doc, int) or not 1 <= doc < 2**63:
            raise InvalidInputError(f"{doc!r} is not a document id")
    with get_engine(settings).connect() as conn:
        rows = conn.execute(
            select(Document.id, Document.title, Document.text).where(Document.id.in_(document_ids))
        ).all()
    found = {row.id: f"{row.title or ''}\n\n{row.text}".strip() for row in rows}
    missing = [d for d in document_ids if d not in found]
    if missing:
        raise NotFoundError(f"no document {missing[0]} (see `harvest documents list`)")
    return found
