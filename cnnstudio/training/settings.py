"""Training settings: everything that decides a run, validated with a reason and a fix (saved with the model)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from cnnstudio.engine import SGD, Adam

OPTIMIZERS = ("adam", "sgd")
DATA_SOURCES = ("mnist", "mnist-full", "fashion", "idx", "mine", "mix")


@dataclass
class TrainingSettings:
    """Everything that decides a training run (saved with the model).

    optimizer      "adam" or "sgd" (with momentum)
    learning_rate  step size; Adam likes ~1e-3..3e-3, SGD ~0.01..0.1
    momentum       SGD only
    batch_size     images per step
    epochs         passes over the training set
    weight_decay   L2 (SGD) / decoupled (Adam) weight decay; 0 = off
    shift_augment  each training image is moved by up to this many pixels in x and y (zero fill); 0 = off
    seed           seeds the shuffling and the shifts (the network's initial weights are seeded elsewhere)
    data           "mnist" (the shipped 5,000 digits), "mnist-full" (all 70,000), "fashion" (Fashion-MNIST, when
                   installed), "idx" (user's IDX files), "mine" (My digits), "mix" (MNIST 5k + mine)
    """

    optimizer: str = "adam"
    learning_rate: float = 2e-3
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 5
    weight_decay: float = 0.0
    shift_augment: int = 0
    seed: int = 0
    data: str = "mnist"

    def validate(self) -> TrainingSettings:
        """Raise ``ValueError`` with the reason and a fix for an impossible setting; return self."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is unknown. Fix: choose 'adam' or 'sgd'.")
        if not _is_number(self.learning_rate) or not self.learning_rate > 0:
            raise ValueError(f"learning rate {self.learning_rate!r} must be a number above 0. "
                             f"Fix: try {2e-3 if self.optimizer == 'adam' else 0.05}.")
        if not _is_number(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum {self.momentum!r} must be at least 0 and below 1. Fix: try 0.9.")
        if not _is_whole(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"batch size {self.batch_size!r} must be a whole number of at least 1. Fix: try 32.")
        if not _is_whole(self.epochs) or self.epochs < 1:
            raise ValueError(f"epochs {self.epochs!r} must be a whole number of at least 1. Fix: try 5.")
        if not _is_number(self.weight_decay) or not 0 <= self.weight_decay < 1:
            raise ValueError(f"weight decay {self.weight_decay!r} must be at least 0 and below 1. "
                             f"Fix: use 0 (off) or a small value such as 1e-4.")
        if not _is_whole(self.shift_augment) or not 0 <= self.shift_augment <= 8:
            raise ValueError(f"shift augmentation {self.shift_augment!r} must be a whole number of pixels from "
                             f"0 to 8. Fix: use 0 (off) or 2.")
        if not _is_whole(self.seed) or self.seed < 0:
            raise ValueError(f"seed {self.seed!r} must be a whole number of at least 0. Fix: use 0.")
        if self.data not in DATA_SOURCES:
            raise ValueError(f"data {self.data!r} is unknown. Fix: choose one of {', '.join(DATA_SOURCES)}.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainingSettings:
        """Settings from a dict (keys this version does not know are ignored), validated."""
        if not isinstance(data, dict):
            raise ValueError(f"training settings must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}).validate()


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)) \
        and math.isfinite(value)


def _is_whole(value) -> bool:
    return _is_number(value) and int(value) == value


def make_optimizer(settings: TrainingSettings):
    if settings.optimizer == "adam":
        return Adam(lr=settings.learning_rate, weight_decay=settings.weight_decay)
    return SGD(lr=settings.learning_rate, momentum=settings.momentum, weight_decay=settings.weight_decay)
