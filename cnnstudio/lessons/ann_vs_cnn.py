"""ANN vs CNN: why the study note does not use a plain ANN on images.

Qt-free.  Two of the note's points, measured with our engine on the shipped digits:

- "n*n images will process **large weight matrix** in ANN calculation":
  :func:`weight_rows` lists each layer's weights with its formula, and
  :func:`weight_growth` shows how the totals grow with the image size;
- "If one or two pixel **shifted**, the predicted result will change dramatically
  in ANN": :func:`shift_accuracy` measures the test accuracy on digits moved by
  -4..+4 pixels (zeros shifted in, no wrap-around).

:func:`compare_steps` trains a dense network (flatten -> hidden -> 10) and a CNN
on the same digits, through the app's one training loop (``Trainer``), and
measures both shift curves; it is a plain generator yielding
:class:`ComparisonProgress` and, last, the :class:`Comparison`, so the Qt side
decides which thread drives it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import ConvSpec, DenseSpec, Network, default_layers, engine_threads, validate_layers
from cnnstudio.io.datasets import Digits
from cnnstudio.training import Progress, Trainer, TrainingSettings, shift_images

ANN_LAYERS = [DenseSpec(64, "relu"), DenseSpec(10)]
IMAGE_SIZES = (28, 64, 256)
SHIFTS = tuple(range(-4, 5))
FAR_SHIFTS = (-4, -3, -2, 2, 3, 4)


# ---------------------------------------------------------------- weights

@dataclass(frozen=True)
class WeightRow:
    """One layer's trainable numbers, with the formula that gives them."""

    layer: str        # "conv 1", "dense 2", ...
    shape: str        # "1x28x28 -> 8x14x14"
    formula: str      # "8 x (1 x 3 x 3) + 8"
    count: int


def _shape_text(shape) -> str:
    return "x".join(str(v) for v in shape)


def weight_rows(layers, input_shape=(1, 28, 28)) -> list[WeightRow]:
    """Each layer's weights + biases by formula (no network is built, so 256x256 costs nothing).

    conv: filters x (channels x K x K) + filters;  dense: units x inputs + units.
    """
    reports = validate_layers(tuple(input_shape), layers)
    rows, n_conv, n_dense = [], 0, 0
    for spec, report in zip(layers, reports):
        if isinstance(spec, ConvSpec):
            n_conv += 1
            channels = report.input_shape[0]
            count = spec.filters * channels * spec.kernel ** 2 + spec.filters
            formula = f"{spec.filters} x ({channels} x {spec.kernel} x {spec.kernel}) + {spec.filters}"
            name = f"conv {n_conv}"
        else:
            n_dense += 1
            inputs = int(np.prod(report.input_shape))
            count = spec.units * inputs + spec.units
            formula = f"{spec.units} x {inputs:,} + {spec.units}"
            name = f"dense {n_dense}"
        rows.append(WeightRow(name, f"{_shape_text(report.input_shape)} -> {_shape_text(report.output_shape)}",
                              formula, count))
    return rows


def weight_growth(layers, sizes=IMAGE_SIZES) -> dict[int, list[WeightRow]]:
    """``{size: weight_rows(layers, (1, size, size))}`` for each image size."""
    return {size: weight_rows(layers, (1, size, size)) for size in sizes}


def cnn_layers() -> list:
    """The CNN of the comparison: the app's default network."""
    return default_layers()


# ---------------------------------------------------------------- training and measuring

def one_engine_thread():
    """Run the engine's parallel kernels on one thread in this block (this thread only).

    NOTE: a lesson's batches are small; on a busy machine OpenMP's parallel regions
    cost far more than their work (see engine/threads.py).
    """
    return engine_threads(1)


def lesson_trainer(network: Network, images, labels, epochs: int = 2, batch_size: int = 64,
                   learning_rate: float = 2e-3, seed: int = 0) -> Trainer:
    """A ``Trainer`` for ``network`` on (N, C, H, W) ``images`` and (N,) ``labels``: Adam, no augmentation.

    Its test set is empty: a lesson measures its networks its own way afterwards, so the
    trainer spends no time evaluating (it checkpoints at each epoch end instead).
    """
    train = Digits(np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64), "lesson digits")
    nothing = Digits(np.zeros((0, *network.input_shape), np.float32), np.zeros(0, np.int64), "no test digits")
    settings = TrainingSettings(optimizer="adam", learning_rate=learning_rate, batch_size=batch_size, epochs=epochs,
                                seed=seed)
    return Trainer(network, train, nothing, settings)


