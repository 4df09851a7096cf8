"""Training, Qt-free and thread-free: settings, data, the one training loop, evaluation, history, session.

The Qt side only runs a ``TrainingSession`` on a thread (cnnstudio/qt/training/worker.py).
"""
from .data import concat_digits, make_dataset, shift_each, shift_images, split_digits
from .evaluate import Evaluation, evaluate, worst_mistakes
from .progress import Progress
from .settings import DATA_SOURCES, OPTIMIZERS, TrainingSettings, make_optimizer
from .history import TrainingHistory
from .runner import InlineDriver, StepRunner
from .session import TrainingSession
from .trainer import DEFAULT_EVAL_EVERY, EXPLODED_LOSS_FACTOR, GRADIENT_SMOOTHING, GradientAverage, Trainer

__all__ = [
    "concat_digits", "make_dataset", "shift_each", "shift_images", "split_digits",
    "Evaluation", "evaluate", "worst_mistakes", "Progress",
    "DATA_SOURCES", "OPTIMIZERS", "TrainingSettings", "make_optimizer",
    "TrainingHistory", "InlineDriver", "StepRunner", "TrainingSession",
    "DEFAULT_EVAL_EVERY", "EXPLODED_LOSS_FACTOR", "GRADIENT_SMOOTHING", "GradientAverage", "Trainer",
]
