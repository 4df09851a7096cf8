"""Attribution: which pixels of the drawing made the network say a class, five ways side by side.

Saliency, SmoothGrad, integrated gradients (from a blank canvas), Grad-CAM on a chosen conv layer and
the occlusion map, for the predicted class or any chosen one; each map with its title, a colour bar
with its range and a one-line "how it is computed", over the faint drawing.  Live while shown: every
change of the playground asks for new maps, computed in a worker thread (attribution_worker.py),
newest request first.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cnnstudio.inspection.attribution import (METHODS, SMOOTHGRAD_NOISE, SMOOTHGRAD_SAMPLES, TITLES,
                                              conv_stage_names, how_computed)
from cnnstudio.qt.lessons.grid_view import rich_label, worth_refreshing
from cnnstudio.qt.widgets.signals import listen, qt_signals_blocked
from cnnstudio.render.mosaic import DIVERGING_LUT, SEQUENTIAL_LUT

from .attribution_worker import AttributionComputer, AttributionRequest
from .map_tile import MapTile, align_texts

PREDICTED = -1  # the class chooser's data for "the predicted class"


def _reason(text: str) -> str:
    """A method's ValueError as a tile shows it: without the function's name, first letter capitalised."""
    head, sep, rest = text.partition(": ")
    text = rest if sep and " " not in head else text
    return text[:1].upper() + text[1:]


class AttributionView(QWidget):
    """Five attribution maps of the current drawing for one class (objectName ``inspectAttribution``).

    ``updated`` is emitted after new maps are shown; ``tiles[method]`` are the ``MapTile``s,
    ``results[method]`` the newest ``Attribution`` (or the reason it cannot apply).
    """

    updated = Signal()

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.playground = context.playground
        self.results: dict = {}
        self.seconds = 0.0
        self._stale = True
        self._waiting: set[str] = set()   # methods asked for while hidden or busy
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        row.addWidget(QLabel("Explain class:"))
        self.class_box = QComboBox()
        self.class_box.setObjectName("attributionClass")
        self.class_box.setToolTip("The class whose score the maps explain")
        row.addWidget(self.class_box)
        row.addSpacing(12)
        row.addWidget(QLabel("Grad-CAM layer:"))
        self.layer_box = QComboBox()
        self.layer_box.setObjectName("attributionLayer")
        self.layer_box.setToolTip("The conv layer whose maps Grad-CAM weighs")
        row.addWidget(self.layer_box)
        self.info = rich_label(wrap=False)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # cut, never widen
        row.addSpacing(12)
        row.addWidget(self.info, 1)
        layout.addLayout(row)
        tiles = QHBoxLayout()
        tiles.setSpacing(4)
        self.tiles = {method: MapTile(TITLES[method], how_computed(method)) for method in METHODS}
        for method, tile in self.tiles.items():
            tile.setObjectName(f"attribution_{method}")
            tiles.addWidget(tile, 1)
        layout.addLayout(tiles, 1)
        self.computer = AttributionComputer(self)
        self.computer.ready.connect(self._show)
        self._timer = QTimer(self, singleShot=True, interval=0)  # coalesce a burst into one request per turn
        self._timer.timeout.connect(self.refresh)
        self.class_box.currentIndexChanged.connect(lambda *_: self._ask(METHODS))
        self._chosen_layer: int | None = None  # the Grad-CAM stage the learner picked (None: the last one)
        self.layer_box.currentIndexChanged.connect(self._layer_chosen)
        events = self.playground.events
        listen(self, events.activations_changed, self._playground_changed)
        listen(self, events.architecture_changed, self._architecture_changed)
        if hasattr(events, "class_names_changed"):
            listen(self, events.class_names_changed, self._fill_classes)
        self._architecture_changed()

    # -- choosers
    def class_names(self) -> list[str]:
        classes = self.playground.network.num_classes
        return list(getattr(self.playground, "class_names", [str(i) for i in range(classes)]))

    def _fill_classes(self, *args) -> None:
        chosen = self.class_box.currentData()
        names = self.class_names()
        with qt_signals_blocked(self.class_box):
            self.class_box.clear()
            self.class_box.addItem("predicted", PREDICTED)
            for k, name in enumerate(names):
                self.class_box.addItem(name if name == str(k) else f"{k}: {name}", k)
            index = self.class_box.findData(chosen)
            self.class_box.setCurrentIndex(max(index, 0))
        self._name_predicted()

    def _layer_chosen(self, index: int) -> None:
        self._chosen_layer = index
        self._ask(("grad_cam",))

    def _fill_layers(self) -> None:
        chosen = -1 if self._chosen_layer is None else self._chosen_layer
        names = conv_stage_names(self.playground.network)
        with qt_signals_blocked(self.layer_box):
            self.layer_box.clear()
            for k, name in enumerate(names):
                self.layer_box.addItem(name, k)
            if not names:
                self.layer_box.addItem("no conv layer", None)
            # the last conv layer by default: the most abstract maps that still have a place
            self.layer_box.setCurrentIndex(chosen if 0 <= chosen < len(names) else max(len(names) - 1, 0))
        self.layer_box.setEnabled(bool(names))
        self.tiles["grad_cam"].set_caption(how_computed("grad_cam", stage=self.layer_box.currentData()))
        align_texts(self.tiles.values())

    def _architecture_changed(self, *args) -> None:
        self._fill_classes()
        self._fill_layers()
        self._playground_changed()

    def _name_predicted(self) -> None:
        trace = self.playground.trace
        if trace is not None and trace.probabilities is not None:
            predicted = int(np.argmax(trace.probabilities))
            self.class_box.setItemText(0, f"predicted ({self.class_names()[predicted]})")
        else:
            self.class_box.setItemText(0, "predicted")

    # -- requests
    def _playground_changed(self, *args) -> None:
        self._name_predicted()
        self._ask(METHODS)

    def _ask(self, methods) -> None:
        self._waiting |= set(methods)
        self._stale = True
        if methods == ("grad_cam",):
            self.tiles["grad_cam"].set_caption(how_computed("grad_cam", stage=self.layer_box.currentData()))
        if worth_refreshing(self):  # hidden, it catches up in showEvent
            self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    def refresh(self) -> None:
        """Ask the worker for the maps that are out of date (all, after a stroke)."""
        playground = self.playground
        methods = tuple(m for m in METHODS if m in self._waiting) or METHODS
        self._waiting.clear()
        self._stale = False
        if not playground.input_fits_network:
            H, W = playground.network.input_shape[1:]
            shape = "×".join(str(v) for v in playground.input.shape[1:])
            text = (f"Attribution needs an input of the network's size ({H}×{W}), but the input is {shape}. "
                    f"Fix: turn on MNIST framing, or load a model made for this size.")
            for tile in self.tiles.values():
                tile.show_message(text)
            self.results = {}
            self.info.setText("")
            self.updated.emit()
            return
        target = self.class_box.currentData()
        self.computer.request(AttributionRequest(
            playground.network.copy(), playground.input.copy(), None if target in (None, PREDICTED) else target,
            self.layer_box.currentData(), methods))

    # -- results
    def _show(self, results: dict, seconds: float, request: AttributionRequest) -> None:
        if request is None or request.network.input_shape != self.playground.network.input_shape:
            return  # made for a network that is gone
        image = request.image
        underlay = image[0] if image.shape[0] == 1 else image.mean(axis=0)
        names = self.class_names()
        for method, (result, _) in results.items():
            self.results[method] = result
            tile = self.tiles[method]
            if isinstance(result, str):
                tile.show_message(_reason(result))
                continue
            tile.set_map(result.map, DIVERGING_LUT if result.signed else SEQUENTIAL_LUT, result.levels, underlay)
            tile.set_detail(self._detail(result))
        self.seconds = seconds
        shown = [r for r in self.results.values() if not isinstance(r, str)]
        if shown:
            first = shown[0]
            probabilities = self.playground.trace.probabilities if self.playground.trace is not None else None
            share = f" ({probabilities[first.predicted]:.0%})" if probabilities is not None and \
                len(probabilities) > first.predicted else ""
            name = names[first.target] if first.target < len(names) else str(first.target)
            self.info.setText(f"Explaining class <b>{name}</b> · predicted "
                              f"{names[first.predicted] if first.predicted < len(names) else first.predicted}"
                              f"{share} · {seconds * 1e3:.0f} ms, off the GUI thread")
            self.info.setToolTip(self.info.text())
        align_texts(self.tiles.values())
        self.updated.emit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        align_texts(self.tiles.values())

    @staticmethod
    def _detail(result) -> str:
        """The numbers under a map: what its total or peak means."""
        if result.method == "saliency":
            return f"largest |gradient|: {result.levels[1]:.3g} per unit of ink"
        if result.method == "smoothgrad":
            return f"{SMOOTHGRAD_SAMPLES} copies, noise σ {SMOOTHGRAD_NOISE}"
        if result.method == "integrated_gradients":
            return (f"sum {result.total:.3g} vs score change {result.score_change:.3g}: "
                    f"off by {result.completeness_error:.2%} ({result.steps} steps)")
        if result.method == "grad_cam":
            h, w = result.cam.shape
            return f"conv {result.stage + 1}: {len(result.filter_weights)} maps of {h}×{w}, stretched"
        if result.method == "occlusion":
            occluded = result.occlusion
            return (f"probability {occluded.baseline:.0%}; the worst patch leaves "
                    f"{occluded.probability.min():.0%}")
        return ""

    def stop(self) -> None:
        """End the worker thread (the window is closing)."""
        self._timer.stop()
        self.computer.stop()
