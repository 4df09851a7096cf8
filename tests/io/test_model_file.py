"""Model files: a round trip keeps everything, every bad file is refused with its reason, saves are atomic."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.io import atomic
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.catalog import load_mnist_full
from cnnstudio.io.model_file import (DEFAULT_MODEL_PATH, LoadedModel, ModelFileError, load_default_network,
                                        load_model, save_model)
from cnnstudio.core.playground import Playground
from cnnstudio.training import TrainingSettings, evaluate

SETTINGS = TrainingSettings(optimizer="sgd", learning_rate=0.05, epochs=3, shift_augment=2, seed=7)
HISTORY = {"step": [1, 2, 3], "loss": [2.3, 1.25, 0.875], "train_acc": [0.1, 0.25, 0.5],
           "test_step": [3], "test_loss": [0.9], "test_acc": [0.7125]}


def saved(path, network=None, **header):
    network = network or Network(seed=3)
    options = dict(locked={(0, 1), (1, 4)}, settings=SETTINGS.to_dict(), history=HISTORY)
    options.update(header)
    save_model(path, network, **options)
    return network


def rewrite(path, header_changes=None, arrays_changes=None, header_text=None):
    """Re-save ``path`` with some header fields or arrays changed (to fake a bad file)."""
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    header = json.loads(str(arrays["header"]))
    header.update(header_changes or {})
    arrays["header"] = np.array(header_text if header_text is not None else json.dumps(header))
    for key, value in (arrays_changes or {}).items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


# ---------------------------------------------------------------- round trip

def test_save_then_load_gives_identical_predictions_and_header(tmp_path):
    path = tmp_path / "digits.cnnmodel"
    network = saved(path, test_accuracy=0.75)
    loaded = load_model(path)
    assert isinstance(loaded, LoadedModel)
    assert loaded.network is not network
    assert loaded.network.layers == network.layers and loaded.network.input_shape == network.input_shape
    assert all(np.array_equal(a, b) and a.dtype == np.float32 for a, b in zip(loaded.network.params, network.params))
    images = load_mnist_5k()[1].images[::50]
    assert np.array_equal(loaded.network.predict_proba(images), network.predict_proba(images))
    assert loaded.locked == frozenset({(0, 1), (1, 4)})
    assert loaded.settings == SETTINGS.to_dict()
    assert loaded.history == HISTORY
    assert loaded.test_accuracy == 0.75
    assert loaded.header["format"] == "cnnstudio-model" and loaded.header["version"] == 1
    assert load_model(path).header == loaded.header


def test_an_unusual_architecture_round_trips(tmp_path):
    layers = [ConvSpec(filters=5, kernel=5, stride=2, padding="same", activation="tanh", pool="avg"),
              ConvSpec(filters=3, kernel=1, padding=0, activation="leaky_relu", pool="none"),
              DenseSpec(units=12, activation="sigmoid"), DenseSpec(units=4)]
    network = Network(layers, (2, 20, 18), seed=9)
    save_model(tmp_path / "odd.cnnmodel", network)
    loaded = load_model(tmp_path / "odd.cnnmodel")
    assert loaded.network.layers == layers and loaded.network.input_shape == (2, 20, 18)
    assert loaded.settings is None and loaded.history is None and loaded.locked == frozenset()
    x = np.random.default_rng(0).random((3, 2, 20, 18), dtype=np.float32)
    assert np.array_equal(loaded.network.forward(x), network.forward(x))


def test_test_accuracy_defaults_to_the_history(tmp_path):
    saved(tmp_path / "m.cnnmodel")
    assert load_model(tmp_path / "m.cnnmodel").test_accuracy == 0.7125


# ---------------------------------------------------------------- bad files

def _missing(path):
    path.unlink()


def _empty(path):
    path.write_bytes(b"")


def _text(path):
    path.write_text("layers: conv 8, conv 16, dense 10\n")


def _truncated(path):
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])


def _corrupt(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


def _foreign_npz(path):
    with open(path, "wb") as handle:
        np.savez(handle, weights=np.zeros(3), labels=np.arange(3))


def _npy(path):
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))


def _wrong_format(path):
    rewrite(path, {"format": "cnnstudio-my-digits"})


def _newer(path):
    rewrite(path, {"version": 2})


def _bad_json(path):
    rewrite(path, header_text='{"format": "cnnstudio-model", "version": 1,')


def _bad_layers(path):
    rewrite(path, {"layers": [{"kind": "conv", "filters": 8, "kernel": 50, "padding": 1}, {"kind": "dense"}]})


def _unknown_layer(path):
    rewrite(path, {"layers": [{"kind": "lstm", "units": 8}]})


def _wrong_shape(path):
    rewrite(path, arrays_changes={"p2": np.zeros((16, 8, 5, 5), np.float32)})


def _missing_param(path):
    rewrite(path, arrays_changes={"p5": None})


def _nan_weights(path):
    weights = Network(seed=3).params[4].copy()
    weights[3, 7] = np.nan
    rewrite(path, arrays_changes={"p4": weights})


def _bad_locked(path):
    rewrite(path, {"locked": [[0, 99]]})


def _bad_settings(path):  # what the settings mean is checked by core/document.py (tests/core/test_document.py)
    rewrite(path, {"settings": ["adam", -1]})


def _history(**changes):
    history = dict(HISTORY)
    history.update(changes)
    return lambda path: rewrite(path, {"history": history})


BAD_FILES = {
    "missing": (_missing, "does not exist"),
    "empty": (_empty, "is empty (0 bytes)"),
    "not an archive": (_text, "not an npz (zip) archive"),
    "truncated": (_truncated, "is truncated"),
    "corrupt": (_corrupt, "is damaged"),
    "foreign npz": (_foreign_npz, "holds labels, weights, no header"),
    "lone npy": (_npy, "not an npz (zip) archive"),
    "wrong format name": (_wrong_format, "its header says format 'cnnstudio-my-digits'"),
    "newer version": (_newer, "saved by a newer CNN Studio (model format version 2"),
    "bad json": (_bad_json, "its header is not valid JSON"),
    "impossible layers": (_bad_layers, "kernel size K = 50 is outside 1..11"),
    "unknown layer": (_unknown_layer, "unknown kind 'lstm'"),
    "wrong param shape": (_wrong_shape, "layer 2's weights have shape (16, 8, 5, 5) but its architecture needs "
                                        "(16, 8, 3, 3)"),
    "missing param": (_missing_param, "its 5 weight arrays do not fit"),
    "nan weights": (_nan_weights, "holds NaN or infinite weights in layer 3"),
    "bad locked kernels": (_bad_locked, "locked kernels"),
    "bad settings": (_bad_settings, "training settings are invalid"),
    "history not a mapping": (lambda path: rewrite(path, {"history": [1, 2]}), "history is not a mapping"),
    "history text value": (_history(train_acc=[0.1, "x", 0.5]), "history 'train_acc' holds 'x' (value 2), not a "
                                                                 "finite number"),
    "history NaN": (_history(test_loss=[float("nan")]), "'test_loss' holds nan (value 1)"),
    "history infinity": (_history(loss=[2.3, float("inf"), 0.8]), "'loss' holds inf (value 2)"),
    "history huge integer": (_history(step=[1, 2, 10 ** 400]), "'step' holds 10000000000000000000... (value 3)"),
    "history true": (_history(test_step=[True]), "'test_step' holds True (value 1)"),
    "history null": (_history(loss=[2.3, None, 0.8]), "'loss' holds None (value 2)"),
    "history not a list": (_history(step=3), "history 'step' is 3, not a list of numbers"),
    "history unequal": (_history(loss=[2.3, 1.25]), "history has 3 'step', 2 'loss', 3 'train_acc' values, "
                                                    "but needs one of each per training step"),
    "history half a group": (lambda path: rewrite(path, {"history": {"step": [1, 2], "train_acc": [0.1, 0.2]}}),
                             "has 2 'step', 0 'loss', 2 'train_acc' values"),
    "history unequal tests": (_history(test_acc=[0.5, 0.6]), "has 1 'test_step', 1 'test_loss', 2 'test_acc' "
                                                             "values, but needs one of each per test evaluation"),
}


@pytest.mark.parametrize("damage", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_every_bad_file_gets_a_one_line_reason_and_fix(tmp_path, damage):
    make_bad, fragment = damage
    path = tmp_path / "model.cnnmodel"
    saved(path)
    make_bad(path)
    network = Network(seed=11)  # what the caller holds: loading must leave it alone
    before = network.get_state()
    with pytest.raises(ModelFileError) as error:
        load_model(path)
    message = str(error.value)
    assert fragment in message
    assert "\n" not in message and "Fix:" in message and message.startswith("model.cnnmodel")
    assert isinstance(error.value, ValueError)
    assert all(np.array_equal(a, b) for a, b in zip(network.params, before))


def test_a_history_keeps_its_curves_leaves_out_unknown_keys_and_may_lack_a_group(tmp_path):
    path = tmp_path / "m.cnnmodel"
    saved(path)
    rewrite(path, {"history": {"step": [1, 2], "loss": [2.0, 1.5], "train_acc": [0.25, 0.5],
                               "learning_rate": ["a future curve"]}})
    assert load_model(path).history == {"step": [1, 2], "loss": [2.0, 1.5], "train_acc": [0.25, 0.5]}


def test_a_history_that_could_not_be_loaded_is_not_saved(tmp_path):
    with pytest.raises(ValueError, match="cannot save: the training history 'loss' holds nan .*Fix:"):
        save_model(tmp_path / "m.cnnmodel", Network(seed=0), history={**HISTORY, "loss": [2.3, float("nan"), 1.0]})
    with pytest.raises(ValueError, match="has 3 'step', 2 'loss'"):
        save_model(tmp_path / "m.cnnmodel", Network(seed=0), history={**HISTORY, "loss": [2.3, 1.0]})
    assert not any(tmp_path.iterdir())


def test_numpy_numbers_in_a_history_are_saved_as_plain_numbers(tmp_path):
    history = {"step": [np.int64(1)], "loss": [np.float32(2.5)], "train_acc": [np.float64(0.25)]}
    save_model(tmp_path / "m.cnnmodel", Network(seed=0), history=history)
    assert load_model(tmp_path / "m.cnnmodel").history == {"step": [1], "loss": [2.5], "train_acc": [0.25]}


def test_a_folder_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder"):
        load_model(tmp_path)


# ---------------------------------------------------------------- atomic saves

def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "model.cnnmodel"
    old = saved(path)
    old_bytes = path.read_bytes()

    def write_half_then_fail(handle, **arrays):
        handle.write(b"PK\x03\x04 half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.np, "savez_compressed", write_half_then_fail)
    with pytest.raises(OSError, match="No space"):
        save_model(path, Network(seed=99))
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.cnnmodel"]  # no temporary file left
    assert all(np.array_equal(a, b) for a, b in zip(load_model(path).network.params, old.params))


def test_a_failed_rename_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "model.cnnmodel"
    saved(path)
    old_bytes = path.read_bytes()

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        save_model(path, Network(seed=99))
    assert path.read_bytes() == old_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.cnnmodel"]


def test_nan_weights_are_not_saved(tmp_path):
    network = Network(seed=0)
    network.params[0][0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        save_model(tmp_path / "m.cnnmodel", network)
    assert not any(tmp_path.iterdir())


def test_save_creates_the_folder(tmp_path):
    path = tmp_path / "a" / "b" / "m.cnnmodel"
    saved(path)
    assert load_model(path).network.num_classes == 10
    assert os.path.getsize(path) > 0


# ---------------------------------------------------------------- the shipped model

def test_the_shipped_model_is_trained():
    loaded = load_model(DEFAULT_MODEL_PATH)
    assert [type(s) for s in loaded.network.layers] == [ConvSpec, ConvSpec, DenseSpec]
    assert loaded.network.input_shape == (1, 28, 28)
    assert loaded.settings is not None and loaded.settings["data"] == "mnist-full" and loaded.test_accuracy >= 0.98
    accuracy = evaluate(loaded.network, load_mnist_full()[1]).accuracy  # the 10,000 MNIST test digits
    assert accuracy == pytest.approx(loaded.test_accuracy, abs=1e-9) and accuracy >= 0.98


def test_load_default_network_gives_a_new_copy_each_time():
    first = load_default_network()
    first.params[0][...] = 0
    second = load_default_network()
    assert np.array_equal(second.params[0], load_model(DEFAULT_MODEL_PATH).network.params[0])
    assert second.params[0].any()


def test_a_missing_default_model_falls_back_to_fresh_weights(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="cnnstudio.io.model_file"):
        network = load_default_network(tmp_path / "gone.cnnmodel")
    assert all(np.array_equal(a, b) for a, b in zip(network.params, Network(seed=0).params))
    assert "random weights" in caplog.text


def test_a_damaged_default_model_falls_back_too(tmp_path, caplog):
    (tmp_path / "bad.cnnmodel").write_text("nope")
    with caplog.at_level(logging.WARNING, logger="cnnstudio.io.model_file"):
        network = load_default_network(tmp_path / "bad.cnnmodel")
    assert network.num_classes == 10 and "not an npz" in caplog.text


def test_the_playground_starts_from_the_shipped_model():
    playground = Playground()
    shipped = load_model(DEFAULT_MODEL_PATH).network
    assert all(np.array_equal(a, b) for a, b in zip(playground.network.params, shipped.params))
    given = Network(seed=5)
    assert Playground(given).network is given


def test_a_history_too_long_for_the_header_is_thinned_not_lost(tmp_path, monkeypatch, caplog):
    from cnnstudio.io import model_file

    monkeypatch.setattr(model_file, "MAX_HEADER_CHARS", 6000)
    steps = list(range(1, 401))
    history = {"step": steps, "loss": [1 / s for s in steps], "train_acc": [s / 400 for s in steps],
               "test_step": [100, 200, 300, 400], "test_loss": [0.5, 0.4, 0.3, 0.2], "test_acc": [0.8, 0.85, 0.9, 0.95]}
    with caplog.at_level(logging.WARNING, logger="cnnstudio.io.model_file"):
        save_model(tmp_path / "m.cnnmodel", Network(seed=0), history=history)
    loaded = load_model(tmp_path / "m.cnnmodel").history
    assert "every other point is kept" in caplog.text
    assert len(loaded["step"]) == len(loaded["loss"]) == len(loaded["train_acc"]) < 400
    assert loaded["step"][-1] == 400 and loaded["test_acc"][-1] == 0.95  # the last point is always kept
    assert set(loaded["step"]) <= set(steps)
