"""Document.import_network: an imported network (an ONNX file's) replaces the playground's in one undo step,
with its class names and no locks or curves; one the playground cannot show changes nothing."""
from __future__ import annotations

import numpy as np
import pytest
from onnx_graphs import lenet

from cnnstudio.core.document import Document
from cnnstudio.core.playground import Playground
from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.io.model_file import ModelFileError
from cnnstudio.io.onnx_export import export_onnx
from cnnstudio.io.onnx_import import import_onnx
from cnnstudio.training import InlineDriver, TrainingSession

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.fixture
def document():
    playground = Playground(Network(seed=1))
    session = TrainingSession(playground, InlineDriver())
    session.set_lock_set(frozenset({(0, 1)}))
    return Document(playground, session)


def test_an_imported_network_replaces_the_old_one_in_one_undo_step(document, tmp_path):
    playground, session = document.playground, document.session
    old, old_locks = playground.network, session.locked
    network, names = import_onnx(export_onnx(Network([ConvSpec(5, kernel=5), DenseSpec(10)], seed=3),
                                             tmp_path / "net.onnx", FASHION))
    document.import_network(network, names, "net.onnx")
    assert playground.network is network and playground.class_names == tuple(FASHION)
    assert session.locked == frozenset() and len(playground.undo_stack) == 1
    assert playground.trace.stages[0].conv.shape == (5, 26, 26)  # the maps follow at once (5x5, padding 1)
    playground.undo()
    assert playground.network is old and session.locked == old_locks
    assert playground.class_names == tuple(str(k) for k in range(10))


def test_a_network_without_names_gets_digit_names(document, tmp_path):
    network, names = import_onnx(lenet().save(tmp_path / "lenet.onnx"))
    assert names is None
    document.import_network(network, names, "lenet.onnx")
    assert document.playground.class_names == tuple(str(k) for k in range(10))
    assert [s.filters for s in document.playground.network.conv_specs] == [6, 16]


@pytest.mark.parametrize("network, names, words", [
    (Network([DenseSpec(10)], (3, 28, 28)), None, "x.onnx: this model takes 3x28x28 images"),
    (Network([DenseSpec(4)], (1, 28, 28)), None, "x.onnx: this model sorts images into 4 classes"),
    (Network([DenseSpec(10)], (1, 28, 28)), ["same"] * 10, "x.onnx: the class names name classes 0 and 1"),
])
def test_a_network_the_playground_cannot_show_changes_nothing(document, network, names, words):
    playground = document.playground
    old, state, locks = playground.network, playground.network.get_state(), document.session.locked
    with pytest.raises(ModelFileError, match="Fix:") as caught:
        document.import_network(network, names, "x.onnx")
    assert words in str(caught.value)
    assert playground.network is old and len(playground.undo_stack) == 0 and document.session.locked == locks
    assert all(np.array_equal(a, b) for a, b in zip(old.params, state))