def accuracy(network: Network, images, labels) -> float:
    return float((network.forward(images).argmax(axis=1) == labels).mean()) if len(labels) else 0.0


def shift_accuracy(network: Network, images, labels, shifts=SHIFTS) -> dict[str, np.ndarray]:
    """Accuracy on the images moved by each shift: ``{"horizontal": (len(shifts),), "vertical": ...}``."""
    return {"horizontal": np.array([accuracy(network, shift_images(images, 0, s), labels) for s in shifts]),
            "vertical": np.array([accuracy(network, shift_images(images, s, 0), labels) for s in shifts])}


def far_shift_mean(curves: dict[str, np.ndarray], shifts=SHIFTS) -> float:
    """Mean accuracy over the shifts of 2..4 pixels, both directions and axes: how flat the curve stays."""
    far = [k for k, s in enumerate(shifts) if abs(s) >= 2]
    return float(np.mean([curves[axis][far] for axis in ("horizontal", "vertical")]))


@dataclass
class ComparisonProgress:
    """Where :func:`compare_steps` is: ``fraction`` of the whole job done (both trainings and the measuring)."""

    stage: str                          # "training the ANN", "training the CNN", "shifting the test digits", "done"
    fraction: float
    training: Progress | None = None    # the trainer's progress, while a network trains


@dataclass
class Comparison:
    """Both trained networks and what was measured on them."""

    ann: Network
    cnn: Network
    shifts: tuple
    ann_curves: dict
    cnn_curves: dict
    ann_accuracy: float
    cnn_accuracy: float
    seconds: float

    def predict(self, image) -> tuple[np.ndarray, np.ndarray]:
        """(ANN probabilities, CNN probabilities) for one (28, 28) image."""
        x = np.asarray(image, dtype=np.float32).reshape(1, 1, 28, 28)
        return self.ann.predict_proba(x)[0], self.cnn.predict_proba(x)[0]


def compare_steps(train, test, epochs: int = 2, train_size: int | None = None, test_size: int | None = None,
                  shifts=SHIFTS, seed: int = 0):
    """Train the ANN and the CNN on ``train`` (``Digits``) and measure both on shifted ``test`` digits.

    A generator: yields :class:`ComparisonProgress` as it goes and the :class:`Comparison`
    last.  ``train_size`` / ``test_size`` take a class-balanced-enough random subset
    (tests use a few hundred digits).
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    x, y = _subset(train, train_size, rng)
    tx, ty = _subset(test, test_size, rng)
    ann = Network(ANN_LAYERS, (1, 28, 28), seed=seed)
    cnn = Network(cnn_layers(), (1, 28, 28), seed=seed)
    # the CNN's batch costs about 5 ANN batches: weigh the progress bar accordingly
    parts = (("training the ANN", ann, 0.0, 0.15), ("training the CNN", cnn, 0.15, 0.75))
    with one_engine_thread():
        for stage, network, base, share in parts:
            for progress in lesson_trainer(network, x, y, epochs=epochs, seed=seed).train_steps():
                yield ComparisonProgress(stage, base + share * progress.fraction, progress)
        curves = {}
        for k, (name, network) in enumerate((("ann", ann), ("cnn", cnn))):
            yield ComparisonProgress("shifting the test digits", 0.9 + 0.05 * k)
            curves[name] = shift_accuracy(network, tx, ty, shifts)
    centre = list(shifts).index(0) if 0 in shifts else None
    ann_acc = float(curves["ann"]["horizontal"][centre]) if centre is not None else accuracy(ann, tx, ty)
    cnn_acc = float(curves["cnn"]["horizontal"][centre]) if centre is not None else accuracy(cnn, tx, ty)
    yield ComparisonProgress("done", 1.0)
    yield Comparison(ann, cnn, tuple(shifts), curves["ann"], curves["cnn"], ann_acc, cnn_acc,
                     time.perf_counter() - start)


def run_comparison(*args, **kwargs) -> Comparison:
    """:func:`compare_steps` run to the end (for scripts and tests)."""
    result = None
    for result in compare_steps(*args, **kwargs):
        pass
    return result


def _subset(digits, size, rng):
    if size is None or size >= len(digits):
        return digits.images, digits.labels
    index = np.sort(rng.choice(len(digits), size, replace=False))
    return digits.images[index], digits.labels[index]
