"""`--finetune`: the sentence-transformers encoder is trained together with a linear head.

CUDA with mixed precision (bf16 where supported, else fp16 with a gradient scaler) when PyTorch sees a
GPU, else CPU. The result is logged as an MLflow pyfunc model that takes texts.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from harvest.train.head import TrainConfig, TrainResult, class_weights, seed_everything
from harvest.train.metrics import EpochMetrics, macro_f1, predict_labels

logger = logging.getLogger(__name__)

MAX_TOKENS = 256


class FinetunedClassifier(nn.Module):
    """A SentenceTransformer and a linear head; `probabilities(texts)` is inference."""

    def __init__(self, encoder: Any, classes: int, task: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.task = task
        self.head = nn.Linear(int(encoder.get_embedding_dimension()), classes)

    def logits(self, texts: list[str], device: str) -> torch.Tensor:
        features = self.encoder.tokenize(texts)
        features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
        embedding = self.encoder(features)["sentence_embedding"]
        embedding = nn.functional.normalize(embedding, dim=-1)
        out: torch.Tensor = self.head(embedding.float())
        return out

    def probabilities(self, texts: list[str], device: str, batch_size: int = 32) -> np.ndarray:
        self.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                logits = self.logits(texts[start : start + batch_size], device)
                probs = torch.sigmoid(logits) if self.task == "multilabel" else torch.softmax(logits, dim=-1)
                parts.append(probs.float().cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0, self.head.out_features), dtype=np.float32)


def load_encoder_for_training(path: Path, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(path), device=device)
    encoder.max_seq_length = min(int(encoder.max_seq_length or MAX_TOKENS), MAX_TOKENS)
    return encoder


def train_finetune(
    encoder_path: Path,
    texts_train: list[str],
    y_train: np.ndarray,
    texts_val: list[str],
    y_val: np.ndarray,
    classes: list[str],
    task: str,
    config: TrainConfig,
    *,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> tuple[TrainResult, str]:
    """Fine-tune; returns the result (best epoch's weights) and the device used."""
    generator = seed_everything(config.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = FinetunedClassifier(load_encoder_for_training(encoder_path, device), len(classes), task).to(
        device
    )
    weights = class_weights(y_train, len(classes), task).to(device)
    loss_fn: nn.Module = (
        nn.BCEWithLogitsLoss(pos_weight=weights)
        if task == "multilabel"
        else nn.CrossEntropyLoss(weight=weights)
    )
    optimizer = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": 2e-5},
            {"params": model.head.parameters(), "lr": config.learning_rate},
        ],
        weight_decay=config.weight_decay,
    )
    amp_dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=device == "cuda" and amp_dtype == torch.float16)
    yt = torch.from_numpy(y_train).to(device)
    has_val = len(texts_val) > 0
    eval_texts, eval_y = (texts_val, y_val) if has_val else (texts_train, y_train)
    best_f1, best_epoch, best_state, waited = -1.0, 0, copy.deepcopy(model.state_dict()), 0
    result = TrainResult(model=model, best_epoch=0)
    batch = min(config.batch_size, 16)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(texts_train), generator=generator).tolist()
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            optimizer.zero_grad()
            with torch.autocast(device_type=device, dtype=amp_dtype, enabled=device == "cuda"):
                logits = model.logits([texts_train[i] for i in idx], device)
            loss = loss_fn(logits.float(), yt[idx])
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += float(loss.item()) * len(idx)
            if checkpoint is not None:
                checkpoint()
        probabilities = model.probabilities(eval_texts, device)
        val_loss = (
            float(
                loss_fn(
                    torch.from_numpy(np.log(np.clip(probabilities, 1e-7, 1.0))), torch.from_numpy(eval_y)
                ).item()
            )
            if task == "classify"
            else 0.0
        )
        predicted = predict_labels(probabilities, task)
        f1 = macro_f1(eval_y, predicted, len(classes), task)
        accuracy = float(
            np.mean(np.all(predicted == eval_y, axis=-1) if task == "multilabel" else predicted == eval_y)
        )
        metrics = EpochMetrics(epoch, total / max(len(texts_train), 1), val_loss, f1, accuracy)
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        if f1 > best_f1 + 1e-9:
            best_f1, best_epoch, waited = f1, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if waited >= config.patience:
                result.stopped_early = True
                break
    model.load_state_dict(best_state)
    model.eval()
    result.best_epoch = best_epoch
    return result, device


def save_finetuned(model: FinetunedClassifier, classes: list[str], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    model.encoder.save(str(directory / "encoder"))
    torch.save(model.head.state_dict(), directory / "head.pt")
    (directory / "classes.json").write_text(json.dumps({"classes": classes, "task": model.task}))
    return directory


def load_finetuned(directory: Path, device: str = "cpu") -> FinetunedClassifier:
    meta = json.loads((directory / "classes.json").read_text())
    model = FinetunedClassifier(
        load_encoder_for_training(directory / "encoder", device), len(meta["classes"]), meta["task"]
    )
    model.head.load_state_dict(torch.load(directory / "head.pt", map_location=device, weights_only=True))
    return model.to(device).eval()


def pyfunc_model() -> Any:
    """MLflow's view of a fine-tuned model (texts in, one probability per label out); a factory, so importing
    this module does not import MLflow."""
    import mlflow.pyfunc

    class FinetunedPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
        def load_context(self, context: Any) -> None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
            self.model = load_finetuned(Path(context.artifacts["model"]), self.device)

        def predict(
            self, context: Any, model_input: list[str], params: dict[str, str] | None = None
        ) -> list[list[float]]:
            return [
                [float(p) for p in row]
                for row in self.model.probabilities([str(t) for t in model_input], self.device)
            ]

    return FinetunedPyfunc()
