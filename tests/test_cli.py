"""The headless commands: ``train`` writes a model, ``predict`` classifies image files, errors are one line.

Image files are written with Pillow: nothing here needs Qt (tests/test_layers.py checks that
``predict`` and ``train`` never load it).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnstudio import cli
from cnnstudio.core.canvas import CanvasModel
from cnnstudio.io.model_file import load_model

REPO = Path(__file__).resolve().parents[1]


def write_image(path: Path, gray: np.ndarray) -> Path:
    """Save a gray float image in [0, 1] (PNG, JPEG or BMP by the suffix)."""
    Image.fromarray(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def drawn_digit(digit: int, size: int = 112) -> np.ndarray:
    """A digit drawn with the canvas's brush, light on dark, at ``size`` pixels."""
    canvas = CanvasModel(size)
    canvas.stamp_sample_digit(digit)
    return canvas.image


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.cnnmodel"
    assert cli.main(["train", "--epochs", "1", "--limit", "300", "--quiet", "--out", str(path)]) == 0
    return path


def test_train_writes_a_model_and_reports_the_test_accuracy(tiny_model, capsys):
    loaded = load_model(tiny_model)
    assert loaded.settings["epochs"] == 1 and loaded.settings["shift_augment"] == 2
    assert loaded.history["step"][-1] == 10  # 300 digits in batches of 32
    assert 0.1 < loaded.test_accuracy <= 1


def test_train_prints_accuracy_and_saves(tmp_path, capsys):
    out_path = tmp_path / "m.cnnmodel"
    code, out, err = run(capsys, "train", "--epochs", "1", "--limit", "64", "--batch-size", "16", "--optimizer",
                         "sgd", "--shift", "0", "--out", str(out_path))
    assert code == 0 and out_path.exists()
    assert "test accuracy" in out and str(out_path) in out
    assert "training on 64 digits" in err and "Finished 1 epoch (4 steps)" in err  # not a terminal: epoch lines


