"""The architecture editor: a layer list edited as a draft with live shapes, applied in one undoable step,
and every view of the window following the new depth."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QPushButton, QWidget

from cnnstudio.core.architectures import ARCHITECTURES, ArchitectureDraft, check_layers, layers_for
from cnnstudio.engine import ConvSpec, DenseSpec, Network, spec_to_dict
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.io.model_file import load_model, save_model
from cnnstudio.qt.panels.layer_settings import QtLayerSettings

TIMEOUT_MS = 60_000


# -- Qt-free: the draft

def test_every_preset_is_valid_and_keeps_the_class_count():
    for name in ARCHITECTURES:
        layers = layers_for(name, 7)
        assert layers[-1].units == 7
        checks = check_layers((1, 28, 28), layers)
        assert all(c.error == "" and c.output_shape is not None for c in checks), name
        assert sum(c.params for c in checks) == sum(Network(layers).weight_counts())


def test_check_layers_reports_the_impossible_layer_and_keeps_the_shapes_before_it():
    layers = [ConvSpec(8), ConvSpec(16, kernel=3, padding=3), ConvSpec(16), DenseSpec(10)]
    checks = check_layers((1, 28, 28), layers)
    assert checks[0].output_shape == (8, 14, 14) and checks[0].params == 8 * (9 + 1)
    assert "padding P = 3 >= kernel size K = 3" in checks[1].error and "Fix:" in checks[1].error
    assert checks[1].input_shape == (8, 14, 14) and checks[1].output_shape is None
    assert [c.output_shape for c in checks[2:]] == [None, None]


def test_the_draft_moves_layers_among_their_kind_and_keeps_weights_where_shapes_fit():
    network = Network(seed=2)
    draft = ArchitectureDraft(network)
    assert not draft.changed and not draft.can_remove(2) and not draft.can_move(1, 1)
    draft.add_conv()                       # conv 3: 16 filters on 16x7x7, pooled to 3x3
    draft.add_dense()                      # a hidden dense layer before the output
    assert draft.changed and [type(s).__name__ for s in draft.specs] == ["ConvSpec"] * 3 + ["DenseSpec"] * 2
    assert draft.move(0, 1) == 1           # conv 1 and conv 2 swap: both shapes change
    draft.move(1, -1)
    new, replaced = draft.build(network)
    np.testing.assert_array_equal(new.weight(0), network.weight(0))
    np.testing.assert_array_equal(new.weight(1), network.weight(1))
    assert replaced == ["dense 1"]         # the output layer now reads 64 numbers
    with pytest.raises(ValueError, match="Fix:"):
        draft.set_fields(len(draft.layers) - 1, units=3)


# -- the editor in the window

@pytest.fixture(scope="module")
def small_data():
    train, test = load_mnist_5k()
    return (Digits(train.images[::13], train.labels[::13], "small train"),
            Digits(test.images[::5], test.labels[::5], "small test"))


def click(qtbot, widget: QWidget) -> None:
    assert widget.isEnabled(), widget.objectName()
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    QApplication.processEvents()


def type_into(qtbot, spin, text: str) -> None:
    """Select the spin box's text and type, as a user does."""
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    QApplication.processEvents()


def choose(qtbot, combo: QComboBox, text: str) -> None:
    """Pick an item of a closed combo box by typing its first letters, as a keyboard user does."""
    combo.setFocus()
    qtbot.keyClicks(combo, text)
    QApplication.processEvents()
    assert combo.currentText() == text


def field(editor, index: int, key: str):
    return editor.findChild(QWidget, f"arch{index}_{key}")


def editor_tab(qtbot, playground, size=(380, 800)) -> QtLayerSettings:
    """A shown Layer settings panel of ``playground`` (``size`` or its own), on its Architecture tab."""
    settings = QtLayerSettings(playground)
    qtbot.addWidget(settings)
    if size is not None:
        settings.resize(*size)
    settings.show()
    settings.tabs.setCurrentIndex(1)
    return settings


