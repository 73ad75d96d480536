"""The default model: a small PyTorch classifier over the stored document vectors (no re-embedding).

Class-weighted loss, AdamW, early stopping on validation macro-F1, fixed seeds: the same snapshot and seed
give the same weights and metrics. `forward` returns probabilities (softmax for `classify`, sigmoid for
`multilabel`), which is what the logged MLflow model serves.
"""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from harvest.train.metrics import EpochMetrics, macro_f1, predict_labels

logger = logging.getLogger(__name__)


class ClassifierHead(nn.Module):
    """vector → hidden layer → one logit per label; `forward` gives probabilities."""

    def __init__(
        self, dimension: int, classes: int, task: str, hidden: int = 256, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.task = task
        self.net = nn.Sequential(
            nn.Dropout(dropout / 2),
            nn.Linear(dimension, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )

    def logits(self, vectors: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(vectors)
        return out

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        logits = self.logits(vectors)
        return torch.sigmoid(logits) if self.task == "multilabel" else torch.softmax(logits, dim=-1)


@dataclass
class TrainConfig:
    epochs: int
    patience: int
    batch_size: int
    learning_rate: float
    seed: int
    weight_decay: float = 1e-4
    hidden: int = 256


@dataclass
class TrainResult:
    model: nn.Module
    best_epoch: int
    history: list[EpochMetrics] = field(default_factory=list)
    stopped_early: bool = False


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def targets(labels: list[list[str]], classes: list[str], task: str) -> np.ndarray:
    index = {name: i for i, name in enumerate(classes)}
    if task == "multilabel":
        out = np.zeros((len(labels), len(classes)), dtype=np.float32)
        for row, names in enumerate(labels):
            for name in names:
                if name in index:
                    out[row, index[name]] = 1.0
        return out
    return np.asarray([index[names[0]] for names in labels], dtype=np.int64)


def class_weights(y: np.ndarray, classes: int, task: str) -> torch.Tensor:
    """Inverse-frequency weights (classify), or positive weights neg/pos (multilabel), from training."""
    if task == "multilabel":
        positives = y.sum(axis=0)
        negatives = len(y) - positives
        return torch.tensor(np.clip(negatives / np.maximum(positives, 1), 0.1, 100.0), dtype=torch.float32)
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    weights = len(y) / (classes * np.maximum(counts, 1))
    return torch.tensor(weights, dtype=torch.float32)


def train_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    classes: list[str],
    task: str,
    config: TrainConfig,
    *,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> TrainResult:
    """Train with early stopping on validation macro-F1 (train macro-F1 when there is no validation split)."""
    generator = seed_everything(config.seed)
    model = ClassifierHead(x_train.shape[1], len(classes), task, hidden=config.hidden)
    weights = class_weights(y_train, len(classes), task)
    loss_fn: nn.Module = (
        nn.BCEWithLogitsLoss(pos_weight=weights)
        if task == "multilabel"
        else nn.CrossEntropyLoss(weight=weights)
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    has_val = len(x_val) > 0
    xv, yv = (torch.from_numpy(x_val), y_val) if has_val else (xt, y_train)
    best_f1, best_epoch, best_state, waited = -1.0, 0, copy.deepcopy(model.state_dict()), 0
    result = TrainResult(model=model, best_epoch=0)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(xt), generator=generator)
        total_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model.logits(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total_loss += float(loss.item()) * len(idx)
        model.eval()
        with torch.no_grad():
            val_logits = model.logits(xv)
            val_loss = float(loss_fn(val_logits, torch.from_numpy(np.asarray(yv))).item())
            probabilities = model(xv).numpy()
        predicted = predict_labels(probabilities, task)
        f1 = macro_f1(np.asarray(yv), predicted, len(classes), task)
        accuracy = float(
            np.mean(np.all(predicted == yv, axis=-1) if task == "multilabel" else predicted == yv)
        )
        metrics = EpochMetrics(epoch, total_loss / max(len(xt), 1), val_loss, f1, accuracy)
        result.history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        if checkpoint is not None:
            checkpoint()
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
    return result


def predict_proba(model: nn.Module, vectors: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out: Any = model(torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)))
    return np.asarray(out.numpy())
