"""Metrics shared by training, evaluation and retraining decisions (macro-F1 is the one that decides)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EpochMetrics:
    epoch: int
    train_loss: float
    val_loss: float
    val_macro_f1: float
    val_accuracy: float

    def as_dict(self) -> dict[str, float]:
        return {
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_macro_f1": self.val_macro_f1,
            "val_accuracy": self.val_accuracy,
        }


def predict_labels(probabilities: np.ndarray, task: str, threshold: float = 0.5) -> np.ndarray:
    if task == "multilabel":
        return (probabilities >= threshold).astype(np.float32)
    return np.asarray(probabilities.argmax(axis=1))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: int, task: str) -> float:
    """Macro-F1 over the labels present in truth or prediction (sklearn's definition)."""
    from sklearn.metrics import f1_score

    if len(y_true) == 0:
        return 0.0
    if task == "multilabel":
        return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    labels = sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def report(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], task: str) -> dict[str, Any]:
    """sklearn's classification report as a dict (per label precision/recall/F1/support, averages)."""
    from sklearn.metrics import classification_report

    if task == "multilabel":
        return dict(
            classification_report(y_true, y_pred, target_names=classes, output_dict=True, zero_division=0)
        )
    return dict(
        classification_report(
            y_true,
            y_pred,
            labels=list(range(len(classes))),
            target_names=classes,
            output_dict=True,
            zero_division=0,
        )
    )


def confusion_figure(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], task: str) -> Any:
    """A matplotlib figure of the confusion matrix (per label 2x2 blocks summed for multilabel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

    size = max(4.0, 0.5 * len(classes) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    if task == "multilabel":
        blocks = multilabel_confusion_matrix(y_true, y_pred)
        matrix = np.array([[b[1, 1], b[1, 0]] for b in blocks])  # true positives, missed
        axes.imshow(matrix, cmap="Blues")
        axes.set_xticks([0, 1], ["found", "missed"])
        axes.set_yticks(range(len(classes)), classes)
    else:
        matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
        axes.imshow(matrix, cmap="Blues")
        axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        axes.set_yticks(range(len(classes)), classes)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
    for (i, j), value in np.ndenumerate(matrix):
        axes.text(j, i, str(int(value)), ha="center", va="center", fontsize=8)
    axes.set_title("confusion matrix (test split)")
    figure.tight_layout()
    return figure