def open_editor(qtbot, window):
    settings = window.layer_settings
    bar = settings.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(1).center())
    assert settings.tabs.currentWidget() is settings.architecture
    return settings.architecture


def build_four_stages(qtbot, editor) -> None:
    """Default (2 stages) -> 4 stages and a hidden dense layer, with the editor's buttons, fields and combos."""
    click(qtbot, editor.findChild(QPushButton, "archAddConv"))   # conv 3: pooled 7 -> 3
    click(qtbot, editor.findChild(QPushButton, "archAddConv"))   # conv 4: 3x3, too small to pool
    assert [c.kind for c in editor.cards] == ["conv"] * 4 + ["dense"]
    assert editor.draft.specs[3].pool == "none"
    click(qtbot, field(editor, 2, "down"))                         # the unpooled stage goes before the pooled one
    assert [s.pool for s in editor.draft.specs[:4]] == ["max", "max", "none", "max"]
    type_into(qtbot, field(editor, 3, "filters"), "32")
    choose(qtbot, field(editor, 2, "activation"), "tanh")
    choose(qtbot, field(editor, 3, "pool"), "avg")
    click(qtbot, editor.findChild(QPushButton, "archAddDense"))
    click(qtbot, editor.findChild(QPushButton, "archAddDense"))
    click(qtbot, field(editor, 5, "remove"))                       # one hidden layer is enough
    type_into(qtbot, field(editor, 4, "units"), "48")
    type_into(qtbot, field(editor, 4, "dropout"), "0.2")


def test_a_four_stage_network_built_in_the_editor_trains_and_every_view_follows(qtbot, window, small_data):
    window.draw_sample_digit()
    window.flush_updates()
    editor = open_editor(qtbot, window)
    before = window.playground.network
    build_four_stages(qtbot, editor)
    # the shapes and parameters are shown before anything is applied; the network is as it was
    assert window.playground.network is before
    assert "16\u00d77\u00d77 \u2192 32\u00d73\u00d73  \u00b7  4,640 parameters" in field(editor, 3, "shapes").text()
    assert f"{48 * (32 * 9 + 1):,} parameters" in field(editor, 4, "shapes").text()
    assert "Total" in editor.total.text()

    click(qtbot, editor.findChild(QPushButton, "archApply"))
    network = window.playground.network
    assert [type(s).__name__ for s in network.layers] == ["ConvSpec"] * 4 + ["DenseSpec"] * 2
    assert network.layers[2].activation == "tanh" and network.layers[3].pool == "avg"
    assert network.layers[3].filters == 32 and network.layers[4] == DenseSpec(48, "relu", dropout=0.2)
    np.testing.assert_array_equal(network.weight(0), before.weight(0))  # conv 1 keeps its trained kernels
    assert "replaced the trained weights" in window.layer_settings.banner_text.text()
    window.flush_updates()

    # one training step through the window's Training dock
    panel = window.training.panel
    panel._mnist = small_data
    weights = network.get_state()
    probabilities = window.prediction_bars.probabilities.copy()
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: panel.history.data["step"] == [1], timeout=TIMEOUT_MS)
    window.flush_updates()
    assert any(not np.array_equal(a, b) for a, b in zip(weights, network.params))
    assert not np.allclose(window.prediction_bars.probabilities, probabilities)
    np.testing.assert_allclose(window.prediction_bars.probabilities,
                               window.playground.trace.probabilities, rtol=1e-5)
    assert window.training.evaluation.evaluate()

    # feature maps: 4 stage columns with finite images
    maps = window.feature_maps
    for k in range(4):
        for kind in ("conv", "activation"):
            assert maps.panel_image(k, kind).image is not None
            assert np.isfinite(maps.map_values(k, kind, 0)).all()
    assert (3, "pooled") in maps._panels and (2, "pooled") not in maps._panels
    # the kernel editor lists the 4 conv layers
    assert window.kernel_editor.layer_combo.count() == 4
    # the Explain dock's step-through can select each layer
    window.explain_dock.show()
    window.explain_dock.panel.show_panel("step")
    step = window.explain_dock.panel.view("step")
    qtbot.waitUntil(lambda: step.stage_box.count() == 4)  # a hidden view catches up once shown
    for k in range(4):
        step.stage_box.setCurrentIndex(k)
        assert step.model.stage == k
        assert np.isfinite(step.shown_feature_map()).any()
    # the linked hover: a stage-4 cell outlines its receptive field on the canvas
    window.canvas._highlights = []
    view = maps.graphics_view()
    point = maps.reveal_cell(3, "conv", 5, 1, 1)
    QApplication.processEvents()
    qtbot.mouseMove(view.viewport(), QPoint(int(point.x()), int(point.y())))
    QApplication.processEvents()
    assert maps._hover is not None and maps._hover.stage == 3
    (outline, _), = window.canvas._highlights
    assert outline.width() > 10 and outline.height() > 10  # 4 stages see most of the digit


