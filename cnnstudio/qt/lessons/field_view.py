"""Receptive fields, layer by layer: pick a unit of any map, see what it sees on every map before it."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cnnstudio.core.receptive_field import MapTarget, receptive_field
from cnnstudio.lessons.occlusion import field_growth, map_choices
from cnnstudio.render.mosaic import DIVERGING_LUT, INK_LUT
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme

from .grid_view import GridView, rich_label, symmetric_levels, worth_refreshing

FIELD_COLOURS = ("#0a9b48", "#1a73e8", "#e37400", "#a142f4", "#d93025", "#00897b")
NO_CONV_FIELD_TEXT = ("<b>This network has no conv layer</b>, so no unit has a receptive field to show: every "
                      "dense unit sees the whole image. Load a model with conv layers to explore them.")


class ReceptiveFieldView(QWidget):
    """Pick a unit of any map; see the region it sees on every map before it, down to the input."""

    def __init__(self, playground, parent=None):
        super().__init__(parent)
        self.playground = playground
        self.choice = (0, "conv", 14, 14)  # (stage, kind, row, col)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.map_box = QComboBox()
        self.map_box.setToolTip("The map of the unit")
        self.map_box.activated.connect(self._map_chosen)
        row.addWidget(QLabel("unit of"))
        row.addWidget(self.map_box)
        self.summary = rich_label()
        row.addWidget(self.summary, 1)
        layout.addLayout(row)
        layout.addWidget(rich_label(f"<span style='color:{theme.css(theme.muted())}'>Click a cell of any map "
                                    "to pick that unit. Each layer sees a larger region of the input: the coloured "
                                    "squares on the input show one unit's receptive field at each layer.</span>"))
        self.maps_row = QHBoxLayout()
        layout.addLayout(self.maps_row, 1)
        self.views: list[GridView] = []
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.refresh)
        self._stale = False  # the playground changed while the view was hidden
        listen(self, playground.events.activations_changed, self._playground_changed)
        listen(self, playground.events.architecture_changed, self._playground_changed)
        self.refresh()

    def _playground_changed(self, *args) -> None:
        if worth_refreshing(self):
            self._timer.start()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    def _map_chosen(self, index: int) -> None:
        label, stage, kind, (h, w) = self._choices[index]
        self.choice = (stage, kind, h // 2, w // 2)
        self.refresh()

    def select(self, stage: int, kind: str, row: int, col: int) -> None:
        self.choice = (stage, kind, row, col)
        self.refresh()

    def growth(self):
        stage, kind, row, col = self.choice
        return field_growth(self.playground.network, stage, kind, row, col,
                            input_shape=self.playground.input.shape)

    def refresh(self) -> None:
        self._stale = False
        network, trace = self.playground.network, self.playground.trace
        if not network.conv_specs:
            self._choices = []
            self.map_box.clear()
            self.map_box.setEnabled(False)
            for view in self.views:
                view.hide()
            self.summary.setText(NO_CONV_FIELD_TEXT)
            return
        self.map_box.setEnabled(True)
        self._choices = map_choices(network, self.playground.input.shape)
        stage, kind, row, col = self.choice
        names = [(s, k) for _, s, k, _ in self._choices]
        if (stage, kind) not in names:
            stage, kind = names[0]
        h, w = self._choices[names.index((stage, kind))][3]
        self.choice = (stage, kind, min(row, h - 1), min(col, w - 1))
        self.map_box.blockSignals(True)
        self.map_box.clear()
        self.map_box.addItems([c[0] for c in self._choices])
        self.map_box.setCurrentIndex(names.index((stage, kind)))
        self.map_box.blockSignals(False)
        steps = self.growth()
        while len(self.views) < len(steps):
            view = GridView()
            view.clicked.connect(lambda r, c, k=len(self.views): self._clicked(k, r, c))
            self.views.append(view)
            self.maps_row.addWidget(view, 1)
        for view in self.views[len(steps):]:
            view.hide()
        sizes = []
        for k, (view, step) in enumerate(zip(self.views, steps)):
            view.show()
            view.title = f"{step.label} ({step.map_shape[0]}x{step.map_shape[1]})"
            view.step = step
            if step.stage < 0:
                view.set_data(self.playground.input[0], INK_LUT, (0, 1))
            else:
                maps = trace.stages[step.stage]
                data = (maps.pooled if step.kind == "pooled" else maps.conv)[0]
                view.set_data(data, DIVERGING_LUT, symmetric_levels(data))
            r = step.rect
            view.set_overlays(rects=[(r.row0, r.col0, r.row1, r.col1, FIELD_COLOURS[0], 2)])
            view.set_caption(f"{r.height}x{r.width} cells")
        # on the input: one unit's field at each layer of the chain, nested
        rects = []
        for k, step in enumerate(steps[1:]):
            centre = ((step.rect.row0 + step.rect.row1) // 2, (step.rect.col0 + step.rect.col1) // 2)
            field = receptive_field(network, MapTarget(step.stage, "pooled" if step.kind == "pooled" else "conv", 0,
                                                       *centre), input_shape=self.playground.input.shape)
            colour = FIELD_COLOURS[(k + 1) % len(FIELD_COLOURS)]
            rect = field.input_rect
            rects.append((rect.row0, rect.col0, rect.row1, rect.col1, colour, 2))
            sizes.append(f"<span style='color:{colour}'>{step.label}: {field.input_unclipped.height}x"
                         f"{field.input_unclipped.width}</span>")
        self.views[0].set_overlays(rects=rects[::-1])
        self.views[0].set_caption("")
        target = steps[-1]
        self.summary.setText(f"unit ({self.choice[2]}, {self.choice[3]}) of {target.label} sees "
                             f"{steps[0].rect.height}x{steps[0].rect.width} input pixels. One unit's field: "
                             + ", ".join(sizes))

    def _clicked(self, k: int, row: int, col: int) -> None:
        step = self.views[k].step
        if step.stage < 0:
            return
        self.select(step.stage, step.kind, row, col)
