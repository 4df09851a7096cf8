"""Adversarial nudge: the smallest push on every pixel that makes the network see another class.

Live on the current drawing (about 1 ms for FGSM, 7 ms for PGD with 10 steps on the default
network, so it runs on the GUI thread, once per event-loop turn while the tab is shown).
"Apply to canvas" puts the nudged image on the drawing as one undoable step (Ctrl+Z).
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout,
                               QWidget)

from cnnstudio.inspection.adversarial import Nudge, fgsm, pgd
from cnnstudio.qt.lessons.grid_view import GridView, rich_label
from cnnstudio.qt.widgets import theme
from cnnstudio.qt.widgets.signals import listen, qt_signals_blocked
from cnnstudio.render.mosaic import DIVERGING_LUT, INK_LUT

EPSILON_STEPS = 50          # the slider's positions: epsilon 0.00 .. 0.50 by 0.01
DEFAULT_EPSILON = 10        # 0.10
MAX_PGD_STEPS = 40          # 40 steps of the default network stay under 50 ms
RUNNER_UP = -1              # the target chooser's first entry: the second most likely class
BEFORE_COLOUR = "#9aa0a6"
AFTER_COLOUR = "#d93025"


def class_names(playground) -> list[str]:
    classes = playground.network.num_classes
    names = list(getattr(playground, "class_names", [str(i) for i in range(classes)]))
    return names if len(names) == classes else [str(i) for i in range(classes)]


class AdversarialView(QWidget):
    """FGSM / PGD toward a chosen class on the drawing: the perturbation, the new prediction, how little changed."""

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.playground = context.playground
        self.canvas_model = context.canvas_model
        self.nudge: Nudge | None = None
        self.seconds = 0.0
        self._refresh_posted = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(self._build_controls())
        layout.addLayout(self._build_maps(), 3)
        layout.addWidget(self._build_bars(), 2)
        self.info = rich_label()
        self.info.setObjectName("adversarialInfo")
        layout.addWidget(self.info)
        self._fill_targets()
        listen(self, self.playground.events.activations_changed, self._playground_changed)
        listen(self, self.playground.events.architecture_changed, self._architecture_changed)
        if hasattr(self.playground.events, "class_names_changed"):
            listen(self, self.playground.events.class_names_changed, self._fill_targets)

    # ------------------------------------------------------------------ construction
    def _build_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Push toward"))
        self.target_box = QComboBox()
        self.target_box.setObjectName("adversarialTarget")
        self.target_box.setToolTip("The class the nudge tries to make the network see")
        self.target_box.setMaxVisibleItems(16)  # every class visible when the list opens
        row.addWidget(self.target_box)
        self.method_box = QComboBox()
        self.method_box.setObjectName("adversarialMethod")
        self.method_box.addItem("FGSM (one step)", "fgsm")
        self.method_box.addItem("PGD (several steps)", "pgd")
        self.method_box.setToolTip("FGSM: every pixel moves by epsilon at once, against the loss's gradient sign.\n"
                                   "PGD: small sign steps, each kept within epsilon of the drawing: stronger.")
        row.addWidget(self.method_box)
        self.steps_box = QSpinBox(minimum=1, maximum=MAX_PGD_STEPS, value=10, suffix=" steps")
        self.steps_box.setObjectName("adversarialSteps")
        self.steps_box.setToolTip("PGD's steps (each one forward and one backward pass)")
        row.addWidget(self.steps_box)
        row.addWidget(QLabel("ε"))
        self.epsilon_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=EPSILON_STEPS,
                                      value=DEFAULT_EPSILON)
        self.epsilon_slider.setObjectName("adversarialEpsilon")
        self.epsilon_slider.setToolTip("How far each pixel may move (0 .. 0.5 of the ink range)")
        self.epsilon_slider.setMinimumWidth(120)
        row.addWidget(self.epsilon_slider, 1)
        self.epsilon_label = QLabel()
        self.epsilon_label.setMinimumWidth(34)
        row.addWidget(self.epsilon_label)
        self.apply_button = QPushButton("Apply to canvas")
        self.apply_button.setObjectName("adversarialApply")
        self.apply_button.setToolTip("Put the nudged image on the drawing (Ctrl+Z takes it back)")
        row.addWidget(self.apply_button)
        self.target_box.currentIndexChanged.connect(self._controls_changed)
        self.method_box.currentIndexChanged.connect(self._controls_changed)
        self.steps_box.valueChanged.connect(self._controls_changed)
        self.epsilon_slider.valueChanged.connect(self._controls_changed)
        self.apply_button.clicked.connect(self.apply_to_canvas)
        self._show_epsilon()
        return row

    def _build_maps(self) -> QHBoxLayout:
        maps = QHBoxLayout()
        self.original_view = GridView("the drawing (network input)")
        self.perturbation_view = GridView("the nudge, amplified: blue darker, red lighter")
        self.nudged_view = GridView("drawing + nudge")
        self.original_view.set_caption("what the network sees now")
        for view in (self.original_view, self.perturbation_view, self.nudged_view):
            view.setMinimumSize(120, 120)
            maps.addWidget(view, 1)
        return maps

    def _build_bars(self) -> pg.PlotWidget:
        self.bars = pg.PlotWidget(background=theme.panel())
        self.bars.setObjectName("adversarialBars")
        self.bars.setMouseEnabled(x=False, y=False)
        self.bars.hideButtons()
        self.bars.setYRange(0, 1, padding=0.02)
        self.bars.setLabel("left", "probability")
        self.bars.setMinimumHeight(110)
        # the key as the title: a legend inside the plot would cover some class's bars
        self.bars.setTitle(f"<span style='color:{BEFORE_COLOUR}'>■</span> before &nbsp; "
                           f"<span style='color:{AFTER_COLOUR}'>■</span> after the nudge",
                           color=theme.css(theme.panel_text()), size="9pt")
        self.before_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=BEFORE_COLOUR)
        self.after_bars = pg.BarGraphItem(x=[], height=[], width=0.38, brush=AFTER_COLOUR)
        self.bars.addItem(self.before_bars)
        self.bars.addItem(self.after_bars)
        return self.bars

    def _fill_targets(self, *args) -> None:
        names = class_names(self.playground)
        chosen = self.target_box.currentData()
        with qt_signals_blocked(self.target_box):
            self.target_box.clear()
            self.target_box.addItem("the runner-up class", RUNNER_UP)
            for k, name in enumerate(names):
                self.target_box.addItem(f"class {name}", k)
            index = self.target_box.findData(chosen) if chosen is not None else 0
            self.target_box.setCurrentIndex(max(index, 0))
        self.bars.getAxis("bottom").setTicks([[(k, name) for k, name in enumerate(names)]])
        self.bars.setXRange(-0.6, len(names) - 0.4, padding=0)
        self._schedule()

    # ------------------------------------------------------------------ live updates
    def _architecture_changed(self, *args) -> None:
        self._fill_targets()

    def _playground_changed(self, *args) -> None:
        self._schedule()

    def _controls_changed(self, *args) -> None:
        self.steps_box.setEnabled(self.method_box.currentData() == "pgd")
        self._show_epsilon()
        self._schedule()

    def _show_epsilon(self) -> None:
        self.epsilon_label.setText(f"{self.epsilon:.2f}")
        self.steps_box.setEnabled(self.method_box.currentData() == "pgd")

    def _schedule(self) -> None:
        """Refresh once in this event-loop turn however many changes arrive (only while shown)."""
        if self.isVisible() and not self._refresh_posted:
            self._refresh_posted = True
            QTimer.singleShot(0, self._posted_refresh)

    def _posted_refresh(self) -> None:
        self._refresh_posted = False
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule()

    @property
    def epsilon(self) -> float:
        return self.epsilon_slider.value() / 100.0

    def target(self) -> int | None:
        """The class to push toward (the runner-up resolved on the current prediction), None without one."""
        chosen = self.target_box.currentData()
        trace = self.playground.trace
        if chosen is None:
            return None
        if chosen != RUNNER_UP:
            return int(chosen)
        if trace is None or trace.probabilities is None or trace.probabilities.size < 2:
            return None
        return int(np.argsort(trace.probabilities)[-2])

    def refresh(self) -> None:
        """Nudge the current network input toward the target and show it."""
        playground = self.playground
        if not playground.input_fits_network:
            shape = "x".join(map(str, playground.network.input_shape))
            self._clear(f"The nudge needs an input of the network's size ({shape}); this drawing is "
                        f"{'x'.join(map(str, playground.input.shape))}. Switch the canvas to digit mode.")
            return
        target = self.target()
        if target is None:
            self._clear("Choose a class to push toward.")
            return
        start = time.perf_counter()
        try:
            if self.method_box.currentData() == "pgd":
                nudge = pgd(playground.network, playground.input, target, self.epsilon, self.steps_box.value())
            else:
                nudge = fgsm(playground.network, playground.input, target, self.epsilon)
        except ValueError as err:
            self._clear(str(err))
            return
        self.seconds = time.perf_counter() - start
        self.nudge = nudge
        self._show(nudge)

    def _clear(self, text: str) -> None:
        self.nudge = None
        self.apply_button.setEnabled(False)
        self.info.setText(text)

    def _show(self, nudge: Nudge) -> None:
        names = class_names(self.playground)
        self.original_view.set_data(nudge.image[0] - nudge.perturbation[0], INK_LUT, (0, 1))
        top = max(nudge.epsilon, 1e-3)
        self.perturbation_view.set_data(nudge.perturbation[0], DIVERGING_LUT, (-top, top))
        self.perturbation_view.title = f"the nudge ×{1 / top:.0f}: blue darker, red lighter"
        self.perturbation_view.set_caption(f"full colour = ±{top:.2f}")
        self.nudged_view.set_data(nudge.image[0], INK_LUT, (0, 1))
        self.nudged_view.set_caption(f"seen as {names[nudge.prediction]} ({nudge.probabilities.max():.0%})")
        x = np.arange(len(names))
        self.before_bars.setOpts(x=x - 0.2, height=nudge.original_probabilities, width=0.38)
        self.after_bars.setOpts(x=x + 0.2, height=nudge.probabilities, width=0.38)
        self.apply_button.setEnabled(nudge.linf > 0 and self.playground.input.shape[0] == 1)
        before, after, goal = names[nudge.original_prediction], names[nudge.prediction], names[nudge.target]
        verdict = (f"<b style='color:{AFTER_COLOUR}'>now seen as {after}</b>" if nudge.prediction != nudge.original_prediction
                   else f"still seen as <b>{after}</b>")
        steps = f" with {nudge.steps} steps" if nudge.method == "PGD" else ""
        self.info.setText(
            f"{nudge.method}{steps} toward <b>{goal}</b>: was <b>{before}</b> "
            f"({nudge.original_probabilities.max():.0%}), {verdict} ({nudge.probabilities.max():.0%}; "
            f"{goal}: {nudge.original_probabilities[nudge.target]:.0%} → {nudge.probabilities[nudge.target]:.0%}). "
            f"The nudge {nudge.describe()}. "
            f"<span style='color:{theme.css(theme.muted())}'>{self.seconds * 1e3:.1f} ms</span>")

    # ------------------------------------------------------------------ commands
    def apply_to_canvas(self) -> None:
        """Put the nudged image on the drawing, as the network sees it, in one undoable step."""
        nudge = self.nudge
        if nudge is None or nudge.image.shape[0] != 1:
            return
        self.canvas_model.load_network_image(nudge.image[0])
        self.context.message(f"The nudged image is on the canvas ({nudge.describe()}); Ctrl+Z takes it back.", 8000)

    def stop(self) -> None:
        """Nothing runs in the background here (every nudge is computed on the GUI thread in milliseconds)."""