def test_a_preset_applies_and_undo_restores_the_network_bit_for_bit(qtbot, window):
    editor = open_editor(qtbot, window)
    before = window.playground.network
    state = before.get_state()
    presets = editor.findChild(QComboBox, "archPreset")
    presets.setFocus()
    qtbot.keyClicks(presets, "Deep")  # typed on the closed combo box: the item is chosen (activated)
    assert editor.draft.specs == layers_for("Deep") and window.playground.network is before
    assert editor.findChild(QComboBox, "archPreset").currentIndex() == 0  # ready for the next choice
    click(qtbot, editor.findChild(QPushButton, "archApply"))
    assert window.playground.network.layers == layers_for("Deep")
    assert len(window.feature_maps._layer_views) >= 4
    assert window.undo_network_action.text().replace("&", "") == "Undo architecture change"
    window.undo_network_action.trigger()
    assert window.playground.network is before
    assert all(np.array_equal(a, b) for a, b in zip(state, window.playground.network.params))
    assert editor.draft.specs == before.layers and not editor.apply_button.isEnabled()
    assert window.kernel_editor.layer_combo.count() == 2


def test_an_impossible_edit_is_explained_next_to_the_layer_and_cannot_be_applied(qtbot, playground):
    settings = editor_tab(qtbot, playground)
    editor = settings.architecture
    layers = list(playground.network.layers)
    type_into(qtbot, field(editor, 1, "padding"), "3")   # conv 2: padding 3 >= kernel 3
    error = editor.findChild(QLabel, "arch1_error")
    assert error.isVisible()
    assert "Padding P = 3 &gt;= kernel size K = 3" in error.text() or "Padding P = 3 >= kernel size K = 3" \
        in error.text()
    assert "Fix:" in error.text()
    assert "impossible" in field(editor, 1, "shapes").text()
    assert "conv 2 is impossible" in editor.status.text()
    apply = editor.findChild(QPushButton, "archApply")
    assert not apply.isEnabled()
    assert not editor.apply()
    assert playground.network.layers == layers
    type_into(qtbot, field(editor, 1, "padding"), "1")    # fixed: the message goes, Apply is still off (no change)
    assert not error.isVisible() and not apply.isEnabled()
    type_into(qtbot, field(editor, 1, "kernel"), "5")
    assert apply.isEnabled()


def test_dropout_is_edited_applied_and_saved(qtbot, playground, tmp_path):
    settings = editor_tab(qtbot, playground)
    editor = settings.architecture
    click(qtbot, editor.findChild(QPushButton, "archAddDense"))
    type_into(qtbot, field(editor, 2, "dropout"), "0.35")
    type_into(qtbot, field(editor, 3, "dropout"), "0.1")  # the output layer's inputs too
    click(qtbot, editor.findChild(QPushButton, "archApply"))
    dense = playground.network.dense_specs
    assert [d.dropout for d in dense] == [0.35, 0.1]
    assert spec_to_dict(dense[0])["dropout"] == 0.35
    path = save_model(tmp_path / "dropout.cnnmodel", playground.network)
    assert [s.dropout for s in load_model(path).network.dense_specs] == [0.35, 0.1]
    assert "dropout 0.35" in settings.summary.text()


