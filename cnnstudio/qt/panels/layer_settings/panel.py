"""The Layer settings panel: per-layer settings that apply at once, and the architecture editor in a second tab.

Each edit in the Layers tab becomes one ``playground.set_conv_settings`` command.  An
impossible setting (the playground raises ``ValueError`` with the reason and a fix) is
shown in red right under the field, the field goes back to the network's value and the
network stays as it was.  Warnings (a kernel or pool window that does not slide
symmetrically) are shown in amber under the layer's group, and a change that replaced
trained weights offers an Undo.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from cnnstudio.engine.shapes import ConvSpec
from cnnstudio.core.playground import Playground

from cnnstudio.qt.panels.layer_settings.architecture_editor import QtArchitectureEditor
from cnnstudio.qt.panels.layer_settings.conv_group import FIELD_NOUNS, ConvGroup
from cnnstudio.qt.panels.layer_settings.text import image_mode_note, join_names, layer_name, network_summary, \
    split_reason_fix
from cnnstudio.qt.widgets.signals import listen
from cnnstudio.qt.widgets import theme


class QtLayerSettings(QWidget):
    """Edit the layers of a :class:`Playground`; errors and warnings are explained in place.

    Two tabs: "Layers" applies each conv setting at once; "Architecture" (``architecture``) edits
    the whole layer list as a draft that is applied in one step.
    """

    message = Signal(str)  # a sentence for the status bar

    def __init__(self, playground: Playground, parent=None):
        super().__init__(parent)
        self.setObjectName("layerSettings")
        self.playground = playground
        self.groups: list[ConvGroup] = []

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        self.banner = QFrame()
        self.banner.setObjectName("undoBanner")
        self.banner.setStyleSheet(f"#undoBanner {{ background: {theme.css(theme.warning_background())}; "
                                  f"border: 1px solid {theme.css(theme.warning_border())}; border-radius: 4px; }}")
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(6, 4, 6, 4)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setStyleSheet(f"color: {theme.css(theme.panel_text())};")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("undoSettingsButton")
        self.undo_button.setToolTip("Go back to the previous layers and weights (Ctrl+Alt+Z)")
        self.undo_button.clicked.connect(self.undo)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.undo_button, 0, Qt.AlignmentFlag.AlignTop)
        self.banner.hide()
        outer.addWidget(self.banner)

        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        # NOTE: the groups switch to one field per row on a narrow panel (resizeEvent); a horizontal
        # scroll bar appears only below even that width, so no field is ever out of reach
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 4, 0)
        self.body_layout.setSpacing(6)
        self.summary = QLabel()
        self.summary.setObjectName("networkSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setStyleSheet(f"color: {theme.css(theme.text())}; padding: 2px 4px;")
        self.body_layout.addWidget(self.summary)
        self.body_layout.addStretch(1)
        self.scroll.setWidget(self.body)
        self.architecture = QtArchitectureEditor(playground)
        self.architecture.message.connect(self.message)
        self.architecture.applied.connect(self._architecture_applied)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("layerSettingsTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.scroll, "Layers")
        self.tabs.setTabToolTip(0, "Each conv layer's settings; a change applies at once")
        self.tabs.addTab(self.architecture, "Architecture")
        self.tabs.setTabToolTip(1, "Add, remove and reorder layers, try presets; Apply when the shapes work")
        outer.addWidget(self.tabs, 1)

        self._input_shape = tuple(playground.input.shape)
        listen(self, playground.events.architecture_changed, self.sync)
        listen(self, playground.events.input_changed, self._input_changed)
        self.sync()

    def _input_changed(self) -> None:
        # every stroke sends this: only a new input size (image mode) changes what the groups show
        if tuple(self.playground.input.shape) != self._input_shape:
            self.sync()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Two fields per row when they fit in the panel's width, else one (nothing clipped on a laptop)."""
        if not self.groups:
            return
        available = self.scroll.width() - self.scroll.verticalScrollBar().sizeHint().width() - 4
        columns = 2 if available >= max(g.two_column_width() for g in self.groups) else 1
        for group in self.groups:
            group.set_columns(columns)

    # -- model -> view
    def sync(self) -> None:
        """Rebuild the groups if the number of conv layers changed, then show every layer's settings."""
        network = self.playground.network
        conv_layers = [k for k, s in enumerate(network.layers) if isinstance(s, ConvSpec)]
        if [g.layer for g in self.groups] != conv_layers:
            for group in self.groups:
                group.setParent(None)
                group.deleteLater()
            self.groups = []
            for k in conv_layers:
                group = ConvGroup(k)
                group.edited.connect(self._edit)
                self.body_layout.insertWidget(len(self.groups), group)
                self.groups.append(group)
        self._input_shape = tuple(self.playground.input.shape)
        try:
            stages = network.geometry(self._input_shape)
        except ValueError:  # an input the conv layers cannot take: show the network's own shapes
            stages = network.geometry()
        for group, stage in zip(self.groups, stages):
            group.sync(network, stage)
        note = image_mode_note(network, self._input_shape)
        self.summary.setText(network_summary(network) + (f"<br>{note}" if note else ""))
        self._fit_columns()

    def _stage(self, layer: int):
        """The StageGeometry of conv layer ``layer`` on the current input (the network's own if it cannot run)."""
        network = self.playground.network
        index = sum(1 for s in network.layers[:layer] if isinstance(s, ConvSpec))
        try:
            return network.geometry(self._input_shape)[index]
        except ValueError:
            return network.geometry()[index]

    def group(self, layer: int) -> ConvGroup:
        return next(g for g in self.groups if g.layer == layer)

    # -- view -> model
    def _edit(self, layer: int, key: str, value) -> None:
        self.apply(layer, **{key: value})

    def apply(self, layer: int, **changes) -> bool:
        """Send one settings command; on ``ValueError`` explain it under the field and keep the network."""
        group = self.group(layer)
        key = next(iter(changes))
        before = self.playground.network
        try:
            change = self.playground.set_conv_settings(layer, **changes)
        except ValueError as error:
            group.clear_errors()
            group.sync(self.playground.network, self._stage(layer))  # the field goes back to the value the network has
            group.show_error(key, str(error))
            self.message.emit(f"Not applied: {split_reason_fix(str(error))[0]}")
            return False
        for g in self.groups:
            g.clear_errors()
        after = self.playground.network
        what = FIELD_NOUNS.get(key, key)
        if change.discarded_weights:
            replaced = [layer_name(after, k) for k in range(min(len(before.layers), len(after.layers)))
                        if before.weight(k).shape != after.weight(k).shape]
            layers = join_names(replaced) if replaced else "some layers"
            text = f"Changing {what} replaced the trained weights of {layers} with fresh random ones."
            self.banner_text.setText(text + "  Undo: Ctrl+Alt+Z or the button.")
            self.banner.show()
            self.message.emit(text + " \u2014 Undo (Ctrl+Alt+Z)")
        else:
            self.banner.hide()
            self.message.emit(f"{layer_name(after, layer).capitalize()}: {what} set to {changes[key]}.")
        return True

    def _architecture_applied(self, replaced: list) -> None:
        for g in self.groups:
            g.clear_errors()
        if replaced:
            text = f"The new architecture replaced the trained weights of {join_names(replaced)} with fresh random ones."
            self.banner_text.setText(text + "  Undo: Ctrl+Alt+Z or the button.")
            self.banner.show()
        else:
            self.banner.hide()

    def undo(self) -> bool:
        """Take back the newest change to the network (a settings change, a kernel edit, a model load, ...)."""
        try:
            undone = self.playground.undo()
        except ValueError as err:
            self.message.emit(f"Cannot undo: {err}.")
            return False
        self.banner.hide()
        for g in self.groups:
            g.clear_errors()
        self.message.emit(f"Undid the {undone}." if undone else "Nothing to undo.")
        return undone is not None
