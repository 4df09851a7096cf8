"""Where a training run is: the one ``Progress`` record every training loop yields."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Where a training run is, yielded after every step.

    epoch            1-based epoch of this step (of ``epochs``)
    step             steps done so far (1-based; ``step / total_steps`` is the fraction done)
    samples_seen     training images used so far
    loss             mean loss over this epoch's steps so far (``batch_loss``: this step's alone)
    train_accuracy   fraction of this epoch's training images classified right so far (before each step)
    test_loss, test_accuracy   of the latest test evaluation (None before the first)
    test_fresh       True when the test figures were computed at this step
    samples_per_second, seconds_left   measured speed and the time it predicts for the rest
    finished         the last progress of a run that did all its epochs
    diverged         the last progress of a run stopped because it diverged (see ``message``)
    message          a sentence for the user (epoch summaries, the end, divergence), else ""
    warning          at an epoch end, why the run looks stuck and what to do (also at the end of ``message``), else ""
    """

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    total_steps: int
    samples_seen: int
    loss: float
    batch_loss: float
    train_accuracy: float
    test_loss: float | None
    test_accuracy: float | None
    test_fresh: bool
    samples_per_second: float
    seconds_left: float
    finished: bool = False
    diverged: bool = False
    message: str = ""
    warning: str = ""

    @property
    def fraction(self) -> float:
        """Fraction of the run done, 0..1."""
        return self.step / self.total_steps if self.total_steps else 1.0

    @property
    def epoch_step(self) -> int:
        """1-based step within the current epoch."""
        return self.step - (self.epoch - 1) * self.steps_per_epoch

    @property
    def done(self) -> bool:
        """True for the last progress of a run (finished or diverged)."""
        return self.finished or self.diverged
