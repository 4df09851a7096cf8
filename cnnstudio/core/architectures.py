"""Named network architectures to start from: the default, LeNet-5-like, tiny, wide and deep.

``ARCHITECTURES`` maps a display name to ``make() -> list of ConvSpec / DenseSpec`` for a
1x28x28 input and 10 classes (``layers_for(name, classes)`` sets another class count).
Every one passes ``validate_layers((1, 28, 28), ...)``; the architecture editor offers them,
the ONNX round-trip tests run each.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from cnnstudio.engine import ConvSpec, DenseSpec, default_layers


def _lenet5() -> list:
    """LeCun's LeNet-5 shape on 28x28: 6 5x5 (same) -> pool -> 16 5x5 -> pool -> 120 -> 84 -> 10."""
    return [ConvSpec(filters=6, kernel=5, padding=2), ConvSpec(filters=16, kernel=5, padding=0),
            DenseSpec(units=120, activation="relu"), DenseSpec(units=84, activation="relu"), DenseSpec(units=10)]


def _tiny() -> list:
    """One conv stage straight into the classifier: the smallest network that still convolves."""
    return [ConvSpec(filters=4, kernel=3, padding=1), DenseSpec(units=10)]


def _wide() -> list:
    """The default's two stages with four times the filters, and a hidden dense layer."""
    return [ConvSpec(filters=32, kernel=3, padding=1), ConvSpec(filters=64, kernel=3, padding=1),
            DenseSpec(units=64, activation="relu", dropout=0.25), DenseSpec(units=10)]


def _deep() -> list:
    """Four conv stages (28 -> 14 -> 7 -> 7 -> 3): each sees a wider part of the digit than the last."""
    return [ConvSpec(filters=8, kernel=3, padding=1), ConvSpec(filters=16, kernel=3, padding=1),
            ConvSpec(filters=32, kernel=3, padding=1, pool="none"), ConvSpec(filters=32, kernel=3, padding=1),
            DenseSpec(units=64, activation="relu"), DenseSpec(units=10)]


ARCHITECTURES: dict[str, Callable[[], list]] = {
    "Default": default_layers,
    "LeNet-5-like": _lenet5,
    "Tiny": _tiny,
    "Wide": _wide,
    "Deep": _deep,
}


def layers_for(name: str, classes: int = 10) -> list:
    """The layers of architecture ``name`` with ``classes`` outputs; ``ValueError`` naming the choices."""
    if name not in ARCHITECTURES:
        raise ValueError(f"no architecture called {name!r}. Fix: choose one of {', '.join(ARCHITECTURES)}.")
    layers = ARCHITECTURES[name]()
    return layers[:-1] + [replace(layers[-1], units=int(classes))]
