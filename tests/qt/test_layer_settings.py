"""The layer settings panel: edits become commands, refusals are explained next to the field."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSpinBox, QWidget

from cnnstudio.engine.shapes import ConvSpec
from cnnstudio.core.playground import Playground
from cnnstudio.qt.panels.layer_settings import QtLayerSettings, merge_axis_warnings, split_reason_fix


@pytest.fixture
def playground():
    return Playground()


@pytest.fixture
def settings(qtbot, playground):
    widget = QtLayerSettings(playground)
    qtbot.addWidget(widget)
    widget.resize(340, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def editor(settings, layer: int, key: str):
    return settings.findChild(QWidget, f"conv{layer}_{key}")


def type_value(qtbot, spin: QSpinBox, value: int) -> None:
    """Select the spin box's text, type a number and press Enter, as a user does."""
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_one_group_per_conv_layer_showing_the_network(settings, playground):
    assert settings.objectName() == "layerSettings"
    assert [g.layer for g in settings.groups] == [0, 1]
    assert editor(settings, 0, "kernel").value() == 3
    assert editor(settings, 1, "filters").value() == 16
    assert editor(settings, 0, "activation").currentText() == "relu"
    assert "8\u00d714\u00d714" in settings.groups[0].title()


def test_typing_a_stride_changes_the_network(qtbot, settings, playground):
    type_value(qtbot, editor(settings, 0, "stride"), 2)
    assert playground.network.layers[0].stride == 2
    assert playground.trace.stages[0].conv.shape == (8, 14, 14)
    assert "7\u00d77" in settings.groups[0].title()  # the group shows the new shape at once


def test_choosing_an_activation_changes_the_network(settings, playground):
    editor(settings, 1, "activation").setCurrentText("tanh")
    assert playground.network.layers[1].activation == "tanh"


def test_padding_offers_same(settings, playground):
    spin = editor(settings, 0, "padding")
    spin.setValue(spin.minimum())
    assert spin.text() == "same"
    assert playground.network.layers[0].padding == "same"


def test_impossible_setting_is_explained_next_to_the_field_and_refused(qtbot, settings, playground):
    before = playground.network.layers
    kernel = editor(settings, 0, "kernel")
    type_value(qtbot, kernel, 1)  # padding 1 >= kernel 1: some outputs would see only zeros
    error = settings.findChild(QLabel, "conv0_kernel_error")
    assert error.isVisible()
    assert "Padding P = 1 >= kernel size K = 1" in error.text()
    assert "Fix:" in error.text()
    assert playground.network.layers == before
    assert kernel.value() == 3  # the field shows the network's value again
    # the error sits right under its field
    gap = error.mapTo(settings, error.rect().topLeft()).y() - kernel.mapTo(settings, kernel.rect().bottomLeft()).y()
    assert 0 <= gap < 30


def test_error_of_another_layer_names_that_layer(settings, playground):
    settings.apply(0, stride=4)           # conv 1: 28 -> 7 -> pool 3
    assert not settings.apply(1, kernel=7)  # 7 > 3 + 2*1: impossible on conv 2
    text = settings.group(1).errors["kernel"].text()
    assert "larger than the padded input" in text
    assert playground.network.layers[1].kernel == 3


def test_next_good_edit_clears_the_error(settings):
    settings.apply(0, kernel=1)
    assert settings.group(0).errors["kernel"].isVisible()
    settings.apply(0, filters=4)
    assert not settings.group(0).errors["kernel"].isVisible()


def test_asymmetric_slide_warns_in_amber(settings, playground):
    assert not settings.group(1).warning.isVisible()
    settings.apply(1, stride=2)  # (14 - 3 + 2) = 13 is odd
    warning = settings.group(1).warning
    assert warning.isVisible()
    assert "not divisible by the stride" in warning.text()
    settings.apply(1, stride=1)
    assert not warning.isVisible()


def test_replaced_weights_offer_undo_with_the_button(qtbot, settings, playground):
    weights = playground.network.get_state()
    settings.apply(0, filters=4)
    assert settings.banner.isVisible()
    assert "Changing the number of filters replaced the trained weights of conv 1 and conv 2" \
        in settings.banner_text.text()
    qtbot.mouseClick(settings.undo_button, Qt.MouseButton.LeftButton)
    assert playground.network.layers[0].filters == 8
    assert all(np.array_equal(a, b) for a, b in zip(weights, playground.network.params))
    assert not settings.banner.isVisible()
    assert editor(settings, 0, "filters").value() == 8


def test_model_change_updates_fields_without_echo(settings, playground, monkeypatch):
    calls = []
    original = playground.set_conv_settings
    monkeypatch.setattr(playground, "set_conv_settings", lambda *a, **k: calls.append((a, k)) or original(*a, **k))
    original(1, kernel=5, padding=2)  # a change that does not come from the panel
    assert editor(settings, 1, "kernel").value() == 5
    assert editor(settings, 1, "padding").value() == 2
    assert calls == []  # syncing the fields sent no command back


def test_pool_fields_disabled_without_pooling(settings):
    settings.apply(1, pool="none")
    assert not editor(settings, 1, "pool_size").isEnabled()
    settings.apply(1, pool="avg")
    assert editor(settings, 1, "pool_size").isEnabled()


def test_groups_follow_the_number_of_conv_layers(settings, playground):
    from cnnstudio.engine import Network
    from cnnstudio.engine.shapes import DenseSpec

    playground.network = Network([ConvSpec(4), ConvSpec(4), ConvSpec(4, pool="none"), DenseSpec(10)])
    playground.events.architecture_changed.emit()
    assert [g.layer for g in settings.groups] == [0, 1, 2]


def test_merge_axis_warnings_and_split_reason_fix():
    height = "the kernel does not slide over the height: the last 1 row(s) are never covered."
    width = "the kernel does not slide over the width: the last 1 column(s) are never covered."
    assert merge_axis_warnings([height, width]) == [
        "the kernel does not slide over the height and width: the last 1 rows and columns are never covered."]
    assert merge_axis_warnings([height]) == [height]
    reason, fix = split_reason_fix("layer 1 (conv 1): kernel too big. Fix: use 3.", "conv 1")
    assert (reason, fix) == ("Kernel too big.", "use 3.")
    reason, _ = split_reason_fix("layer 3 (conv 2): kernel too big. Fix: use 3.", "conv 1")
    assert reason.startswith("Layer 3 (conv 2)")


def test_summary_counts_the_trainable_numbers(settings, playground):
    total = sum(playground.network.weight_counts())
    assert f"total {total:,}" in settings.summary.text()
    settings.apply(1, filters=4)
    assert f"total {sum(playground.network.weight_counts()):,}" in settings.summary.text()
    assert "4\u00d77\u00d77 = 196 numbers \u2192 10" in settings.summary.text()


def test_image_mode_shows_the_real_shapes_and_arithmetic(settings, playground):
    import numpy as np
    playground.set_input(np.zeros((1, 128, 128), dtype=np.float32))
    title = settings.groups[0].title()
    assert "1\u00d7128\u00d7128" in title and "8\u00d764\u00d764" in title
    assert "(128 \u2212 3 + 2\u00b71) / 1 + 1 = 128" in settings.groups[0].arithmetic.text()
    assert "Image mode" in settings.summary.text() and "only run" in settings.summary.text()
    playground.set_input(np.zeros((1, 28, 28), dtype=np.float32))
    assert "1\u00d728\u00d728" in settings.groups[0].title() and "Image mode" not in settings.summary.text()
