"""Named network architectures to start from: the default, LeNet-5-like, tiny, wide and deep.

``ARCHITECTURES`` maps a display name to ``make() -> list of ConvSpec / DenseSpec`` for a
1x28x28 input and 10 classes (``layers_for(name, classes)`` sets another class count).
Every one passes ``validate_layers((1, 28, 28), ...)``; the architecture editor offers them,
the ONNX round-trip tests run each.

``ArchitectureDraft`` is the editor's Qt-free model: a layer list changed freely (add, remove,
move, presets), checked on every change by ``check_layers`` (shapes, parameters, warnings and the
validator's message for the first impossible layer), and built into a network that keeps each
layer's trained weights where their shapes still fit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from cnnstudio.engine import ConvSpec, DenseSpec, Network, default_layers, validate_layers


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


# -- the architecture editor's draft: edited freely, checked on every change, applied in one step

MAX_CONV_STAGES = 6
MAX_HIDDEN_DENSE = 4


@dataclass(frozen=True)
class DraftLayer:
    """One layer of a draft: its spec and the layer of the applied network whose weights it keeps (if they fit)."""

    spec: ConvSpec | DenseSpec
    source: int | None = None  # None: a new layer, fresh random weights


@dataclass(frozen=True)
class LayerCheck:
    """What the validator says of one draft layer; shapes and ``params`` are None after an impossible layer."""

    name: str                          # "conv 2", "dense 1"
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    params: int | None                 # weights + biases
    warnings: tuple[str, ...] = ()
    error: str = ""                    # the validator's message (reason and fix) when this layer is impossible


def layer_names(layers) -> list[str]:
    """'conv 1', 'conv 2', 'dense 1', ...: the name a learner sees for each layer of ``layers``."""
    names, counts = [], {"conv": 0, "dense": 0}
    for spec in layers:
        kind = "conv" if isinstance(spec, ConvSpec) else "dense"
        counts[kind] += 1
        names.append(f"{kind} {counts[kind]}")
    return names


def _parameter_count(spec, input_shape) -> int:
    if isinstance(spec, ConvSpec):
        return spec.filters * (input_shape[0] * spec.kernel * spec.kernel + 1)
    inputs = 1
    for size in input_shape:
        inputs *= size
    return spec.units * (inputs + 1)


def check_layers(input_shape, layers) -> list[LayerCheck]:
    """Shapes, parameter counts, warnings and the first impossible layer of ``layers`` on ``input_shape``.

    ``validate_layers`` stops at the first impossible layer; the layers before it are checked as a
    prefix (with a 1-unit dense stub after a conv), so they still show their shapes.
    """
    names = layer_names(layers)
    checks: list[LayerCheck] = []
    for index, spec in enumerate(layers):
        prefix = list(layers[:index + 1])
        if not isinstance(spec, DenseSpec):
            prefix.append(DenseSpec(1))  # a stub: only the last layer may lack a dense layer after it
        try:
            report = validate_layers(input_shape, prefix)[index]
        except ValueError as error:
            shape = checks[-1].output_shape if checks else tuple(input_shape)
            checks.append(LayerCheck(names[index], shape, None, None, (), str(error)))
            checks += [LayerCheck(name, None, None, None) for name in names[index + 1:]]
            return checks
        checks.append(LayerCheck(names[index], report.input_shape, report.output_shape,
                                 _parameter_count(spec, report.input_shape), report.warnings))
    return checks


class ArchitectureDraft:
    """A layer list being edited: conv stages, hidden dense layers, and the output layer fixed at the end.

    Qt-free; the editor changes it and shows ``checks()``; ``build(network)`` makes the new network,
    keeping each layer's weights from its ``source`` layer when their shapes still fit.
    """

    def __init__(self, network):
        self.reset(network)

    def reset(self, network) -> None:
        """Start again from ``network``'s layers (every layer keeps its own weights)."""
        self.input_shape = tuple(network.input_shape)
        self.applied = list(network.layers)
        self.layers = [DraftLayer(spec, k) for k, spec in enumerate(network.layers)]

    @property
    def specs(self) -> list:
        return [layer.spec for layer in self.layers]

    @property
    def classes(self) -> int:
        return self.layers[-1].spec.units

    @property
    def conv_count(self) -> int:
        return sum(1 for layer in self.layers if isinstance(layer.spec, ConvSpec))

    @property
    def changed(self) -> bool:
        """True when applying would change the network (other layers, or layers in another order)."""
        return self.specs != self.applied or [l.source for l in self.layers] != list(range(len(self.applied)))

    def checks(self) -> list[LayerCheck]:
        return check_layers(self.input_shape, self.specs)

    def error(self) -> str:
        """The first impossible layer's message, or '' when the draft can be applied."""
        return next((check.error for check in self.checks() if check.error), "")

    # -- edits
    def set_fields(self, index: int, **changes) -> None:
        """Change fields of layer ``index`` (any values: ``checks()`` says what is impossible)."""
        layer = self.layers[index]
        if index == len(self.layers) - 1 and "units" in changes and changes["units"] != layer.spec.units:
            raise ValueError(f"the output layer has one unit per class ({self.classes}). "
                             f"Fix: change the hidden layers; the data set sets the classes.")
        self.layers[index] = replace(layer, spec=replace(layer.spec, **changes))

    def can_add(self, kind: str) -> bool:
        hidden = len(self.layers) - 1 - self.conv_count
        return self.conv_count < MAX_CONV_STAGES if kind == "conv" else hidden < MAX_HIDDEN_DENSE

    def add_conv(self) -> int:
        """Add a conv stage after the last one (padded 3x3, as many filters, pooling while the maps are 4+ wide)."""
        if not self.can_add("conv"):
            raise ValueError(f"the editor offers up to {MAX_CONV_STAGES} conv stages. Fix: remove one first.")
        index = self.conv_count
        checks = self.checks()
        before = checks[index - 1].output_shape if index else self.input_shape
        filters = before[0] if before is not None and index else 8
        pool = "max" if before is not None and min(before[1:]) >= 4 else "none"
        self.layers.insert(index, DraftLayer(ConvSpec(filters=filters, kernel=3, padding=1, pool=pool)))
        return index

    def add_dense(self) -> int:
        """Add a hidden dense layer (64 ReLU units) just before the output layer."""
        if not self.can_add("dense"):
            raise ValueError(f"the editor offers up to {MAX_HIDDEN_DENSE} hidden dense layers. "
                             f"Fix: remove one first.")
        index = len(self.layers) - 1
        self.layers.insert(index, DraftLayer(DenseSpec(units=64, activation="relu")))
        return index

    def can_remove(self, index: int) -> bool:
        """The output layer stays, and so does the last conv stage (every view needs one)."""
        if index == len(self.layers) - 1:
            return False
        return not isinstance(self.layers[index].spec, ConvSpec) or self.conv_count > 1

    def remove(self, index: int) -> None:
        if not self.can_remove(index):
            raise ValueError(f"{layer_names(self.specs)[index]} cannot be removed: a network needs a conv stage "
                             f"and its output layer. Fix: change its settings instead.")
        del self.layers[index]

    def can_move(self, index: int, step: int) -> bool:
        """Conv stages swap with conv stages, hidden dense layers with hidden dense layers."""
        other = index + step
        last = len(self.layers) - 1
        if not (0 <= other < last) or index == last:
            return False
        return type(self.layers[index].spec) is type(self.layers[other].spec)

    def move(self, index: int, step: int) -> int:
        """Swap layer ``index`` with its neighbour ``step`` (-1 up, +1 down); its new index."""
        if not self.can_move(index, step):
            raise ValueError(f"{layer_names(self.specs)[index]} cannot move there: conv stages come first, the "
                             f"output layer last. Fix: move it among layers of its kind.")
        other = index + step
        self.layers[index], self.layers[other] = self.layers[other], self.layers[index]
        return other

    def load_preset(self, name: str) -> None:
        """Replace the draft by architecture ``name`` (same classes); a layer keeps the weights of the layer
        at its place when their shapes fit."""
        layers = layers_for(name, self.classes)
        # the old output layer feeds only the new output layer (set below), never a hidden one at its place
        kinds = [type(spec) for spec in self.applied[:-1]]
        self.layers = [DraftLayer(spec, k if k < len(kinds) and kinds[k] is type(spec) else None)
                       for k, spec in enumerate(layers)]
        last = len(layers) - 1  # the output layer keeps the output layer's weights when they fit
        self.layers[last] = DraftLayer(layers[last], len(self.applied) - 1)

    # -- apply
    def build(self, network, seed: int = 0):
        """The new network (``ValueError`` if impossible) and the names of ``network``'s layers whose trained
        weights it does not keep."""
        new = Network(self.specs, self.input_shape, seed=seed)
        kept = set()
        for k, layer in enumerate(self.layers):
            source = layer.source
            if source is not None and source < len(network.layers) \
                    and network.weight(source).shape == new.weight(k).shape:
                new.weight(k)[...] = network.weight(source)
                new.bias(k)[...] = network.bias(source)
                kept.add(source)
        names = layer_names(network.layers)
        return new, [names[k] for k in range(len(network.layers)) if k not in kept]