def test_a_network_change_elsewhere_refreshes_the_draft(qtbot, playground):
    settings = editor_tab(qtbot, playground, size=None)
    editor = settings.architecture
    click(qtbot, editor.findChild(QPushButton, "archAddConv"))
    assert editor.draft.changed
    settings.tabs.setCurrentIndex(0)
    settings.apply(0, filters=4)                           # the Layers tab applies at once
    assert not editor.draft.changed and editor.draft.specs[0].filters == 4
    settings.tabs.setCurrentIndex(1)                       # the hidden editor caught up when shown
    assert field(editor, 0, "filters").value() == 4 and len(editor.cards) == 3


def test_sixty_four_filters_and_four_stages_scroll_rather_than_squeeze(qtbot, window):
    layers = layers_for("Deep")
    layers[1] = ConvSpec(filters=64, kernel=3, padding=1)
    window.playground.set_network(Network(layers))
    window.flush_updates()
    QApplication.processEvents()
    maps = window.feature_maps
    scroll = maps.scroll_area()
    graphics = maps.graphics_view()
    assert graphics.width() > scroll.viewport().width()  # scrolls sideways to conv 3 and 4
    assert scroll.horizontalScrollBar().isVisible()
    assert maps.panel_layout(1, "conv").columns == 4       # 64 maps: 4 columns of 16
    for k in range(4):
        panel = maps._panels[(k, "conv")]
        shown = panel.view.mapViewToDevice(panel.bounds).boundingRect()
        assert shown.height() / panel.bounds.height() * panel.layout.height >= 17, k  # every map 17+ pixels tall


def test_a_network_without_conv_stages_is_edited_and_the_message_counts_right(qtbot, playground):
    playground.set_network(Network([DenseSpec(16, activation="relu"), DenseSpec(10)], (1, 28, 28), seed=1))
    editor = editor_tab(qtbot, playground).architecture
    heard = []
    editor.message.connect(heard.append)
    assert [c.kind for c in editor.cards] == ["dense", "dense"]
    click(qtbot, field(editor, 0, "remove"))                 # only the output layer is left
    click(qtbot, editor.findChild(QPushButton, "archApply"))
    assert playground.network.layers == [DenseSpec(10)]
    assert heard[-1].startswith("Applied: 0 conv stages, 1 dense layer, 7,850 parameters")
    click(qtbot, editor.findChild(QPushButton, "archAddConv"))  # a first conv stage: 8 filters, pooled
    click(qtbot, editor.findChild(QPushButton, "archAddDense"))
    click(qtbot, editor.findChild(QPushButton, "archApply"))
    assert [type(s) for s in playground.network.layers] == [ConvSpec, DenseSpec, DenseSpec]
    assert playground.network.layers[0] == ConvSpec(8, kernel=3, padding=1, pool="max")
    assert heard[-1].startswith("Applied: 1 conv stage, 2 dense layers,")


def test_a_preset_links_the_old_output_layer_only_to_the_new_output_layer():
    """Default (conv, conv, dense 10) -> a preset with a hidden dense layer of 10 units where the old output was:
    that hidden layer starts fresh; only the new output layer may keep the old output weights."""
    network = Network(seed=0)
    draft = ArchitectureDraft(network)
    ARCHITECTURES["Hidden ten"] = lambda: [ConvSpec(filters=8, kernel=3, padding=1),
                                           ConvSpec(filters=16, kernel=3, padding=1),
                                           DenseSpec(units=10, activation="relu"),
                                           DenseSpec(units=10)]
    try:
        draft.load_preset("Hidden ten")
    finally:
        del ARCHITECTURES["Hidden ten"]
    assert [layer.source for layer in draft.layers] == [0, 1, None, 2]
