"""Class names belong with the network: set by training on a data set, shown by the bars and the evaluation,
saved and loaded with the model; the Training dock offers full MNIST and (when installed) Fashion-MNIST."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.io.catalog import fashion_mnist_available, load_fashion_mnist
from cnnstudio.io.class_names import DIGIT_NAMES, FASHION_NAMES
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.qt.panels.prediction_bars import QtPredictionBars
from cnnstudio.qt.training.evaluation_view import QtEvaluationView
from cnnstudio.qt.training.panel import QtTrainingPanel
from cnnstudio.qt.training.settings_form import TrainingSettingsForm

TIMEOUT_MS = 60_000


def test_the_playground_names_its_outputs_and_says_so():
    playground = Playground(Network(seed=1))
    assert playground.class_names == DIGIT_NAMES
    heard = []
    playground.events.class_names_changed.connect(lambda: heard.append(playground.class_names))
    playground.class_names = list(FASHION_NAMES)
    playground.set_class_names(FASHION_NAMES)  # the same names again: no event
    assert heard == [FASHION_NAMES]
    with pytest.raises(ValueError, match=r"the class names are 2, not 10 .*Fix"):
        playground.set_class_names(["a", "b"])
    assert playground.class_names == FASHION_NAMES  # a refused change changes nothing
    playground.set_class_names(None)
    assert playground.class_names == DIGIT_NAMES and len(heard) == 2


def test_the_prediction_bars_show_the_class_names(qtbot):
    playground = Playground(Network(seed=1))
    playground.set_input(load_mnist_5k()[1].images[0, 0])
    bars = QtPredictionBars(playground)
    qtbot.addWidget(bars)
    bars.resize(260, 360)
    digits_label_width = bars._label_width()
    assert [bars.class_label(k) for k in range(10)] == list(DIGIT_NAMES)
    playground.set_class_names(FASHION_NAMES)
    assert [bars.class_label(k) for k in range(10)] == list(FASHION_NAMES)
    # the label column grew to hold "T-shirt/top", and every bar still has room
    assert bars._label_width() > digits_label_width
    assert all(bars.track_rect(k).width() > 40 for k in range(10))


def test_the_evaluation_names_rows_columns_and_mistakes(qtbot):
    playground = Playground(Network(seed=2))
    playground.set_class_names(FASHION_NAMES)
    _, test = load_mnist_5k()
    clothes = Digits(test.images[::10], test.labels[::10], "clothes (test)", FASHION_NAMES)
    view = QtEvaluationView(playground, lambda: clothes)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.evaluated, timeout=30_000):  # the evaluation runs in a worker thread
        assert view.evaluate()
    matrix = view.matrix
    assert matrix.true_names == matrix.predicted_names == FASHION_NAMES and matrix._kind() == "class"
    assert matrix._margins()[2]  # "T-shirt/top" is wider than a cell: the column names are written upwards
    true, predicted = np.argwhere((matrix.confusion > 0) & ~np.eye(10, dtype=bool))[0]
    view.show_cell(int(true), int(predicted))
    assert view.cell_title.text().startswith(f"True {FASHION_NAMES[true]}, predicted {FASHION_NAMES[predicted]}")
    captions = [view.worst_gallery.item(k).text() for k in range(view.worst_gallery.count())]
    assert captions and all(caption.split(" →")[0] in FASHION_NAMES for caption in captions)
    assert view.worst_gallery.gridSize().width() > 80  # wider columns for the longer captions
    playground.set_class_names(None)  # renamed after the evaluation: the captions follow
    true_name, predicted_name, _ = view.worst_gallery.item(0).text().split("\n")  # long names: three lines
    assert true_name.removesuffix(" →") in FASHION_NAMES and predicted_name in DIGIT_NAMES
    assert matrix.predicted_names == DIGIT_NAMES and matrix.true_names == FASHION_NAMES


def test_the_data_choice_lists_fashion_only_when_installed(qtbot):
    present, absent = TrainingSettingsForm(fashion=True), TrainingSettingsForm(fashion=False)
    for form in (present, absent):
        qtbot.addWidget(form)
    keys = [present.data_combo.itemData(k) for k in range(present.data_combo.count())]
    assert keys == ["mnist", "mnist-full", "fashion", "idx", "mine", "mix"]
    assert [present.data_combo.itemText(k) for k in range(3)] == ["MNIST 5k (quick)", "MNIST full (60,000)",
                                                                "Fashion-MNIST"]
    assert absent.data_combo.findData("fashion") == -1 and absent.data_combo.findData("mnist-full") == 1
    from cnnstudio.training import TrainingSettings
    absent.set_settings(TrainingSettings(data="fashion"))  # a model trained on it, loaded here: MNIST shows
    assert absent.data_combo.currentData() == "mnist"
    default = TrainingSettingsForm()  # lists it when this machine has it
    qtbot.addWidget(default)
    assert (default.data_combo.findData("fashion") >= 0) == fashion_mnist_available()


def test_a_model_load_brings_its_class_names_and_undo_takes_them_back(qtbot, tmp_path):
    playground = Playground(Network(seed=1))
    panel = QtTrainingPanel(playground, mnist=load_mnist_5k(), fashion=False)
    qtbot.addWidget(panel)
    playground.set_class_names(FASHION_NAMES)
    assert panel.save_model(tmp_path / "clothes.cnnmodel")
    playground.set_class_names(None)
    assert panel.load_model(tmp_path / "clothes.cnnmodel")
    assert playground.class_names == FASHION_NAMES
    playground.undo()
    assert playground.class_names == DIGIT_NAMES


@pytest.mark.skipif(not fashion_mnist_available(), reason="Fashion-MNIST is not installed "
                    "(apt-get install dataset-fashion-mnist)")
def test_one_step_on_fashion_mnist_from_the_dock_names_the_prediction_bars(qtbot):
    from cnnstudio.qt.training.dock import TrainingDock
    from cnnstudio.core.canvas import CanvasModel

    playground = Playground(Network(seed=1))
    dock = TrainingDock(playground, CanvasModel())
    bars = QtPredictionBars(playground)
    for widget in (dock, bars):
        qtbot.addWidget(widget)
    panel = dock.panel
    panel.data_combo.setCurrentIndex(panel.data_combo.findData("fashion"))
    _, test = load_fashion_mnist()
    playground.set_input(test.images[0, 0])  # an ankle boot
    with qtbot.waitSignal(panel.controller.paused, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    assert panel.history.data["step"] == [1]
    assert "Fashion-MNIST (train): 60,000 images" in panel.status_label.text()
    assert playground.class_names == FASHION_NAMES
    assert [bars.class_label(k) for k in range(10)] == list(FASHION_NAMES)
    assert bars.class_label(bars.top_class) in FASHION_NAMES
    panel.controller.shutdown()
