"""scripts/train_default.py --check: trains twice and compares the weights and the written files byte for byte."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from cnnstudio.engine import Network
from cnnstudio.io.model_file import load_model
from cnnstudio.training import TrainingSettings

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_default.py"
QUICK = TrainingSettings(optimizer="adam", learning_rate=2e-3, batch_size=64, epochs=1, shift_augment=2, seed=0)


@pytest.fixture
def script():
    spec = importlib.util.spec_from_file_location("train_default", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_trains_twice_and_finds_the_same_weights_and_the_same_file(script, tmp_path, capsys):
    out = tmp_path / "default.cnnmodel"
    assert script.main(["--check", "--out", str(out)], settings=QUICK) == 0
    printed = capsys.readouterr().out
    assert "weights" in printed and "-> identical" in printed
    assert "file " in printed and "-> identical to the first" in printed
    assert load_model(out).settings == QUICK.to_dict()


def test_check_fails_when_the_files_differ_though_the_weights_match(script, tmp_path, capsys, monkeypatch):
    runs = []

    def train_once(settings, verbose=True):
        runs.append(settings)
        # the same weights each time, but a history that differs: only the files tell the runs apart
        history = {"step": [1], "loss": [2.0 + len(runs)], "train_acc": [0.5]}
        return Network(seed=0), SimpleNamespace(history=history), 0.0

    monkeypatch.setattr(script, "train_once", train_once)
    out = tmp_path / "default.cnnmodel"
    assert script.main(["--check", "--out", str(out)], settings=QUICK) == 1
    printed = capsys.readouterr().out
    assert "weights" in printed and "-> identical" in printed and "-> DIFFERENT to the first" in printed
    assert len(runs) == 2 and not out.exists()
    assert list(tmp_path.iterdir()) == []
