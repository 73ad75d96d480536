"""The CUDA path of the encoder: half precision, GPU batches, same vectors as the CPU (within fp16)."""

from __future__ import annotations

import numpy as np
import pytest

from harvest.embeddings.encoder import CUDA_BATCH, TorchEncoder, load_encoder
from harvest.settings import DEFAULT_EMBEDDING_MODEL


@pytest.mark.gpu
def test_cuda_encoder_uses_half_precision_and_matches_cpu() -> None:
    import torch

    gpu = TorchEncoder(DEFAULT_EMBEDDING_MODEL, device="cuda")
    assert gpu.device == "cuda" and gpu.batch_size == CUDA_BATCH
    assert next(gpu.model.parameters()).dtype in (torch.float16, torch.bfloat16)
    texts = [f"a sentence about topic {n}" for n in range(300)]
    on_gpu = gpu.encode(texts).vectors
    on_cpu = load_encoder(DEFAULT_EMBEDDING_MODEL, "cpu").encode(texts).vectors
    assert np.allclose(np.linalg.norm(on_gpu, axis=1), 1.0, atol=1e-2)
    assert float(np.mean(np.sum(on_gpu * on_cpu, axis=1))) > 0.99
