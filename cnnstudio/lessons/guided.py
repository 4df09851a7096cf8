"""Short guided lessons: each loads a drawing, kernels and settings, and says where to look.

Qt-free.  A :class:`Lesson` is data; :func:`apply_lesson` puts it on a
:class:`~cnnstudio.core.playground.Playground` (and on the canvas, when there is
one).  ``panel`` names the view the lesson's text points at; the Qt side shows it:

``maps``        the feature maps of the main window
``step``        the step-through of one layer (Explain)
``xo``          the 6x6 X-or-O network
``ann_vs_cnn``  the ANN vs CNN panel
``field``       receptive fields, layer by layer
``occlusion``   the occlusion map
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.core.presets import preset_kernel

PANELS = ("maps", "step", "xo", "ann_vs_cnn", "field", "occlusion")
DEFAULT_CONV1 = {"kernel": 3, "stride": 1, "padding": 1, "pool": "max", "pool_size": 2, "pool_stride": 2,
                 "activation": "relu"}


@dataclass(frozen=True)
class Lesson:
    """One guided lesson.

    ``kernels`` sets filters of conv 1 to presets, ``(filter, preset name)``, with a zero bias;
    ``settings`` overrides conv 1's defaults (kernel 3, stride 1, padding 1, max pool 2);
    ``phase`` is the step-through phase to open at (for ``panel == "step"``).
    """

    key: str
    title: str
    text: str
    panel: str
    digit: int | None = 7
    kernels: tuple[tuple[int, str], ...] = ()
    settings: dict = field(default_factory=dict)
    phase: str | None = None

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
           "xo", digit=None),
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


def apply_lesson(lesson: Lesson, playground, canvas_model=None) -> None:
    """Load ``lesson`` into ``playground`` (and draw its digit on ``canvas_model`` when given).

    Conv 1 gets the default settings with the lesson's overrides; the settings
    change is undoable through the playground like any other.
    """
    network = playground.network
    if network.conv_specs:
        spec = network.conv_specs[0]
        wanted = {**DEFAULT_CONV1, **lesson.settings}
        if any(getattr(spec, name) != value for name, value in wanted.items()):
            playground.check_conv_settings(0, **wanted)  # raises, with the reason, before anything changes
            playground.set_conv_settings(0, **wanted)
        size = playground.network.conv_specs[0].kernel
        for filter, name in lesson.kernels:
            if filter < playground.network.conv_specs[0].filters:
                kernel = np.zeros((playground.network.weight(0).shape[1], size, size), dtype=np.float32)
                kernel[0] = preset_kernel(name, size)
                playground.set_kernel(0, filter, kernel)
                playground.set_bias(0, filter, 0.0)
    if lesson.digit is not None:
        if canvas_model is not None:
            canvas_model.clear()
            canvas_model.stamp_sample_digit(lesson.digit)
            image = canvas_model.network_input()
        else:
            image = sample_digit_image(lesson.digit, playground.network.input_shape[1])
        playground.set_input(image)
