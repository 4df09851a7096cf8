"""Training replay: scrub a timeline of weight snapshots and see the kernels, the drawing's maps and the
prediction as they were at that step, beside the loss curve; "Compare with now" puts the present beside them.

The snapshots are the training session's ``ReplayRecorder`` (training/replay.py): recorded while
training runs, saved in the model file.  The replay never touches the user's network: a past step
runs on a copy (``network.copy()`` + ``set_state``).  Every update is one forward pass of one image
(well under a millisecond for the default network), so the view follows strokes live while shown.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QToolButton, QVBoxLayout, QWidget

from cnnstudio.qt.widgets import theme
from cnnstudio.qt.widgets.signals import listen

from .replay_images import first_kernels, kernel_pixels, maps_pixels, stage_tops, symmetric_top
from .replay_panel import BAR_COLOUR, ReplayPanel

PLAY_INTERVAL_MS = 150   # one snapshot per tick while playing
CURVE_INTERVAL_MS = 100  # the loss curve redraws at most this often while training runs
MARKER_COLOUR = (232, 89, 12)
EMPTY_TEXT = ("No snapshots yet: train the network (Training dock, Start) and the replay records its "
              "weights as it learns.")


class ReplayView(QWidget):
    """The training replay tab of the Inspect dock (objectName ``inspectReplay``, set by the dock).

    ``slider`` picks a snapshot (mouse, arrow keys, Page Up/Down, Home/End); ``play_button`` steps
    through them; ``compare_button`` shows ``now_panel`` beside ``past_panel``; the marker on
    ``loss_plot`` can be dragged (or the plot clicked) to pick the nearest snapshot.
    """

    def __init__(self, context, parent=None):
        super().__init__(parent)
        self.context = context
        self.playground = context.playground
        self.controller = context.training_controller
        self.recorder = self.controller.session.replay
        self.index = -1                 # the snapshot shown (-1: none)
        self.step: int | None = None    # its training step
        self.past_trace = None          # the drawing through the past weights
        self._past_network = None
        self._past_index = None         # the snapshot whose weights _past_network holds
        self._following = True          # at the newest snapshot: stay there as new ones arrive
        self._setting_marker = False
        self._dirty = {"snapshots", "maps", "curve"}
        self._build()
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)  # coalesce bursts: one update a turn
        self._refresh_timer.timeout.connect(self._refresh_if_shown)
        self._curve_timer = QTimer(self, singleShot=True, interval=CURVE_INTERVAL_MS)
        self._curve_timer.timeout.connect(lambda: self._changed("curve"))
        self._play_timer = QTimer(self, interval=PLAY_INTERVAL_MS)
        self._play_timer.timeout.connect(self._play_tick)
        events = self.playground.events
        listen(self, events.activations_changed, lambda *_: self._changed("maps"))
        listen(self, events.class_names_changed, lambda *_: self._changed("maps"))
        listen(self, self.recorder.events.changed, lambda *_: self._changed("snapshots"))
        self.controller.history_changed.connect(self._history_changed)
        self.controller.progress.connect(self._progress)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        controls = QHBoxLayout()
        self.play_button = QToolButton(text="▶ Play")
        self.play_button.setObjectName("replayPlay")
        self.play_button.setToolTip("Play the snapshots from the selected one to the newest")
        self.play_button.clicked.connect(self.toggle_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("replaySlider")
        self.slider.setToolTip("The training step to replay (arrow keys, Page Up/Down, Home/End)")
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setPageStep(5)
        self.slider.valueChanged.connect(self._slider_moved)
        self.step_label = QLabel()
        self.step_label.setObjectName("replayStep")
        self.step_label.setMinimumWidth(180)
        self.compare_button = QPushButton("Compare with now")
        self.compare_button.setObjectName("replayCompare")
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip("Show the network as it is now beside the replayed step")
        self.compare_button.toggled.connect(self._compare_toggled)
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.step_label)
        controls.addWidget(self.compare_button)
        layout.addLayout(controls)
        self.status = QLabel(EMPTY_TEXT)
        self.status.setObjectName("replayStatus")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(f"color: {theme.css(theme.muted())}")
        layout.addWidget(self.status)
        panels = QHBoxLayout()
        self.past_panel = ReplayPanel("then", "replayPast")
        self.now_panel = ReplayPanel("now", "replayNow")
        self.now_panel.setVisible(False)
        self.past_panel.heading.setVisible(False)  # "then" and "now" headings only when both are shown
        panels.addWidget(self.past_panel, 1)
        panels.addWidget(self.now_panel, 1)
        layout.addLayout(panels, 3)
        self.loss_plot = self._make_loss_plot()
        layout.addWidget(self.loss_plot, 2)

    def _make_loss_plot(self) -> pg.PlotWidget:
        plot = pg.PlotWidget(background=theme.panel())
        plot.setObjectName("replayLoss")
        plot.setToolTip("The training loss; the orange line is the replayed step (drag it, or click the plot). "
                        "Dots: the snapshots")
        item = plot.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        text = theme.css(theme.panel_text())
        item.setLabel("left", "loss", color=text)
        item.setLabel("bottom", "training step", color=text)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen(text)
        self.batch_curve = item.plot([], [], pen=pg.mkPen(BAR_COLOUR + (60,), width=1))
        self.loss_curve = item.plot([], [], pen=pg.mkPen(BAR_COLOUR, width=2))
        self.snapshot_dots = item.plot([], [], pen=None, symbol="o", symbolSize=5, symbolBrush=(90, 90, 90),
                                       symbolPen=None)
        self.marker = pg.InfiniteLine(0, angle=90, movable=True, pen=pg.mkPen(MARKER_COLOUR, width=2),
                                      hoverPen=pg.mkPen(MARKER_COLOUR, width=4))
        self.marker.sigPositionChanged.connect(self._marker_moved)
        self.marker.sigPositionChangeFinished.connect(self._place_marker)  # let go: it snaps to the snapshot
        item.addItem(self.marker)
        plot.scene().sigMouseClicked.connect(self._plot_clicked)
        return plot

    # ------------------------------------------------------------------ commands
    def select(self, index: int) -> None:
        """Replay snapshot ``index`` (as the slider does)."""
        self.slider.setValue(int(index))

    def toggle_play(self) -> None:
        if self._play_timer.isActive():
            self._stop_playing()
            return
        if len(self.recorder) < 2:
            return
        if self.index >= len(self.recorder) - 1:
            self.select(0)  # at the end: play from the start
        self._play_timer.start()
        self.play_button.setText("❚❚ Pause")

    def stop(self) -> None:
        """Stop playing (the dock calls this as the window closes; there is no thread)."""
        self._stop_playing()

    def _stop_playing(self) -> None:
        self._play_timer.stop()
        self.play_button.setText("▶ Play")

    def _play_tick(self) -> None:
        if self.index >= len(self.recorder) - 1:
            self._stop_playing()
        else:
            self.select(self.index + 1)

    # ------------------------------------------------------------------ events
    def _changed(self, what: str) -> None:
        self._dirty.add(what)
        if self.isVisible() and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._dirty |= {"snapshots", "maps", "curve"}  # it may have missed changes while hidden
        self._refresh_timer.start()

    def _history_changed(self) -> None:
        self._changed("curve")

    def _progress(self, progress) -> None:
        if not self._curve_timer.isActive():
            self._curve_timer.start()

    def _slider_moved(self, value: int) -> None:
        self._following = value >= len(self.recorder) - 1
        if value != self.index:
            self.index = value
            self._dirty.add("maps")
            self.refresh()  # at once: a drag or a key press shows its step in the same frame

    def _compare_toggled(self, on: bool) -> None:
        self.now_panel.setVisible(on)
        self.past_panel.heading.setVisible(on)
        self._dirty.add("maps")
        self.refresh()

    def _marker_moved(self) -> None:
        if not self._setting_marker and len(self.recorder):
            self.select(self.recorder.nearest(self.marker.value()))

    def _place_marker(self) -> None:
        if self.step is not None:
            self._setting_marker = True
            self.marker.setValue(self.step)
            self._setting_marker = False

    def _plot_clicked(self, event) -> None:
        box = self.loss_plot.getPlotItem().getViewBox()
        if len(self.recorder) and box.sceneBoundingRect().contains(event.scenePos()):
            self.select(self.recorder.nearest(box.mapSceneToView(event.scenePos()).x()))

    # ------------------------------------------------------------------ drawing
    def _refresh_if_shown(self) -> None:
        """The coalesced update, unless the view was hidden since it was asked for (showEvent catches up)."""
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Bring what is dirty up to date (the snapshots, the pictures, the curve)."""
        dirty, self._dirty = self._dirty, set()
        if "snapshots" in dirty:
            self._sync_slider()
            dirty |= {"maps", "curve"}
        if "maps" in dirty:
            self._show_step()
        if "curve" in dirty:
            self._show_curve()

    def _sync_slider(self) -> None:
        count = len(self.recorder)
        self._past_index = None  # the snapshot at an index may be another one now
        if self._following or self.step is None or count == 0:
            index = count - 1
        else:  # thinning renumbers the snapshots: stay at the step shown (or the nearest one kept)
            index = self.recorder.nearest(self.step)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.setValue(max(index, 0))
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.play_button.setEnabled(count > 1)
        self.index = index
        if count == 0:
            self._stop_playing()

    def _past_weights_network(self):
        """A copy of the playground's network holding snapshot ``index``'s weights (None if they do not fit)."""
        network = self.playground.network
        shapes = tuple(p.shape for p in network.params)
        if self._past_network is None or tuple(p.shape for p in self._past_network.params) != shapes \
                or self._past_network.layers != network.layers:
            self._past_network, self._past_index = network.copy(), None
        if self._past_index != self.index:
            if tuple(tuple(s) for s in self.recorder.shapes) != shapes:
                return None
            self._past_network.set_state(self.recorder.state_at(self.index))
            self._past_index = self.index
        return self._past_network

    def _show_step(self) -> None:
        count = len(self.recorder)
        comparing = self.compare_button.isChecked()
        now_trace = self.playground.trace
        past = self._past_weights_network() if count else None
        if past is None:
            self.step, self.past_trace = None, None
            self.step_label.setText("no snapshot")
            self.status.setText(self.recorder.problem or EMPTY_TEXT if count == 0 else
                                "The snapshots belong to another architecture: train this one to record new ones.")
            self.status.setVisible(True)
            for box in (self.past_panel.kernels, self.past_panel.maps):
                box.show_note("no snapshot")
            self.past_panel.bars.show_probabilities(None, self._class_names())
            if comparing:
                self._show_panel(self.now_panel, self.playground.network, now_trace, [now_trace], None)
            return
        self.step = self.recorder.steps[self.index]
        loss = self.recorder.losses[self.index]
        newest = self.recorder.steps[-1]
        loss_text = "" if loss is None else f" · loss {loss:.3f}"
        self.step_label.setText(f"step {self.step:,} of {newest:,}{loss_text}")
        self._place_marker()
        try:
            self.past_trace = self._drawing_through(past)
        except ValueError as err:
            self.past_trace = None
            self.status.setText(f"The drawing cannot go through this network: {err}")
            self.status.setVisible(True)
            return
        notes = []
        if not self.playground.network.conv_specs:
            notes.append("The kernels and maps need a conv layer: add one in the architecture to see them.")
        if self.past_trace.probabilities is None:
            notes.append("The prediction needs an input of the network's size (a 28x28 drawing).")
        self.status.setText(" ".join(notes))
        self.status.setVisible(bool(notes))
        traces = [self.past_trace, now_trace] if comparing else [self.past_trace]
        kernel_top = symmetric_top(first_kernels(past), first_kernels(self.playground.network)
                                   if comparing else None)
        self.past_panel.heading.setText(f"then · step {self.step:,}")
        self.now_panel.heading.setText(f"now · step {newest:,}" if not self.controller.session.has_session
                                       else "now (training)")
        self._show_panel(self.past_panel, past, self.past_trace, traces, kernel_top)
        if comparing:
            self._show_panel(self.now_panel, self.playground.network, now_trace, traces, kernel_top)

    def _drawing_through(self, past):
        """The drawing through ``past``'s weights: the playground's own trace when they are its present weights.

        NOTE: while training runs the tab follows the newest snapshot, whose weights (exact) are the ones the
        playground has just run; a second forward pass took 14 ms of the GUI thread per weights report on 'Wide'.
        """
        present = self.playground.network
        if (self.index == len(self.recorder) - 1 and self.playground.trace is not None
                and past.layers == present.layers
                and all(np.array_equal(a, b) for a, b in zip(past.params, present.params))):
            return self.playground.trace
        return past.forward_maps(self.playground.input)

    def _show_panel(self, panel: ReplayPanel, network, trace, traces, kernel_top) -> None:
        kernels = first_kernels(network)
        if kernels is None or trace is None:
            panel.kernels.show_note("no conv layer")
            panel.maps.show_note("no conv layer")
        else:
            top = kernel_top or symmetric_top(kernels)
            panel.kernels.show_pixels(kernel_pixels(kernels, top))
            panel.kernels.title.setText(f"layer 1 kernels (±{top:.2g})")
            panel.maps.show_pixels(maps_pixels(trace, network, stage_tops(traces, network)))
        panel.bars.show_probabilities(None if trace is None else trace.probabilities, self._class_names())

    def _class_names(self) -> list[str]:
        classes = self.playground.network.num_classes
        return list(getattr(self.playground, "class_names", [str(k) for k in range(classes)]))

    def _show_curve(self) -> None:
        history = self.controller.session.history
        steps = np.asarray(history.data["step"], dtype=np.float64)
        self.batch_curve.setData(steps, np.asarray(history.data["loss"], dtype=np.float64))
        smoothed = np.asarray(history.smoothed_loss, dtype=np.float64)
        self.loss_curve.setData(steps, smoothed)
        snapshot_steps = np.asarray(self.recorder.steps, dtype=np.float64)
        if len(steps) and len(snapshot_steps):
            self.snapshot_dots.setData(snapshot_steps, np.interp(snapshot_steps, steps, smoothed))
        else:
            self.snapshot_dots.setData([], [])
        item = self.loss_plot.getPlotItem()
        top_step = max(float(steps[-1]) if len(steps) else 0.0, float(snapshot_steps[-1]) if len(snapshot_steps)
                       else 0.0, 10.0)
        item.setXRange(0, top_step, padding=0.02)
        top_loss = float(np.max(history.data["loss"][:50], initial=0.5)) if len(steps) else 2.5
        item.setYRange(0, top_loss, padding=0.05)
        self.marker.setVisible(self.step is not None)
