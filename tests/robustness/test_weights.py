"""Weights too large to compute with: typed into a kernel, set on the network or saved, they never
become a NaN prediction without a word.  Typed ones are refused (one line with a fix, nothing changes),
saved ones are refused, and the prediction panel explains NaN outputs instead of drawing "nan% sure".
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from drawings import a_drawn_seven  # noqa: E402
from helpers_files import folder_state  # noqa: E402

from cnnstudio.core.document import Document  # noqa: E402
from cnnstudio.core.playground import Playground  # noqa: E402
from cnnstudio.engine import Network  # noqa: E402
from cnnstudio.io.model_file import MAX_WEIGHT  # noqa: E402
from cnnstudio.training import InlineDriver, TrainingSession  # noqa: E402

BEYOND = "beyond ±1,000,000"
FIX = "Fix: type a number between -1,000,000 and 1,000,000."


@pytest.fixture
def playground():
    playground = Playground(Network(seed=0))
    playground.set_input(a_drawn_seven())
    return playground


def unchanged(playground, edit, *fragments):
    """``edit()`` raises one ``ValueError`` line with a fix and each fragment; weights and maps stay as they were."""
    before, trace, undo = playground.network.get_state(), playground.trace, len(playground.undo_stack)
    with pytest.raises(ValueError) as caught:
        edit()
    message = str(caught.value)
    assert "\n" not in message and "Fix:" in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert all(np.array_equal(a, b) for a, b in zip(playground.network.params, before))
    assert playground.trace is trace and len(playground.undo_stack) == undo
    assert np.isfinite(playground.trace.probabilities).all()


@pytest.mark.parametrize("value", [3.4e38, -3.4e38, 1e7, -1_000_001.0])
def test_a_huge_typed_kernel_cell_is_refused(playground, value):
    unchanged(playground, lambda: playground.set_kernel_cell(0, 2, 0, 1, 1, value), "the weight", BEYOND, FIX)


@pytest.mark.parametrize("value", ["1e39", "nan", "inf"])
def test_what_float32_cannot_hold_keeps_its_own_message(playground, value):
    unchanged(playground, lambda: playground.set_kernel_cell(0, 2, 0, 1, 1, float(value)), "not a finite float32")


def test_a_huge_bias_is_refused(playground):
    unchanged(playground, lambda: playground.set_bias(1, 0, 2.5e6), "the bias 2.5e+06 is beyond ±1,000,000", FIX)


def test_a_kernel_with_one_huge_cell_is_refused(playground):
    kernel = np.zeros((3, 3), np.float32)
    kernel[2, 2] = -3e38
    unchanged(playground, lambda: playground.set_kernel(0, 1, kernel, channel=0), "the kernel holds 3e+38", BEYOND)


def test_the_largest_allowed_weights_still_give_a_finite_prediction(playground):
    """±1,000,000 in every cell of every first-layer kernel, on a white image: no overflow."""
    playground.set_input(np.ones((28, 28), np.float32))
    for filter in range(playground.network.weight(0).shape[0]):
        playground.set_kernel(0, filter, np.full((3, 3), MAX_WEIGHT * (-1) ** filter, np.float32), channel=0)
        playground.set_bias(0, filter, MAX_WEIGHT)
    probabilities = playground.trace.probabilities
    assert np.isfinite(probabilities).all() and probabilities.sum() == pytest.approx(1, abs=1e-5)


def test_weights_set_directly_on_the_network_are_not_saved(tmp_path, playground):
    document = Document(playground, TrainingSession(playground, InlineDriver()))
    document.save(tmp_path / "good.cnnmodel")
    before = folder_state(tmp_path)
    playground.network.weight(0)[0, 0, 1, 1] = 3e38  # a script, not the editor: nothing checked it
    with pytest.raises(ValueError) as caught:
        document.save(tmp_path / "good.cnnmodel")
    assert str(caught.value) == ("cannot save: layer 1 has weights beyond ±1,000,000 (up to 3e+38), which make its "
                                 "predictions overflow into NaN. Fix: reset the kernels to the trained weights, or "
                                 "retrain with a lower learning rate.")
    assert folder_state(tmp_path) == before


def test_nan_from_huge_weights_is_explained_by_the_prediction_panel(qtbot, playground):
    from cnnstudio.qt.panels.prediction_bars import QtPredictionBars

    bars = QtPredictionBars(playground)
    qtbot.addWidget(bars)
    playground.network.weight(0)[...] = 3e38  # set on the network directly: the editor would refuse
    with np.errstate(all="ignore"):
        playground.recompute()
    assert not np.isfinite(playground.trace.probabilities).all()
    assert bars.not_finite and bars.probabilities is None and bars.top_class is None
    assert bars.message().startswith("No prediction: the network's outputs are not numbers")
    assert "Fix: Edit > Reset kernels, or load a model." in bars.message()
    playground.reset_kernels()
    assert not bars.not_finite and bars.message() is None and np.isfinite(bars.probabilities).all()


def test_typing_a_huge_weight_in_the_kernel_editor_changes_nothing(qtbot, playground):
    from PySide6.QtCore import Qt

    from cnnstudio.qt.panels.kernel_editor import QtKernelEditor

    editor = QtKernelEditor(playground)
    qtbot.addWidget(editor)
    editor.resize(560, 620)
    editor.show()
    qtbot.waitExposed(editor)
    before = playground.network.weight(0).copy()
    editor.grid.setFocus()
    qtbot.keyClick(editor.grid, Qt.Key_Return)
    editor.grid.inline_editor.setText("3.4e38")  # float32 holds it, but the maps after it would overflow
    qtbot.keyClick(editor.grid.inline_editor, Qt.Key_Return)
    np.testing.assert_array_equal(playground.network.weight(0), before)
    assert np.isfinite(playground.trace.probabilities).all()