def test_predict_drawn_digits_light_or_dark_the_same(tmp_path, capsys):
    files = []
    for digit in (3, 7):
        light = drawn_digit(digit)
        files += [write_image(tmp_path / f"{digit}-light.png", light),
                  write_image(tmp_path / f"{digit}-dark.png", 1 - light),
                  write_image(tmp_path / f"{digit}-dark.jpg", 1 - light),
                  write_image(tmp_path / f"{digit}-light.bmp", light)]
    code, out, err = run(capsys, "predict", "--json", *map(str, files))
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["file"] for row in rows] == [str(f) for f in files]
    for row in rows:
        assert len(row["probabilities"]) == 10 and sum(row["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert row["class"] == int(np.argmax(row["probabilities"]))
    # the shipped model reads the canvas's sample digits right, whatever the polarity or format
    assert [row["class"] for row in rows] == [3] * 4 + [7] * 4
    light, dark = rows[0]["probabilities"], rows[1]["probabilities"]
    assert np.allclose(light, dark, atol=1e-4)


def test_predict_text_output_and_a_chosen_model(tmp_path, tiny_model, capsys):
    image = write_image(tmp_path / "five.png", 1 - drawn_digit(5))
    code, out, err = run(capsys, "predict", "--model", str(tiny_model), "--no-framing", str(image))
    assert code == 0
    line, = out.splitlines()
    assert line.startswith(f"{image}: ") and line.count(":") == 1 + 10


def test_predict_prepares_images_like_the_canvas(tmp_path):
    gray = 1 - drawn_digit(2, size=80)[:, 10:70]  # dark on light, not square
    path = write_image(tmp_path / "two.png", gray)
    canvas = CanvasModel()
    canvas.load_image(np.round(gray * 255) / 255)
    canvas.set_mnist_framing(True)
    prepared = cli.prepare_digit(cli.read_image(path))
    assert prepared.shape == (28, 28) and prepared.dtype == np.float32
    assert np.allclose(prepared, canvas.network_input(), atol=1e-5)


def test_transparent_pixels_count_as_paper(tmp_path):
    ink = drawn_digit(4, size=64)
    rgba = np.zeros((64, 64, 4), np.uint8)  # black ink on a transparent background
    rgba[..., 3] = np.round(ink * 255).astype(np.uint8)
    path = tmp_path / "transparent.png"
    Image.fromarray(rgba).save(path)
    gray = cli.read_image(path)
    assert gray[0, 0] == pytest.approx(1.0) and gray.min() < 0.1


# ---------------------------------------------------------------- errors

def test_a_missing_image_is_one_line(tmp_path, capsys):
    good = write_image(tmp_path / "ok.png", drawn_digit(1))
    code, out, err = run(capsys, "predict", str(tmp_path / "nope.png"), str(good))
    assert code == 1
    assert "nope.png does not exist" in one_line_error(err)
    assert out.startswith(f"{good}: ")  # the good file is still classified


def test_an_unreadable_image_is_one_line(tmp_path, capsys):
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    code, out, err = run(capsys, "predict", str(fake))
    assert code == 1 and out == ""
    assert "fake.png cannot be read as an image" in one_line_error(err)


def test_a_bad_model_file_is_one_line(tmp_path, capsys):
    image = write_image(tmp_path / "ok.png", drawn_digit(1))
    bad = tmp_path / "bad.cnnmodel"
    bad.write_bytes(b"PK\x03\x04 and then nothing")
    code, out, err = run(capsys, "predict", "--model", str(bad), str(image))
    assert code == 1 and out == ""
    assert "bad.cnnmodel is truncated" in one_line_error(err)


@pytest.mark.parametrize("argv, fragment", [
    (["train", "--epochs", "many"], "invalid int value: 'many'"),
    (["train", "--lr", "-1"], "learning rate -1.0 must be a number above 0"),
    (["train", "--data", "idx"], "--data idx needs --idx-images"),
    (["train", "--idx-images", "x.gz"], "give both --idx-images and --idx-labels"),
    (["predict"], "the following arguments are required: IMAGE"),
])
def test_usage_errors_are_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and fragment in one_line_error(err)


def test_missing_idx_files_are_one_line(tmp_path, capsys):
    code, out, err = run(capsys, "train", "--data", "idx", "--idx-images", str(tmp_path / "a-idx3-ubyte"),
                         "--idx-labels", str(tmp_path / "b-idx1-ubyte"))
    assert code == 1 and "a-idx3-ubyte does not exist" in one_line_error(err)


def test_an_unwritable_output_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, err = run(capsys, "train", "--epochs", "1", "--limit", "8", "--quiet",
                         "--out", str(blocker / "m.cnnmodel"))
    assert code == 1 and "is a file, not a folder" in one_line_error(err)


# ---------------------------------------------------------------- the bar and the real entry point

def test_progress_bar_line():
    from cnnstudio.training import Progress

    progress = Progress(epoch=2, epochs=5, step=56, steps_per_epoch=25, total_steps=125, samples_seen=1792,
                        loss=0.3123, batch_loss=0.3, train_accuracy=0.912, test_loss=None, test_accuracy=None,
                        test_fresh=False, samples_per_second=12000.4, seconds_left=4.2)
    assert cli.ProgressBar.line(progress) == \
        "epoch 2/5 [########------------]  45% loss 0.312 acc 91.2% 12,000 samples/s ETA 4s"


def test_the_live_bar_shows_a_stalled_runs_warning_under_the_epoch_line():
    import io
    from cnnstudio.training import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    bar = cli.ProgressBar(stream)
    bar.show(Progress(epoch=2, epochs=2, step=40, steps_per_epoch=20, total_steps=40, samples_seen=1280, loss=2.3,
                      batch_loss=2.3, train_accuracy=0.1, test_loss=2.3, test_accuracy=0.097, test_fresh=True,
                      samples_per_second=900.0, seconds_left=0.0, finished=True,
                      message="Finished 2 epochs (40 steps): ... Warning: stuck.", warning="Warning: stuck."))
    assert stream.getvalue().endswith("\n  test accuracy 9.7%, test loss 2.300\n  Warning: stuck.\n")


def test_python_dash_m_cnnstudio_predict(tmp_path):
    image = write_image(tmp_path / "zero.png", 1 - drawn_digit(0))
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "cnnstudio", "predict", "--json", str(image)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["class"] == 0
    missing = subprocess.run([sys.executable, "-m", "cnnstudio", "predict", "gone.png"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
