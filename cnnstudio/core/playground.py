"""The live playground's state: a network, the image it looks at, and every map it computes.

Qt-free.  Views send commands (``set_input``, ``set_kernel_cell``,
``set_conv_settings``, ...) and listen to the past-tense events:

- ``input_changed()``          the image fed to the network changed
- ``kernels_changed(layer)``   weights or biases of a layer changed (edited, loaded or trained)
- ``architecture_changed()``   the layer list changed (panels must re-lay out)
- ``activations_changed(trace)`` every map was recomputed; ``trace`` is an engine ``ForwardTrace``
- ``gradients_changed()``      training brought new ``kernel_gradients``, or they were forgotten (a reset,
  a loaded model, a new architecture: they belonged to weights that are gone)
- ``class_names_changed()``    ``class_names`` (what each output means: "0".."9", "T-shirt/top", ...) changed

Every change a learner makes to the network (a kernel edit, a settings change, a reset to the
trained weights, a loaded model) pushes an entry onto ``undo_stack`` (core/undo.py): ``undo()``
takes back the newest, whatever it was.  Weights arriving from training are not undo steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from cnnstudio.engine import ConvSpec, Network, validate_layers

from cnnstudio.base.events import EventGroup
from cnnstudio.core.undo import UndoEntry, UndoStack
from cnnstudio.io.class_names import check_class_names, digit_names
from cnnstudio.io.model_file import MAX_WEIGHT, load_default_network


@dataclass
class SettingsChange:
    """What ``set_conv_settings`` did: the warnings to show and whether trained weights were replaced."""

    warnings: list[str]
    discarded_weights: bool


class Playground:
    """A network, its current input, and the trace of its last forward pass."""

    def __init__(self, network: Network | None = None):
        self.events = EventGroup("input_changed", "kernels_changed", "architecture_changed", "activations_changed",
                                 "gradients_changed", "class_names_changed")
        self.network = network or load_default_network()  # the shipped pretrained model
        # {conv layer: (filters, channels, K, K)}: how training's last steps pushed each weight (empty: unknown)
        self.kernel_gradients: dict[int, np.ndarray] = {}
        self.input = np.zeros(self.network.input_shape, dtype=np.float32)
        self.trace = None
        self.last_update_seconds = 0.0
        self.undo_stack = UndoStack()
        self.reference_state = self.network.get_state()  # "reset to trained" goes back here
        self._class_names = digit_names(self.network.num_classes)
        self.recompute()

    # -- class names
    @property
    def class_names(self) -> tuple[str, ...]:
        """What each output of the network means: "0".."9" by default, a data set's names once trained on it."""
        return self._class_names

    @class_names.setter
    def class_names(self, names) -> None:
        self.set_class_names(names)

    def set_class_names(self, names) -> None:
        """Name the network's outputs (None: "0", "1", ...); ``ValueError`` (nothing changes) for names that do
        not fit its classes.  Announces ``class_names_changed`` when they differ."""
        count = self.network.num_classes
        if names is None:
            names = digit_names(count)
        try:
            names = check_class_names(names, count)
        except ValueError as err:
            raise ValueError(f"the class names {err}. Fix: give one short name per output ({count}).") from None
        if names != self._class_names:
            self._class_names = names
            self.events.class_names_changed.emit()

    # -- input
    def set_input(self, image) -> None:
        """Feed a new image: (H, W) gray in [0, 1] or (C, H, W).

        Raises ``ValueError`` (nothing changes) for an image that is not numbers, has NaN or
        infinite values, has another number of channels than the network, or is too small for
        its conv layers.
        """
        self.input = self._checked_input(image)
        self.events.input_changed.emit()
        self.recompute()

    def _checked_input(self, image) -> np.ndarray:
        try:
            image = np.asarray(image, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"the image must be an array of numbers, got {type(image).__name__}. "
                             f"Fix: pass a (H, W) or (C, H, W) array.") from None
        if image.ndim == 2:
            image = image[None]
        channels = self.network.input_shape[0]
        if image.ndim != 3 or image.shape[0] != channels:
            raise ValueError(f"the image has shape {image.shape} but the network takes {channels}-channel images. "
                             f"Fix: pass a (H, W) gray image or a ({channels}, H, W) array.")
        if not np.isfinite(image).all():
            raise ValueError("the image contains NaN or infinite values. Fix: pass finite pixel values (0..1).")
        self.network.geometry(image.shape)  # conv stages too big for the image: ValueError with the numbers and a fix
        return np.ascontiguousarray(image)

    @property
    def input_fits_network(self) -> bool:
        """True when the input has the size the dense layers expect (so a prediction can be shown)."""
        return self.input.shape == self.network.input_shape

    # -- weights
    def set_kernel_cell(self, layer: int, filter: int, channel: int, row: int, col: int, value: float) -> None:
        """Set one kernel weight; raises ``ValueError`` (nothing changes) for a value float32 cannot hold
        or a cell the layer does not have.  Edits of one cell in a row are one undo step."""
        weight = self._conv_weight(layer, filter, channel)
        kernel = weight.shape[-1]
        if not (0 <= row < kernel and 0 <= col < kernel):
            raise ValueError(f"conv {layer + 1}'s kernels are {kernel}x{kernel}: there is no cell ({row}, {col}). "
                             f"Fix: use a row and column from 0 to {kernel - 1}.")
        value = _finite_float32(value, "weight")
        self._remember_filter(layer, filter, ("cell", layer, filter, channel, row, col))
        weight[filter, channel, row, col] = value
        self._kernels_edited(layer)

    def set_kernel(self, layer: int, filter: int, kernel, channel: int | None = None) -> None:
        """Replace one filter's kernel: (K, K) for the input channel ``channel``, or (Ci, K, K) for all channels.

        A (K, K) kernel for a layer with several input channels needs ``channel``; raises
        ``ValueError`` (nothing changes) for a kernel of another shape or values float32 cannot hold.
        """
        weight = self._conv_weight(layer, filter, channel)
        kernel = _finite_float32(kernel, "kernel")
        channels, size = weight.shape[1], weight.shape[-1]
        expected = (size, size) if channel is not None else (channels, size, size)
        if kernel.shape != expected:
            fix = (f"pass a ({channels}, {size}, {size}) kernel, or a ({size}, {size}) one with channel=0..{channels - 1}"
                   if channel is None else f"pass a ({size}, {size}) kernel")
            raise ValueError(f"conv {layer + 1} filter {filter + 1} takes a kernel of shape {expected}, got "
                             f"{kernel.shape}. Fix: {fix}.")
        self._remember_filter(layer, filter)
        if channel is None:
            weight[filter] = kernel
        else:
            weight[filter, channel] = kernel
        self._kernels_edited(layer)

    def set_bias(self, layer: int, filter: int, value: float) -> None:
        """Set one filter's bias; raises ``ValueError`` (nothing changes) for a value float32 cannot hold."""
        self._conv_weight(layer, filter)
        value = _finite_float32(value, "bias")
        self._remember_filter(layer, filter, ("bias", layer, filter))
        self.network.bias(layer)[filter] = value
        self._kernels_edited(layer)

    def _conv_weight(self, layer: int, filter: int, channel: int | None = None) -> np.ndarray:
        """The weights of conv layer ``layer``, after checking that ``filter`` (and ``channel``) exist."""
        specs = self.network.conv_specs
        if not 0 <= layer < len(specs):
            raise ValueError(f"there is no conv layer {layer + 1}: the network has {len(specs)}. "
                             f"Fix: use a layer index from 0 to {len(specs) - 1}.")
        weight = self.network.weight(layer)
        if not 0 <= filter < weight.shape[0]:
            raise ValueError(f"conv {layer + 1} has {weight.shape[0]} filters: there is no filter {filter + 1}. "
                             f"Fix: use a filter index from 0 to {weight.shape[0] - 1}.")
        if channel is not None and not 0 <= channel < weight.shape[1]:
            raise ValueError(f"conv {layer + 1} has {weight.shape[1]} input channels: there is no channel "
                             f"{channel + 1}. Fix: use a channel index from 0 to {weight.shape[1] - 1}.")
        return weight

    def _remember_filter(self, layer: int, filter: int, merge_key=None) -> None:
        """Push an undo entry that puts back this filter's kernel and bias as they are now."""
        weight = self.network.weight(layer)[filter].copy()
        bias = self.network.bias(layer)[filter].copy()
        network = self.network

        def restore():
            if self.network is not network:
                raise ValueError("the network changed since this kernel edit, so it cannot be taken back")
            network.weight(layer)[filter] = weight
            network.bias(layer)[filter] = bias
            self._kernels_edited(layer)

        self.undo_stack.push(UndoEntry("kernel edit", restore, merge_key))

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
        """Put back the reference (trained or loaded) weights of one layer, or of all layers; their gradients go.

        One undo step brings the weights from before the reset back.
        """
        layers = range(len(self.network.layers)) if layer is None else [layer]
        self.remember_weights("reset to the trained weights")
        self._forget_gradients(layers)
        for k in layers:
            for index in (2 * k, 2 * k + 1):
                if self.reference_state[index].shape == self.network.params[index].shape:
                    self.network.params[index][...] = self.reference_state[index]
            self.events.kernels_changed.emit(k)
        self.recompute()

    def replace_weights(self, state, undo_text: str) -> None:
        """``set_weights`` as an undo step named ``undo_text`` (e.g. fresh random weights)."""
        self._check_state(state)
        self.remember_weights(undo_text)
        self.set_weights(state)

    def remember_weights(self, text: str, then=None) -> None:
        """Push an undo entry that puts back every weight as it is now (and calls ``then()`` after)."""
        state, network = self.network.get_state(), self.network

        def restore():
            if self.network is not network:
                raise ValueError(f"the layers changed since the {text}, so the old weights no longer fit")
            self.set_weights(state)
            if then is not None:
                then()

        self.undo_stack.push(UndoEntry(text, restore))

    def _check_state(self, state) -> None:
        shapes = [np.shape(p) for p in state]
        expected = [p.shape for p in self.network.params]
        if shapes != expected:
            raise ValueError(f"these weights do not fit the network: shapes {shapes}, expected {expected}. "
                             f"Fix: use weights saved for this architecture.")

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
        whose weight shapes change get fresh weights; ``undo()`` brings the old network
        back (its layers, weights and reference weights).
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
        self.remember_network("settings change")
        self.network = new
        self._announce_architecture()
        self.recompute()
        return SettingsChange(list(new.reports[layer].warnings), discarded)

    def undo(self) -> str | None:
        """Take back the newest change to the network (see ``undo_stack``); its text, or None if there was none."""
        return self.undo_stack.undo()

    def set_network(self, network: Network, undo_text: str | None = "model load") -> None:
        """Replace the whole network (a loaded model), whatever its layers; ``undo()`` brings the old one back.

        Its weights become the reference that ``reset_kernels`` goes back to.  ``undo_text=None``
        pushes no undo entry (the caller pushes one that restores more, see core/document.py).
        """
        if tuple(network.input_shape) != tuple(self.network.input_shape):
            raise ValueError(f"this network takes {'x'.join(map(str, network.input_shape))} inputs but the "
                             f"playground shows {'x'.join(map(str, self.network.input_shape))} images")
        if undo_text is not None:
            self.remember_network(undo_text)
        self.network = network
        self.reference_state = network.get_state()
        self._announce_architecture()
        self.recompute()

    def remember_network(self, text: str, then=None) -> None:
        """Push an undo entry that brings back the network object as it is now, with its reference weights
        (and calls ``then()`` after: a document restores its locks and curves there)."""
        network, reference = self.network, self.reference_state  # replaced, never changed again: no copy needed

        def restore():
            self.network = network
            self.reference_state = reference
            self._announce_architecture()
            self.recompute()
            if then is not None:
                then()

        self.undo_stack.push(UndoEntry(text, restore))

    def _announce_architecture(self) -> None:
        """Say the layer list changed; the gradients of the old weights are gone (announced once views re-laid out)."""
        had_gradients, self.kernel_gradients = bool(self.kernel_gradients), {}
        if len(self._class_names) != self.network.num_classes:  # names of outputs that are gone
            self._class_names = digit_names(self.network.num_classes)
            self.events.class_names_changed.emit()
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
    """``value`` as float32 (a scalar or an array), or ``ValueError`` if any of it is NaN, beyond float32's range,
    or beyond ±``MAX_WEIGHT`` (such weights make the next layers overflow: the prediction would be NaN)."""
    with np.errstate(over="ignore", invalid="ignore"):
        converted = np.asarray(value, dtype=np.float32)
    if not np.isfinite(converted).all():
        raise ValueError(f"the {what} {value!r} is not a finite float32 number (float32 holds up to about 3.4e38). "
                         f"Fix: type a smaller number.")
    if (np.abs(converted) > MAX_WEIGHT).any():
        shown = (f"{what} holds {float(np.abs(converted).max()):.3g}, which is" if converted.ndim
                 else f"{what} {float(converted):.3g} is")
        raise ValueError(f"the {shown} beyond ±1,000,000: the feature maps after it would overflow and the "
                         f"prediction become NaN. Fix: type a number between -1,000,000 and 1,000,000.")
    return converted if converted.ndim else converted[()]
