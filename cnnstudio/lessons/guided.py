"""Short guided lessons: each loads a drawing, kernels and settings, and says where to look.

Qt-free.  A :class:`Lesson` is data; :func:`apply_lesson` puts it on a
:class:`~cnnstudio.core.playground.Playground` (and on the canvas, when there is
one) and returns a :class:`LessonSandbox` that puts the learner's network back when the
lesson ends.  ``panel`` names the view the lesson's text points at; the Qt side shows it:

``maps``        the feature maps of the main window
``step``        the step-through of one layer (Explain)
``xo``          the 6x6 X-or-O network
``ann_vs_cnn``  the ANN vs CNN panel
``field``       receptive fields, layer by layer
``occlusion``   the occlusion map
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.core.presets import preset_kernel
from cnnstudio.core.undo import UndoEntry
from cnnstudio.engine import Network

PANELS = ("maps", "step", "xo", "ann_vs_cnn", "field", "occlusion")
DEFAULT_CONV1 = {"kernel": 3, "stride": 1, "padding": 1, "pool": "max", "pool_size": 2, "pool_stride": 2,
                 "activation": "relu"}


@dataclass(frozen=True)
class Lesson:
    """One guided lesson.

    ``kernels`` sets filters of conv 1 to presets, ``(filter, preset name)``, with a zero bias;
    ``settings`` overrides conv 1's defaults (kernel 3, stride 1, padding 1, max pool 2);
    ``phase`` is the step-through phase to open at (for ``panel == "step"``), in conv layer ``stage``
    (0-based; the text says "conv 1"); the step-through shows the lesson's first filter.
    """

    key: str
    title: str
    text: str
    panel: str
    digit: int | None = 7
    kernels: tuple[tuple[int, str], ...] = ()
    settings: dict = field(default_factory=dict)
    phase: str | None = None
    stage: int = 0
    picture: str | None = None   # the X-or-O picture the lesson starts from ("X" or "O")

    @property
    def filter(self) -> int:
        """The filter the lesson talks about (its first preset's), 0-based."""
        return self.kernels[0][0] if self.kernels else 0

    @property
    def needs_conv_layers(self) -> bool:
        """Whether the lesson works on the playground's conv layers (its kernels, settings, maps or step-through).

        The X-or-O and ANN-vs-CNN lessons bring their own networks.
        """
        return bool(self.kernels or self.settings) or self.panel in ("maps", "step", "field")


LESSONS = (
    Lesson("sobel", "Edge detection with Sobel",
           "Filter 1 of conv 1 is now Sobel x and filter 2 Sobel y. In the feature maps, red is where the "
           "drawing gets brighter to the right (or downwards), blue where it gets darker: each filter "
           "answers to one direction of edge. Draw a new stroke and watch both maps.",
           "maps", digit=7, kernels=((0, "Sobel x"), (1, "Sobel y"))),
    Lesson("blur_sharpen", "Blur vs sharpen",
           "Filter 1 is a Gaussian blur (every weight positive, summing to 1): the map is a softer copy. "
           "Filter 2 sharpens (the pixel plus how much it stands out from its neighbours): strokes get "
           "crisp rims. Compare the two conv maps.",
           "maps", digit=3, kernels=((0, "Gaussian blur"), (1, "sharpen"))),
    Lesson("padding", "Padding keeps the size",
           "Conv 1 adds one ring of zeros around the 28x28 input (the grey border), so a 3x3 kernel has "
           "28 positions per row and the map stays 28x28: padding can 'preserve the input's spatial size'. "
           "Set padding to 0 in the layer settings: the map shrinks to 26x26.",
           "step", digit=2, kernels=((0, "Sobel x"),), settings={"padding": 1}, phase="conv"),
    Lesson("stride", "Stride shrinks the map",
           "Conv 1 now has stride 2: the window jumps 2 pixels at a time, so the map is 14x14 instead of 28. "
           "(28 - 3 + 2*1) = 27 is odd, so the window never reaches the last row and column (crossed): "
           "the study note asks to 'ensure that the kernel slides across the input symmetrically'.",
           "step", digit=4, kernels=((0, "Sobel x"),), settings={"stride": 2}, phase="conv"),
    Lesson("pooling_shift", "Pooling tolerates shifts",
           "A 6x6 X goes through one 3x3 filter, ReLU and 2x2 max pooling. Press the arrow keys to move the X "
           "by a pixel: the pooled numbers barely change, and the CNN still says X. This is how a CNN "
           "tolerates small shifts.",
           "xo", digit=None, picture="X"),
    Lesson("training_edges", "Training forms edge detectors",
           "Press Train: the CNN learns its 8 first-layer kernels from 4,000 digits by backpropagation. "
           "Look at them when it is done: many have a positive side and a negative side, like Sobel: "
           "training formed edge detectors nobody drew.",
           "ann_vs_cnn", digit=5),
    Lesson("ann_vs_cnn", "ANN vs CNN",
           "A dense network (ANN) and the CNN learn the same digits. Compare the number of weights, above "
           "all at 256x256 (the ANN's 'large weight matrix'), and the shift plot: move the test digits "
           "by a few pixels and the ANN's accuracy falls much faster. Arrow keys shift your drawing.",
           "ann_vs_cnn", digit=3),
)
LESSONS_BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def sample_digit_image(digit: int, size: int = 28) -> np.ndarray:
    """A drawn-looking sample digit as a (size, size) float32 image (without touching any canvas)."""
    canvas = CanvasModel(size)
    canvas.stamp_sample_digit(digit)
    return canvas.network_input()


def lesson_network(lesson: Lesson, network: Network) -> Network | None:
    """A new network: ``network`` with the lesson's conv 1 settings and kernels; None when the lesson changes nothing.

    ``network`` itself is left untouched (the lesson works on the copy).  Raises ``ValueError``
    with the reason for settings this architecture refuses.
    """
    if not network.conv_specs:
        return None
    spec = network.conv_specs[0]
    wanted = {**DEFAULT_CONV1, **lesson.settings}
    if any(getattr(spec, name) != value for name, value in wanted.items()):
        layers = list(network.layers)
        layers[0] = replace(spec, **wanted)
        copy = Network(layers, network.input_shape, seed=0)  # raises, with the reason, before anything changes
        for new, old in zip(copy.params, network.params):
            if new.shape == old.shape:   # as a settings change does: layers whose shapes changed get fresh weights
                new[...] = old
    elif lesson.kernels:
        copy = network.copy()
    else:
        return None
    weight, bias = copy.weight(0), copy.bias(0)
    for filter, name in lesson.kernels:
        if filter < weight.shape[0]:
            weight[filter] = 0.0
            weight[filter, 0] = preset_kernel(name, weight.shape[-1])
            bias[filter] = 0.0
    return copy


class LessonSandbox:
    """The learner's network as it was before a lesson, and the commands that end the lesson.

    ``start`` puts the lesson's copy of the network on the playground and pushes one undo entry
    ("lesson '<title>'") that brings back the learner's network object, its weights, its
    reference weights and its kernel gradients, all exactly.  Then either

    - ``end()``: undo everything done since the lesson started, that entry last, so the
      playground is as before the lesson.  When the learner changed the lesson's network
      (an edit, a settings change, training), ending pushes "end of lesson", which brings
      that network back: nothing is lost without an explicit choice;
    - ``keep()``: leave the lesson's network; Edit > Undo takes it back like any change.
    """

    def __init__(self, lesson: Lesson, playground, network: Network):
        self.lesson, self.playground, self.network = lesson, playground, network
        self.running = False

    def start(self) -> None:
        playground = self.playground
        self._before = before = _Snapshot.of(playground)
        self._restored = False

        def restore():
            self._restored = True
            self.running = False
            before.put_back(playground)

        playground.undo_stack.push(UndoEntry(f"lesson '{self.lesson.title}'", restore))
        self._depth = len(playground.undo_stack)   # our entry is the newest: entries above it are the lesson's
        playground.set_network(self.network, undo_text=None)
        playground.reference_state = before.reference  # "Reset kernels" still means the learner's trained weights
        self._lesson_state = self.network.get_state()
        self.running = True

    def end(self) -> bool:
        """Put the learner's network back; False when the lesson was no longer running (kept or undone)."""
        if not self.running:
            return False
        playground, stack = self.playground, self.playground.undo_stack
        after = _Snapshot.of(playground)
        learner_changed = after.network is not self.network or not _same_state(after.state, self._lesson_state)
        # NOTE: never below our entry's depth: if the bounded stack forgot it, what is left is all the lesson's
        while not self._restored and len(stack) >= self._depth:
            try:
                playground.undo()
            except ValueError:   # an entry that no longer fits: the next one (at worst ours) still restores
                pass
        if not self._restored:
            self._before.put_back(playground)
        self.running = False
        if learner_changed:
            stack.push(UndoEntry("end of lesson", lambda: after.put_back(playground)))
        return True

    def keep(self) -> None:
        """Keep the lesson's network; the "lesson" undo entry stays, so Edit > Undo still brings the old one back."""
        self.running = False


@dataclass
class _Snapshot:
    """The playground's network object, a copy of its weights, its reference weights and kernel gradients."""

    network: Network
    state: list
    reference: list
    gradients: dict

    @classmethod
    def of(cls, playground) -> _Snapshot:
        return cls(playground.network, playground.network.get_state(), playground.reference_state,
                   {k: g.copy() for k, g in playground.kernel_gradients.items()})

    def put_back(self, playground) -> None:
        if playground.network is self.network:
            playground.set_weights(self.state, self.gradients)
        else:
            self.network.set_state(self.state)
            playground.set_network(self.network, undo_text=None)
            playground.set_kernel_gradients(self.gradients)
        playground.reference_state = self.reference


def _same_state(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def apply_lesson(lesson: Lesson, playground, canvas_model=None) -> LessonSandbox | None:
    """Load ``lesson`` into ``playground`` (and draw its digit on ``canvas_model`` when given).

    Conv 1 gets the default settings with the lesson's overrides and its preset kernels, on a
    copy of the network: the returned sandbox puts the learner's network back (``end()``) or
    keeps the lesson's (``keep()``).  None when the lesson leaves the network as it is.
    Raises ``ValueError`` (nothing changes) for settings the architecture refuses.
    """
    network = lesson_network(lesson, playground.network)
    sandbox = None
    if network is not None:
        sandbox = LessonSandbox(lesson, playground, network)
        sandbox.start()
    if lesson.digit is not None:
        if canvas_model is not None:
            canvas_model.clear()
            canvas_model.stamp_sample_digit(lesson.digit)
            image = canvas_model.network_input()
        else:
            image = sample_digit_image(lesson.digit, playground.network.input_shape[1])
        playground.set_input(image)
    return sandbox
