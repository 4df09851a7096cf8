"""The document: a model file in and out as one thing (network, locks, curves), checked first, one undo step."""
from __future__ import annotations


import numpy as np
import pytest

from cnnstudio.core.document import Document
from cnnstudio.core.playground import Playground
from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.io.model_file import ModelFileError, save_model
from cnnstudio.training import InlineDriver, TrainingHistory, TrainingSession, TrainingSettings

HISTORY = {"step": [1, 2], "loss": [2.3, 2.1], "train_acc": [0.1, 0.2],
           "test_step": [2], "test_loss": [2.0], "test_acc": [0.25]}


@pytest.fixture
def document():
    playground = Playground(Network(seed=1))
    return Document(playground, TrainingSession(playground, InlineDriver()))


def _digest(path):
    return path.read_bytes()


def test_save_then_load_brings_back_network_locks_settings_and_curves(tmp_path, document):
    document.session.set_locked(0, 3, True)
    document.session.set_history(TrainingHistory(HISTORY))
    path = document.save(tmp_path / "mine.cnnmodel", TrainingSettings(epochs=7))
    other = Document(Playground(Network(seed=9)), TrainingSession(Playground(Network(seed=9)), InlineDriver()))
    loaded = other.load(path)
    assert loaded.settings == TrainingSettings(epochs=7)
    assert other.session.locked == {(0, 3)} and other.session.history.as_dict()["step"] == [1.0, 2.0]
    np.testing.assert_array_equal(other.playground.network.weight(0), document.playground.network.weight(0))


def test_a_load_is_one_undo_step_that_restores_locks_and_curves(tmp_path, document):
    before = document.playground.network
    document.session.set_locked(1, 2, True)
    path = save_model(tmp_path / "other.cnnmodel", Network(seed=5), locked={(0, 1)}, history=HISTORY)
    document.load(path)
    assert document.session.locked == {(0, 1)} and len(document.session.history) == 2
    assert document.playground.undo() == "model load"
    assert document.playground.network is before and document.session.locked == {(1, 2)}
    assert len(document.session.history) == 0


def test_invalid_settings_in_a_file_are_refused_and_change_nothing(tmp_path, document):
    path = save_model(tmp_path / "bad.cnnmodel", Network(seed=5), settings={"optimizer": "adam", "learning_rate": -1})
    before = document.playground.network
    with pytest.raises(ModelFileError, match="bad.cnnmodel is damaged: its training settings are invalid"):
        document.load(path)
    assert document.playground.network is before and document.playground.undo_stack.undo_text is None


@pytest.mark.parametrize("network, words", [
    (Network(input_shape=(1, 32, 32), seed=3), "takes 1x32x32 images"),
    (Network([ConvSpec(filters=4, kernel=3, padding=1), DenseSpec(units=4)], seed=3), "sorts images into 4 classes"),
])
def test_a_model_for_other_images_or_classes_is_refused(tmp_path, document, network, words):
    path = save_model(tmp_path / "foreign.cnnmodel", network)
    saved = _digest(path)
    with pytest.raises(ModelFileError, match=words):
        document.load(path)
    assert _digest(path) == saved


def test_reset_gives_fresh_weights_and_undo_brings_weights_and_curves_back(document):
    document.session.set_history(TrainingHistory(HISTORY))
    trained = document.playground.network.get_state()
    document.reset_weights(seed=4)
    assert not np.array_equal(document.playground.network.weight(0), trained[0])
    assert len(document.session.history) == 0
    assert document.playground.undo() == "weight reset"
    assert all(np.array_equal(a, b) for a, b in zip(trained, document.playground.network.params))
    assert len(document.session.history) == 2
