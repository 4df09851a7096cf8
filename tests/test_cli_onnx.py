"""``cnnstudio export --onnx FILE [--model M]`` and ``--model x.onnx`` in predict: the numbers onnxruntime
gives, one-line errors with the CLI's exit codes."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from onnx_graphs import run_onnx, sample_images
from PIL import Image

from cnnstudio import cli
from cnnstudio.io.model_file import load_default_network

TORCH_FIXTURE = Path(__file__).parent / "data" / "torch_lenet.onnx"


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def digit_picture(path: Path) -> Path:
    """A shipped test digit, dark on light, as a picture file."""
    digit = sample_images(1)[0, 0]
    Image.fromarray(np.round((1 - digit) * 255).astype(np.uint8)).save(path)
    return path


def test_export_writes_the_shipped_model_as_onnxruntime_runs_it(capsys, tmp_path):
    code, out, err = run(capsys, "export", "--onnx", tmp_path / "default.onnx")
    assert (code, err) == (0, "")
    assert out.startswith("exported default.cnnmodel (2 conv and 1 dense layers, 10 classes) to ")
    images = sample_images(100)
    difference = np.abs(run_onnx(tmp_path / "default.onnx", images) - load_default_network().predict_proba(images))
    assert difference.max() < 1e-5


def test_predict_reads_an_onnx_model_and_gives_onnxruntimes_probabilities(capsys, tmp_path):
    picture = digit_picture(tmp_path / "seven.png")
    code, out, err = run(capsys, "predict", "--json", "--model", TORCH_FIXTURE, picture)
    assert (code, err) == (0, "")
    answer = json.loads(out)
    seen = cli.prepare_digit(cli.read_image(picture))[None, None]
    theirs = run_onnx(TORCH_FIXTURE, seen)[0]
    np.testing.assert_allclose(answer["probabilities"], theirs, atol=1e-5)
    assert answer["class"] == int(np.argmax(theirs))


def test_export_of_an_onnx_model_round_trips(capsys, tmp_path):
    code, out, _ = run(capsys, "export", "--model", TORCH_FIXTURE, "--onnx", tmp_path / "again.onnx")
    assert code == 0 and "torch_lenet.onnx (2 conv and 2 dense layers, 10 classes)" in out
    images = sample_images(100)
    np.testing.assert_allclose(run_onnx(tmp_path / "again.onnx", images), run_onnx(TORCH_FIXTURE, images), atol=1e-5)


def test_errors_are_one_line_with_the_documented_exit_codes(capsys, tmp_path):
    code, _, err = run(capsys, "export")
    assert code == cli.EXIT_USAGE and "--onnx" in err and err.count("\n") == 1
    (tmp_path / "notes.onnx").write_text("not a model\n")
    for argv, words in [(("export", "--onnx", tmp_path), "is a folder"),
                        (("export", "--onnx", tmp_path / "o.onnx", "--model", tmp_path / "notes.onnx"),
                         "notes.onnx is not an ONNX model"),
                        (("predict", "--model", tmp_path / "notes.onnx", digit_picture(tmp_path / "d.png")),
                         "notes.onnx is not an ONNX model"),
                        (("export", "--onnx", tmp_path / "o.onnx", "--model", tmp_path / "gone.onnx"),
                         "gone.onnx does not exist")]:
        code, out, err = run(capsys, *argv)
        assert code == cli.EXIT_ERROR and out == "" and err.count("\n") == 1
        assert err.startswith("error: ") and words in err and "Fix:" in err
    assert not (tmp_path / "o.onnx").exists()


def test_without_the_onnx_package_export_says_what_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, _, err = run(capsys, "export", "--onnx", tmp_path / "o.onnx")
    assert code == cli.EXIT_ERROR and "pip install 'cnnstudio[onnx]'" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["export", "--help"], ["--help"]])
def test_help_mentions_onnx(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0 and ("--onnx FILE" in out or "export" in out)
