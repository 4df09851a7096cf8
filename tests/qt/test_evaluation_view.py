"""The evaluation view: accuracy and confusion matrix of the network, cells that open their test images.

The evaluation runs in a worker thread: ``evaluated`` waits for its results (tests/qt/test_evaluation_async.py
checks the GUI stays responsive meanwhile).
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.core.playground import Playground
from cnnstudio.qt.training.evaluation_view import QtEvaluationView


@pytest.fixture(scope="module")
def test_digits():
    _, test = load_mnist_5k()
    return Digits(test.images[::4], test.labels[::4], "small test")


TIMEOUT_MS = 30_000


def evaluated(qtbot, view):
    """Evaluate and wait for the results to be shown."""
    with qtbot.waitSignal(view.evaluated, timeout=TIMEOUT_MS):
        assert view.evaluate()


@pytest.fixture
def view(qtbot, test_digits):
    # an untrained network: plenty of mistakes to look at
    view = QtEvaluationView(Playground(Network(seed=2)), lambda: test_digits)
    qtbot.addWidget(view)
    view.resize(900, 500)
    return view


def test_evaluate_shows_accuracy_and_the_confusion_matrix(qtbot, view, test_digits):
    evaluated(qtbot, view)
    evaluation = view.evaluation
    assert view.matrix.confusion.sum() == len(test_digits)
    np.testing.assert_array_equal(view.matrix.confusion, evaluation.confusion)
    assert f"{evaluation.accuracy:.1%}" in view.accuracy_label.text()
    assert view.worst_gallery.count() == min(24, int(np.sum(evaluation.predictions != test_digits.labels)))


def test_clicking_a_cell_opens_its_misclassified_images(qtbot, view, test_digits):
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.evaluation is not None, timeout=TIMEOUT_MS)  # shown: it evaluates
    confusion = view.matrix.confusion.copy()
    np.fill_diagonal(confusion, -1)
    true, predicted = np.unravel_index(np.argmax(confusion), confusion.shape)
    assert confusion[true, predicted] > 0

    qtbot.mouseClick(view.matrix, Qt.MouseButton.LeftButton, pos=view.matrix.cell_rect(true, predicted).center())

    gallery = view.cell_gallery
    assert gallery.count() == confusion[true, predicted]
    assert all(gallery.item(k).text().startswith(f"{true} → {predicted}") for k in range(gallery.count()))
    rows = [gallery.item(k).data(Qt.ItemDataRole.UserRole) for k in range(gallery.count())]
    assert all(test_digits.labels[row] == true and view.evaluation.predictions[row] == predicted for row in rows)
    assert f"True {true}, predicted {predicted}" in view.cell_title.text()


def test_the_worst_mistakes_come_most_confident_first(qtbot, view, test_digits):
    evaluated(qtbot, view)
    rows = [view.worst_gallery.item(k).data(Qt.ItemDataRole.UserRole) for k in range(view.worst_gallery.count())]
    evaluation = view.evaluation
    confidence = [evaluation.probabilities[row, evaluation.predictions[row]] for row in rows]
    assert confidence == sorted(confidence, reverse=True)
    assert all(evaluation.predictions[row] != test_digits.labels[row] for row in rows)


def test_a_hidden_view_evaluates_when_shown(qtbot, view):
    view.mark_stale()
    assert view.evaluation is None
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.evaluation is not None, timeout=TIMEOUT_MS)


def test_double_clicking_an_image_hands_it_over(qtbot, view, test_digits):
    evaluated(qtbot, view)
    item = view.worst_gallery.item(0)
    with qtbot.waitSignal(view.image_activated) as blocker:
        view.worst_gallery.itemDoubleClicked.emit(item)
    row = item.data(Qt.ItemDataRole.UserRole)
    np.testing.assert_array_equal(blocker.args[0], test_digits.images[row, 0])


def test_no_test_digits_is_said(qtbot):
    view = QtEvaluationView(Playground(Network(seed=2)), lambda: None)
    qtbot.addWidget(view)
    assert not view.evaluate()
    assert "No test digits" in view.accuracy_label.text()


def test_the_matrix_is_colour_blind_safe_with_app_sized_text_and_a_legend(qtbot, view, test_digits):
    from PySide6.QtGui import QFontMetrics
    from cnnstudio.qt.training.evaluation_view import RIGHT, WRONG
    view.show()
    qtbot.waitExposed(view)
    evaluated(qtbot, view)
    matrix = view.matrix
    confusion = matrix.confusion
    true, predicted = np.unravel_index(np.argmax(confusion * ~np.eye(10, dtype=bool)), confusion.shape)
    best = int(np.argmax(np.diag(confusion)))
    right, wrong = matrix.cell_colour(best, best), matrix.cell_colour(int(true), int(predicted))
    assert 190 <= right.hsvHue() <= 230 and 15 <= wrong.hsvHue() <= 40  # blue and orange: no red against green
    assert wrong.alphaF() == pytest.approx(1.0)  # the worst mistake is the darkest orange
    assert matrix.font().pointSizeF() >= view.font().pointSizeF()  # counts in the app's font, not smaller
    cell = matrix.cell_rect(0, 0)
    assert cell.width() >= QFontMetrics(matrix.font()).horizontalAdvance("888")
    legend_top = matrix.cell_rect(9, 9).bottom() + 1
    legend = matrix.grab().toImage()
    colours = {legend.pixelColor(x, y).rgb() for x in range(matrix.width())
               for y in range(legend_top, min(legend.height(), legend_top + 50))}
    assert RIGHT.rgb() in colours and WRONG.rgb() in colours  # the legend's swatches


def test_thumbnails_show_white_ink_on_black_as_the_canvas_does():
    from cnnstudio.qt.panels.canvas_view import _gray_qimage
    from cnnstudio.qt.training.evaluation_view import digit_pixmap
    image = np.zeros((28, 28), np.float32)
    image[10:18, 12:16] = 1.0  # ink
    thumbnail = digit_pixmap(image).toImage()
    canvas = _gray_qimage(image)[1]
    assert thumbnail.pixelColor(28, 28).lightness() == canvas.pixelColor(14, 14).lightness() == 255
    assert thumbnail.pixelColor(2, 2).lightness() == canvas.pixelColor(1, 1).lightness() == 0
