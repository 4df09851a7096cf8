"""File > Import ONNX... and File > Export ONNX...: through the window's own code path (a file dialog
answered by the test), the imported network's maps appear live; a foreign file is explained and changes
nothing; the exported file runs in onnxruntime as the playground does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_graphs import TorchStyle, lenet, run_onnx

from cnnstudio.app import open_start_model
from cnnstudio.engine import ConvSpec
from cnnstudio.qt import window_onnx

KINDS = ("conv", "activation", "pooled")
TORCH_FIXTURE = Path(__file__).parents[1] / "data" / "torch_lenet.onnx"


@pytest.fixture
def answers(monkeypatch):
    """The file dialogs return ``answers["open"]`` / ``answers["save"]``; message boxes are recorded."""
    given = {"open": "", "save": "", "messages": []}
    dialog = window_onnx.QFileDialog
    monkeypatch.setattr(dialog, "getOpenFileName", lambda *a, **k: (given["open"], ""))
    monkeypatch.setattr(dialog, "getSaveFileName", lambda *a, **k: (given["save"], ""))
    monkeypatch.setattr(window_onnx.QMessageBox, "warning",
                        lambda parent, title, text, *a: given["messages"].append((title, text)))
    return given


def file_menu_actions(window) -> list[str]:
    menu = window.menuBar().actions()[0].menu()
    return [action.objectName() for action in menu.actions()]


def test_the_file_menu_has_export_and_import(window):
    names = file_menu_actions(window)
    assert "exportOnnxAction" in names and "importOnnxAction" in names
    assert window.onnx_files.import_action.text() == "I&mport ONNX..."


def test_importing_a_lenet_shows_every_map_of_its_stages(qtbot, window, answers, tmp_path):
    path = lenet(TorchStyle, softmax="Softmax", seed=11).save(tmp_path / "lenet.onnx")
    old_network = window.playground.network
    window.draw_sample_digit(7)
    window.flush_updates()
    answers["open"] = str(path)
    window.onnx_files.import_action.trigger()
    window.flush_updates()

    network = window.playground.network
    assert answers["messages"] == []
    assert network is not old_network and network.layers[:2] == [ConvSpec(6, kernel=5, padding=2),
                                                                 ConvSpec(16, kernel=5, padding=0)]
    maps = window.feature_maps
    for stage, shapes in enumerate([(6, 28, 28, 14), (16, 10, 10, 5)]):
        filters, height, width, pooled = shapes
        for kind in KINDS:
            layout = maps.panel_layout(stage, kind)
            side = pooled if kind == "pooled" else height
            assert (layout.count, layout.height, layout.width) == (filters, side, side if kind == "pooled" else width)
            shown = getattr(window.playground.trace.stages[stage], kind)
            assert maps.panel_image(stage, kind).image.shape == layout.shape + (4,)
            np.testing.assert_array_equal(maps.map_values(stage, kind, filters - 1), shown[-1])
    # the prediction on the drawing is onnxruntime's for the same input
    image = window.playground.input[None]
    np.testing.assert_allclose(window.playground.trace.probabilities, run_onnx(path, image)[0], atol=1e-5)
    assert "Imported lenet.onnx: 2 conv layers and 3 dense layers" in window.statusBar().currentMessage()
    window.grab().save("/tmp/work/onnx_import_window.png")

    window.playground.undo()  # Edit > Undo network change
    assert window.playground.network is old_network


def test_a_foreign_file_is_explained_and_leaves_the_network_intact(window, answers, tmp_path):
    network, state = window.playground.network, window.playground.network.get_state()
    undo_steps = len(window.playground.undo_stack)
    for name, data in [("notes.onnx", b"these are my notes, not a model\n" * 10), ("empty.onnx", b"")]:
        (tmp_path / name).write_bytes(data)
        answers["open"] = str(tmp_path / name)
        assert window.onnx_files.import_onnx() is False
    g = TorchStyle(seed=1)
    g.conv("c", 4)
    g.node("BatchNormalization", "bn", [g.weight(n, np.ones(4, np.float32)) for n in ("s", "b", "m", "v")])
    g.flatten()
    g.dense("fc", 10, 4 * 28 * 28)
    answers["open"] = str(g.save(tmp_path / "batchnorm.onnx"))
    assert window.onnx_files.import_onnx() is False

    titles, texts = zip(*answers["messages"])
    assert titles == ("ONNX model not imported",) * 3
    assert "notes.onnx is not an ONNX model" in texts[0] and "empty.onnx" in texts[1]
    assert "BatchNormalization" in texts[2] and all("Fix:" in text for text in texts)
    assert window.playground.network is network and len(window.playground.undo_stack) == undo_steps
    assert all(np.array_equal(a, b) for a, b in zip(network.params, state))


def test_a_model_for_other_images_is_refused_with_the_documents_reason(window, answers, tmp_path):
    g = TorchStyle(input_shape=(3, 32, 32), seed=2)
    g.flatten()
    g.dense("fc", 10, 3 * 32 * 32)
    answers["open"] = str(g.save(tmp_path / "rgb.onnx"))
    network = window.playground.network
    assert window.onnx_files.import_onnx() is False
    assert "rgb.onnx: this model takes 3x32x32 images" in answers["messages"][0][1]
    assert window.playground.network is network


def test_export_writes_a_file_onnxruntime_runs_as_the_playground(window, answers, tmp_path):
    window.draw_sample_digit(3)
    window.flush_updates()
    answers["save"] = str(tmp_path / "mine")  # no suffix: .onnx is added
    window.onnx_files.export_action.trigger()
    path = tmp_path / "mine.onnx"
    assert path.is_file() and answers["messages"] == []
    np.testing.assert_allclose(run_onnx(path, window.playground.input[None])[0], window.playground.trace.probabilities,
                               atol=1e-5)
    assert "Exported the network to mine.onnx" in window.statusBar().currentMessage()


def test_an_export_that_cannot_be_written_is_explained(window, answers, tmp_path):
    (tmp_path / "folder.onnx").mkdir()
    answers["save"] = str(tmp_path / "folder.onnx")
    assert window.onnx_files.export_onnx() is False
    assert answers["messages"][0][0] == "ONNX model not exported" and "is a folder" in answers["messages"][0][1]


def test_the_app_starts_with_an_onnx_model_or_says_why_not(window, tmp_path):
    network = window.playground.network
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01junk")
    problem = open_start_model(window, tmp_path / "junk.onnx")
    assert "junk.onnx" in problem and "Fix:" in problem and window.playground.network is network
    assert open_start_model(window, TORCH_FIXTURE) is None
    assert [s.filters for s in window.playground.network.conv_specs] == [6, 12]


def test_the_app_command_line_takes_an_onnx_model(tmp_path):
    repo = Path(__file__).parents[2]
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    for model, code in (("junk.onnx", 1), (str(TORCH_FIXTURE), 0)):
        done = subprocess.run([sys.executable, "-m", "cnnstudio", "--model", model, "--screenshot", "shot.png"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(repo)})
        assert done.returncode == code, done.stderr
        if code:
            assert done.stderr.startswith("error: junk.onnx is not an ONNX model") and done.stderr.count("\n") == 1
            assert not (tmp_path / "shot.png").exists()
    assert (tmp_path / "shot.png").stat().st_size > 10_000
