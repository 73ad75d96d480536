"""ONNX Runtime backend for CPU hosts: the same model exported from PyTorch (fp32), or int8-quantised.

fp32 gives the PyTorch vectors (to ~1e-5); int8 is faster but changes the vectors (its cosine to fp32
is measured by bench/embed.py), so its vectors are stored under their own model name (`NAME#onnx-int8`)
and never mixed with fp32 ones. The export runs once per model and is cached in the data directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from filelock import FileLock

from harvest.embeddings.encoder import CPU_BATCH, Embeddings, input_limit, model_settings, position_limit
from harvest.errors import ConfigError
from harvest.model_files import model_dir

logger = logging.getLogger(__name__)

INT8_SUFFIX = "#onnx-int8"


def export_dir(cache_root: Path, name: str) -> Path:
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return cache_root / "onnx" / f"{Path(name).name or 'model'}-{digest}"


def export_model(name: str, target: Path) -> Path:
    """model.onnx for `name` (exported with torch.onnx's dynamo exporter: dynamic batch and length)."""
    path = target / "model.onnx"
    target.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target / ".export.lock")):
        if path.exists():
            return path
        import torch
        from transformers import AutoModel

        source = model_dir(name)
        model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

        class LastHiddenState(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(
                self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
            ) -> torch.Tensor:
                out = self.model(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                )
                return out.last_hidden_state  # type: ignore[no-any-return]

        # A real, padded sample: with an all-ones mask the exporter could fold the masking away.
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        tokenizer.enable_padding()
        encoded = tokenizer.encode_batch(
            ["a short text", "a somewhat longer text to force some padding here"]
        )
        ids = torch.tensor([e.ids for e in encoded])
        mask = torch.tensor([e.attention_mask for e in encoded])
        types = torch.tensor([e.type_ids for e in encoded])
        batch, length = torch.export.Dim("batch"), torch.export.Dim("length", max=512)
        shapes = {key: {0: batch, 1: length} for key in ("input_ids", "attention_mask", "token_type_ids")}
        partial = path.with_suffix(".partial")
        logger.info("exporting model to ONNX (once)", extra={"model": name, "path": str(path)})
        with warnings.catch_warnings():
            # the exporter's own deprecation chatter (torch internals) is noise for a one-off build step
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
            torch.onnx.export(
                LastHiddenState().eval(),
                (ids, mask, types),
                str(partial),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_shapes=shapes,
                dynamo=True,
                external_data=False,
            )
        partial.replace(path)
        return path


def quantized_model(fp32: Path) -> Path:
    path = fp32.with_name("model.int8.onnx")
    with FileLock(str(fp32.parent / ".export.lock")):
        if not path.exists():
            from onnxruntime.quantization import QuantType, quantize_dynamic

            partial = path.with_suffix(".partial")
            quantize_dynamic(str(fp32), str(partial), weight_type=QuantType.QInt8)
            partial.replace(path)
    return path


class OnnxEncoder:
    def __init__(
        self,
        name: str,
        cache_root: Path,
        *,
        int8: bool = False,
        threads: int = 0,
        batch_size: int = 0,
        max_tokens: int = 0,
        chunk_tokens: int = 0,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.base_name = name
        self.name = name + INT8_SUFFIX if int8 else name
        self.device = "cpu"
        source = model_dir(name)
        fp32 = export_model(name, export_dir(cache_root, name))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        self.session = ort.InferenceSession(
            str(quantized_model(fp32) if int8 else fp32), options, providers=["CPUExecutionProvider"]
        )
        config = (
            json.loads((source / "sentence_bert_config.json").read_text())
            if (source / "sentence_bert_config.json").exists()
            else {}
        )
        default = int(config.get("max_seq_length", 512))
        positions = position_limit(
            model_settings(source / "config.json").get("max_position_embeddings"),
            model_settings(source / "tokenizer_config.json").get("model_max_length"),
            default,
        )
        self.max_tokens = input_limit(default, positions, max_tokens, chunk_tokens)
        self.tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.pooling = _pooling_mode(source)
        self.batch_size = batch_size or CPU_BATCH
        self._lock = threading.Lock()
        self.dimension = int(self.encode(["dimension"]).vectors.shape[1])

    def encode(self, texts: list[str]) -> Embeddings:
        if not texts:
            return Embeddings(np.zeros((0, getattr(self, "dimension", 0)), dtype=np.float32), [], 0)
        encodings = self.tokenizer.encode_batch(texts)
        counts = [len(e.ids) for e in encodings]
        order = np.argsort([-n for n in counts], kind="stable")  # long ones together: little padding
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        out: list[np.ndarray | None] = [None] * len(texts)
        with self._lock:
            for start in range(0, len(texts), self.batch_size):
                index = order[start : start + self.batch_size]
                length = min(max(counts[i] for i in index), self.max_tokens)
                ids = np.zeros((len(index), length), dtype=np.int64)
                types = np.zeros_like(ids)
                mask = np.zeros_like(ids)
                for row, i in enumerate(index):
                    enc = encodings[i]
                    n = min(len(enc.ids), length)
                    ids[row, :n] = enc.ids[:n]
                    types[row, :n] = enc.type_ids[:n]
                    mask[row, :n] = 1
                    if len(enc.ids) > length:  # keep the closing [SEP] like the tokenizer's truncation does
                        ids[row, n - 1] = enc.ids[-1]
                hidden = self.session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
                )[0]
                pooled = _pool(hidden, mask, self.pooling)
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                for row, i in enumerate(index):
                    out[i] = pooled[row]
        vectors = np.vstack([v for v in out if v is not None]).astype(np.float32)
        truncated = sum(1 for n in counts if n > self.max_tokens)
        return Embeddings(vectors, counts, truncated)


def _pooling_mode(source: Path) -> str:
    config = source / "1_Pooling" / "config.json"
    if config.exists():
        settings = json.loads(config.read_text())
        if settings.get("pooling_mode_cls_token"):
            return "cls"
        if settings.get("pooling_mode_mean_tokens", True):
            return "mean"
    return "mean"


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0, :].copy()
    weights = mask[..., None].astype(np.float32)
    pooled: np.ndarray = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return pooled


@lru_cache(maxsize=4)
def load_onnx_encoder(
    name: str,
    cache_root: Path,
    int8: bool,
    threads: int,
    batch_size: int,
    max_tokens: int,
    chunk_tokens: int = 0,
) -> OnnxEncoder:
    try:
        return OnnxEncoder(
            name,
            cache_root,
            int8=int8,
            threads=threads,
            batch_size=batch_size,
            max_tokens=max_tokens,
            chunk_tokens=chunk_tokens,
        )
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"cannot build the ONNX backend for {name!r}: {error}") from error
