"""The live playground's state: a network, the image it looks at, and every map it computes.

Qt-free.  Views send commands (``set_input``, ``set_kernel_cell``,
``set_conv_settings``, ...) and listen to the past-tense events:

- ``input_changed()``          the image fed to the network changed
- ``kernels_changed(layer)``   weights or biases of a layer changed (edited, loaded or trained)
- ``architecture_changed()``   the layer list changed (panels must re-lay out)
- ``activations_changed(trace)`` every map was recomputed; ``trace`` is an engine ``ForwardTrace``
- ``gradients_changed()``      training brought new ``kernel_gradients``, or they were forgotten (a reset,
  a loaded model, a new architecture: they belonged to weights that are gone)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from cnnstudio.engine import ConvSpec, Network, validate_layers

from cnnstudio.base.events import EventGroup
from cnnstudio.io.model_file import load_default_network


@dataclass
class SettingsChange:
    """What ``set_conv_settings`` did: the warnings to show and whether trained weights were replaced."""

    warnings: list[str]
    discarded_weights: bool


class Playground:
    """A network, its current input, and the trace of its last forward pass."""

    def __init__(self, network: Network | None = None):
        self.events = EventGroup("input_changed", "kernels_changed", "architecture_changed", "activations_changed",
                                 "gradients_changed")
        self.network = network or load_default_network()  # the shipped pretrained model
        # {conv layer: (filters, channels, K, K)}: how training's last steps pushed each weight (empty: unknown)
        self.kernel_gradients: dict[int, np.ndarray] = {}
        self.input = np.zeros(self.network.input_shape, dtype=np.float32)
        self.trace = None
        self.last_update_seconds = 0.0
        self._settings_undo: list[tuple[list, list[np.ndarray]]] = []
        self.reference_state = self.network.get_state()  # "reset to trained" goes back here
        self.recompute()

    # -- input
    def set_input(self, image) -> None:
        """Feed a new image: (H, W) gray in [0, 1] or (C, H, W)."""
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2:
            image = image[None]
        if not np.isfinite(image).all():
            raise ValueError("the image contains NaN or infinite values")
        self.input = np.ascontiguousarray(image)
        self.events.input_changed.emit()
        self.recompute()

    @property
    def input_fits_network(self) -> bool:
        """True when the input has the size the dense layers expect (so a prediction can be shown)."""
        return self.input.shape == self.network.input_shape

    # -- weights
    def set_kernel_cell(self, layer: int, filter: int, channel: int, row: int, col: int, value: float) -> None:
        """Set one kernel weight; raises ``ValueError`` (nothing changes) for a value float32 cannot hold."""
        self.network.weight(layer)[filter, channel, row, col] = _finite_float32(value, "weight")
        self._kernels_edited(layer)

    def set_kernel(self, layer: int, filter: int, kernel, channel: int | None = None) -> None:
        """Replace one filter's kernel: (K, K) for one input channel, or (Ci, K, K) for all."""
        weight = self.network.weight(layer)
        kernel = _finite_float32(kernel, "kernel")
        if channel is None:
            weight[filter] = kernel
        else:
            weight[filter, channel] = kernel
        self._kernels_edited(layer)

    def set_bias(self, layer: int, filter: int, value: float) -> None:
        """Set one filter's bias; raises ``ValueError`` (nothing changes) for a value float32 cannot hold."""
        self.network.bias(layer)[filter] = _finite_float32(value, "bias")
        self._kernels_edited(layer)

    def set_weights(self, state, kernel_gradients=None) -> None:
        """Replace every parameter (e.g. from training or a loaded model) keeping the architecture.

        ``kernel_gradients`` are the gradients training computed with these weights (see
        ``set_kernel_gradients``); without them the gradients known so far are forgotten.
        """
        self.network.set_state(state)
        self.set_kernel_gradients(kernel_gradients)
        for layer in range(len(self.network.layers)):
            self.events.kernels_changed.emit(layer)
        self.recompute()

    def set_kernel_gradients(self, gradients) -> None:
        """Keep copies of ``gradients`` ``{conv layer: (filters, channels, K, K)}`` (the loss's gradient for each
        kernel weight, e.g. smoothed over training steps); None or ``{}`` forgets them.

        Raises ``ValueError`` (nothing changes) when an array does not fit its layer's weights.
        """
        kept = {}
        for layer, gradient in (gradients or {}).items():
            layer = int(layer)
            if not 0 <= layer < len(self.network.conv_specs) or np.shape(gradient) != self.network.weight(layer).shape:
                raise ValueError(f"a gradient of shape {np.shape(gradient)} does not fit conv layer {layer + 1} "
                                 f"of this network")
            kept[layer] = np.array(gradient, dtype=np.float32)
        if kept or self.kernel_gradients:
            self.kernel_gradients = kept
            self.events.gradients_changed.emit()

    def reset_kernels(self, layer: int | None = None) -> None:
        """Put back the reference (trained or loaded) weights of one layer, or of all layers; their gradients go."""
        layers = range(len(self.network.layers)) if layer is None else [layer]
        self._forget_gradients(layers)
        for k in layers:
            for index in (2 * k, 2 * k + 1):
                if self.reference_state[index].shape == self.network.params[index].shape:
                    self.network.params[index][...] = self.reference_state[index]
            self.events.kernels_changed.emit(k)
        self.recompute()

    def _forget_gradients(self, layers) -> None:
        """Drop the gradients of ``layers``, which belonged to weights that are gone."""
        gone = set(self.kernel_gradients) & set(layers)
        if gone:
            self.kernel_gradients = {k: g for k, g in self.kernel_gradients.items() if k not in gone}
            self.events.gradients_changed.emit()

    def _kernels_edited(self, layer: int) -> None:
        self.events.kernels_changed.emit(layer)
        self.recompute()

    # -- architecture
    def check_conv_settings(self, layer: int, **changes) -> list[str]:
        """Validate a change without applying it: the warnings, or ``ValueError`` with the reason and fix."""
        layers = self._changed_layers(layer, changes)
        reports = validate_layers(self.network.input_shape, layers)
        return list(reports[layer].warnings)

    def set_conv_settings(self, layer: int, **changes) -> SettingsChange:
        """Change kernel, stride, padding, filters, activation or pooling of conv layer ``layer``.

        Raises ``ValueError`` (nothing changes) for an impossible setting.  Layers
        whose weight shapes change get fresh weights; the old network is kept for
        ``undo_settings``.
        """
        layers = self._changed_layers(layer, changes)
        new = Network(layers, self.network.input_shape, seed=0)
        old = self.network
        discarded = False
        for k, (p_new, p_old) in enumerate(zip(new.params, old.params)):
            if p_new.shape == p_old.shape:
                p_new[...] = p_old
            else:
                discarded = True
        self._settings_undo.append((old.layers, old.get_state()))
        self.network = new
        self._announce_architecture()
        self.recompute()
        return SettingsChange(list(new.reports[layer].warnings), discarded)

    def undo_settings(self) -> bool:
        """Go back to the layers and weights before the last settings change; False if there is none."""
        if not self._settings_undo:
            return False
        layers, state = self._settings_undo.pop()
        self.network = Network(layers, self.network.input_shape, seed=0)
        self.network.set_state(state)
        self._announce_architecture()
        self.recompute()
        return True

    def set_network(self, network: Network) -> None:
        """Replace the whole network (a loaded model), whatever its layers; ``undo_settings`` brings the old one back.

        Its weights become the reference that ``reset_kernels`` goes back to.
        """
        if tuple(network.input_shape) != tuple(self.network.input_shape):
            raise ValueError(f"this network takes {'x'.join(map(str, network.input_shape))} inputs but the "
                             f"playground shows {'x'.join(map(str, self.network.input_shape))} images")
        self._settings_undo.append((self.network.layers, self.network.get_state()))
        self.network = network
        self.reference_state = network.get_state()
        self._announce_architecture()
        self.recompute()

    def _announce_architecture(self) -> None:
        """Say the layer list changed; the gradients of the old weights are gone (announced once views re-laid out)."""
        had_gradients, self.kernel_gradients = bool(self.kernel_gradients), {}
        self.events.architecture_changed.emit()
        if had_gradients:
            self.events.gradients_changed.emit()

    def _changed_layers(self, layer: int, changes: dict) -> list:
        spec = self.network.layers[layer]
        if not isinstance(spec, ConvSpec):
            raise ValueError(f"layer {layer + 1} is not a conv layer")
        layers = list(self.network.layers)
        layers[layer] = replace(spec, **changes)
        return layers

    # -- compute
    def recompute(self) -> None:
        """Run the engine on the current input and announce every map."""
        start = time.perf_counter()
        self.trace = self.network.forward_maps(self.input)
        self.last_update_seconds = time.perf_counter() - start
        self.events.activations_changed.emit(self.trace)


def _finite_float32(value, what: str):
    """``value`` as float32 (a scalar or an array), or ``ValueError`` if any of it is NaN or beyond float32's range."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = np.asarray(value, dtype=np.float32)
    if not np.isfinite(converted).all():
        raise ValueError(f"the {what} {value!r} is not a finite float32 number (float32 holds up to about 3.4e38). "
                         f"Fix: type a smaller number.")
    return converted if converted.ndim else converted[()]
