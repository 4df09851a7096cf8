"""How a network does on a set of digits: accuracy, loss, confusion matrix, the worst mistakes."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits


@dataclass
class Evaluation:
    """How a network does on a set of digits.

    accuracy       fraction correct (NaN for an empty set)
    loss           mean cross-entropy (NaN for an empty set)
    confusion      (classes, classes) int64: row = true digit, column = predicted digit
    predictions    (N,) int64 predicted class
    probabilities  (N, classes) float32 softmax
    """

    accuracy: float
    loss: float
    confusion: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray


def evaluate(network: Network, digits: Digits, batch_size: int = 500) -> Evaluation:
    """Accuracy, loss, confusion matrix and per-image predictions of ``network`` on ``digits``."""
    classes = network.num_classes
    if len(digits) == 0:
        return Evaluation(math.nan, math.nan, np.zeros((classes, classes), np.int64), np.zeros(0, np.int64),
                          np.zeros((0, classes), np.float32))
    logits = network.forward(digits.images, batch_size=batch_size).astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    labels = digits.labels
    loss = float(np.mean(log_z - logits[np.arange(len(labels)), labels]))
    probabilities = np.exp(logits - log_z[:, None]).astype(np.float32)
    predictions = logits.argmax(axis=1).astype(np.int64)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    return Evaluation(float(np.mean(predictions == labels)), loss, confusion, predictions, probabilities)


def worst_mistakes(evaluation: Evaluation, digits: Digits, k: int = 16) -> np.ndarray:
    """Indices (into ``digits``) of up to ``k`` misclassified images, most confidently wrong first."""
    wrong = np.flatnonzero(evaluation.predictions != digits.labels)
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:k].astype(np.int64)
