"""The training curves of every run since the last reset, steps counted across runs (saved with the model)."""
from __future__ import annotations

import math

SMOOTHING = 0.9  # exponential smoothing of the noisy batch loss for the training curve


class TrainingHistory:
    """The curves of every run since the last reset, steps counted across runs.

    The keys match ``Trainer.history`` (and a saved model's history):
    ``step``, ``loss`` (batch loss), ``train_acc`` per step; ``test_step``, ``test_loss``,
    ``test_acc`` per test evaluation.
    """

    KEYS = ("step", "loss", "train_acc", "test_step", "test_loss", "test_acc")

    def __init__(self, data: dict | None = None):
        self.data = {key: [] for key in self.KEYS}
        if data:
            for key in self.KEYS:
                self.data[key] = [float(v) for v in data.get(key, [])]
        self.offset = 0  # steps of the runs before the current one
        self.smoothed_loss: list[float] = []  # the batch loss, smoothed as it arrives (redraws stay O(1) in Python)
        self._average = 0.0
        for value in self.data["loss"]:
            self._smooth(value)

    def _smooth(self, value: float) -> None:
        # An exponential moving average with bias correction, as TensorBoard smooths a curve.
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * value
        self.smoothed_loss.append(self._average / (1 - SMOOTHING ** (len(self.smoothed_loss) + 1)))

    def new_run(self) -> None:
        """The next progress belongs to a new run (or a new pass after a divergence): its steps count on from here."""
        self.offset = int(self.data["step"][-1]) if self.data["step"] else 0

    def add(self, progress) -> None:
        """Append one training ``Progress`` (a diverged step is not a point of the curve)."""
        step = self.offset + progress.step
        if progress.diverged:
            return  # the diverged step's weights were thrown away; its loss is not a point of the curve
        self.data["step"].append(step)
        self.data["loss"].append(progress.batch_loss)
        self._smooth(progress.batch_loss)
        self.data["train_acc"].append(progress.train_accuracy)
        # NOTE: an overflowing test loss is left out: it cannot be drawn, and a saved history must be finite
        if progress.test_fresh and progress.test_loss is not None and math.isfinite(progress.test_loss):
            self.data["test_step"].append(step)
            self.data["test_loss"].append(progress.test_loss)
            self.data["test_acc"].append(progress.test_accuracy)

    def as_dict(self) -> dict:
        return {key: list(values) for key, values in self.data.items()}

    def __len__(self) -> int:
        return len(self.data["step"])
