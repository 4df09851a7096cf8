"""The architecture editor: add, remove and reorder conv stages and dense layers, see every shape, then apply.

Edits change an ``ArchitectureDraft`` (core/architectures.py), never the network: every
layer shows its output shape, its parameters and the validator's verdict as the learner
types.  Apply (enabled only for a possible, changed draft) replaces the network in one
undo step (Edit > Undo network change, Ctrl+Alt+Z); layers keep their trained weights
where the shapes still fit.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout,
                               QWidget)

from cnnstudio.engine.shapes import ConvSpec

from cnnstudio.core.architectures import ARCHITECTURES, MAX_CONV_STAGES, MAX_HIDDEN_DENSE, ArchitectureDraft
from cnnstudio.core.playground import Playground
from cnnstudio.qt.panels.layer_settings.layer_card import LayerCard
from cnnstudio.qt.panels.layer_settings.text import split_reason_fix
from cnnstudio.qt.widgets.signals import listen, qt_signals_blocked
from cnnstudio.qt.widgets import theme

PRESET_PROMPT = "Start from a preset\u2026"


class QtArchitectureEditor(QWidget):
    """Edit a draft of ``playground.network``'s layers; ``apply`` makes it the network.

    Signals
    -------
    applied(list)   the network was replaced; the names of the old layers whose trained weights are gone
    message(str)    a sentence for the status bar
    """

    applied = Signal(list)
    message = Signal(str)

    def __init__(self, playground: Playground, parent=None):
        super().__init__(parent)
        self.setObjectName("architectureEditor")
        self.playground = playground
        self.draft = ArchitectureDraft(playground.network)
        self.cards: list[LayerCard] = []
        self._stale = False  # the network changed while the editor was hidden: its cards are laid out when shown

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 4, 0, 0)
        outer.setSpacing(4)
        top = QHBoxLayout()
        self.preset = QComboBox()
        self.preset.setObjectName("archPreset")
        self.preset.addItem(PRESET_PROMPT)
        self.preset.addItems(list(ARCHITECTURES))
        self.preset.setToolTip("Fill the editor with a known architecture (nothing changes until Apply)")
        self.preset.activated.connect(self._preset_chosen)
        top.addWidget(self.preset, 1)
        self.add_conv = QPushButton("+ Conv")
        self.add_conv.setObjectName("archAddConv")
        self.add_conv.setToolTip(f"Add a conv stage after the last one (up to {MAX_CONV_STAGES})")
        self.add_conv.clicked.connect(lambda: self._structure(self.draft.add_conv))
        self.add_dense = QPushButton("+ Dense")
        self.add_dense.setObjectName("archAddDense")
        self.add_dense.setToolTip(f"Add a hidden dense layer before the output layer (up to {MAX_HIDDEN_DENSE})")
        self.add_dense.clicked.connect(lambda: self._structure(self.draft.add_dense))
        top.addWidget(self.add_conv)
        top.addWidget(self.add_dense)
        outer.addLayout(top)

        self.scroll = QScrollArea()
        self.scroll.setObjectName("archScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 4, 0)
        self.body_layout.setSpacing(4)
        self.body_layout.addStretch(1)
        self.scroll.setWidget(self.body)
        outer.addWidget(self.scroll, 1)

        footer = QHBoxLayout()
        self.total = QLabel()
        self.total.setObjectName("archTotal")
        self.total.setWordWrap(True)
        self.total.setTextFormat(Qt.TextFormat.RichText)
        footer.addWidget(self.total, 1)
        self.revert = QPushButton("Revert")
        self.revert.setObjectName("archRevert")
        self.revert.setToolTip("Forget the edits: show the network's layers again")
        self.revert.clicked.connect(self.revert_draft)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("archApply")
        self.apply_button.setToolTip("Make these layers the network (undo: Ctrl+Alt+Z)")
        self.apply_button.clicked.connect(self.apply)
        footer.addWidget(self.revert, 0, Qt.AlignmentFlag.AlignBottom)
        footer.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignBottom)
        outer.addLayout(footer)
        self.status = QLabel()
        self.status.setObjectName("archStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.status)

        listen(self, playground.events.architecture_changed, self._network_changed)
        self._rebuild()

    # -- model -> view
    def _network_changed(self) -> None:
        """The network changed (applied here, a Layers-tab edit, a loaded model, an undo): show it again."""
        had_edits = self.draft.changed
        self.draft.reset(self.playground.network)
        if self.isVisible():
            self._rebuild()
        else:  # NOTE: the Layers tab's edits come often; the hidden editor lays out its cards once shown
            self._stale = True
        if had_edits:
            self.message.emit("The network changed, so the architecture editor shows its layers again.")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._rebuild()

    def _rebuild(self) -> None:
        """One card per draft layer (after a layer was added, removed or moved, or a preset chosen)."""
        self._stale = False
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        last = len(self.draft.layers) - 1
        for index, layer in enumerate(self.draft.layers):
            card = LayerCard(index, layer.spec, output=index == last)
            card.edited.connect(self._edited)
            card.moved.connect(lambda i, step: self._structure(lambda: self.draft.move(i, step)))
            card.removed.connect(lambda i: self._structure(lambda: self.draft.remove(i)))
            self.body_layout.insertWidget(index, card)
            self.cards.append(card)
        self.refresh()

    def refresh(self) -> None:
        """Shapes, parameters, errors and warnings of every layer, the total, and whether Apply is possible."""
        draft = self.draft
        checks = draft.checks()
        for index, (card, check) in enumerate(zip(self.cards, checks)):
            card.show_check(draft.layers[index].spec, check, draft.can_move(index, -1), draft.can_move(index, 1),
                            draft.can_remove(index))
        self.add_conv.setEnabled(draft.can_add("conv"))
        self.add_dense.setEnabled(draft.can_add("dense"))
        error = next((c for c in checks if c.error), None)
        counts = [c.params for c in checks]
        muted = theme.css(theme.muted())
        if error is None:
            now = sum(self.playground.network.weight_counts())
            self.total.setText(f"<b>Total {sum(counts):,} parameters</b> <span style='color:{muted}'>"
                               f"(now {now:,})</span>")
        else:
            self.total.setText(f"<b>Total: unknown</b> <span style='color:{muted}'>(fix {error.name} first)</span>")
        self.apply_button.setEnabled(error is None and draft.changed)
        self.revert.setEnabled(draft.changed)
        if error is not None:
            reason = split_reason_fix(error.error)[0]
            self.status.setStyleSheet(f"color: {theme.css(theme.error())};")
            self.status.setText(f"Cannot apply: {error.name} is impossible. {reason}")
        elif draft.changed:
            self.status.setStyleSheet(f"color: {muted};")
            self.status.setText("Not applied yet: the network is as it was until you press Apply.")
        else:
            self.status.setStyleSheet(f"color: {muted};")
            self.status.setText("These are the network's layers. Edit them, then Apply.")

    # -- view -> draft
    def _edited(self, index: int, key: str, value) -> None:
        self.draft.set_fields(index, **{key: value})
        self.refresh()

    def _structure(self, change) -> None:
        """Add, remove or move a layer (``change()`` on the draft), then lay the cards out again."""
        try:
            change()
        except ValueError as error:  # the buttons are disabled where this could happen: say why anyway
            self.message.emit(str(error))
            return
        self._rebuild()

    def _preset_chosen(self, index: int) -> None:
        name = self.preset.itemText(index)
        if name == PRESET_PROMPT:
            return
        self.load_preset(name)
        with qt_signals_blocked(self.preset):
            self.preset.setCurrentIndex(0)

    def load_preset(self, name: str) -> None:
        """Fill the draft with architecture ``name`` (nothing is applied)."""
        self.draft.load_preset(name)
        self._rebuild()
        self.message.emit(f"{name}: press Apply to use these layers.")

    def revert_draft(self) -> None:
        self.draft.reset(self.playground.network)
        self._rebuild()

    # -- draft -> model
    def apply(self) -> bool:
        """Make the draft the network (one undo step); False, with the reason shown, when it is impossible."""
        error = self.draft.error()
        if error:
            self.message.emit(f"Not applied: {split_reason_fix(error)[0]}")
            return False
        if not self.draft.changed:
            return False
        old = self.playground.network
        new, replaced = self.draft.build(old)
        self.playground.set_network(new, undo_text="architecture change")  # -> _network_changed
        stages = sum(1 for s in new.layers if isinstance(s, ConvSpec))
        dense = len(new.layers) - stages
        self.message.emit(f"Applied: {stages} conv stage{'' if stages == 1 else 's'}, {dense} "
                          f"dense layer{'' if dense == 1 else 's'}, {sum(new.weight_counts()):,} parameters.")
        self.applied.emit(replaced)
        return True
