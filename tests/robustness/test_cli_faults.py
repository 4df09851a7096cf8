"""The command line under faults: Ctrl+C during ``train`` and ``predict``, a model whose outputs overflow,
blank pictures, and odd pictures whose decoder warns.  Each case checks the one line on stderr, the exit
code, and that the user's files are byte-identical afterwards.
"""
from __future__ import annotations

import json
import random
import signal
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers_cli import (digit_file, drawn_digit, fingerprint, huge_weight_model, huge_weight_network, no_traceback,
                         one_line_error, run_cli, start_cli, write_gray)
from PIL import Image

from cnnstudio import cli, training
from cnnstudio.io import model_file

INTERRUPTED = 130


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def wait_for_line(stream, starts: str) -> list[str]:
    """Read ``stream`` up to and including the first line that starts with ``starts``; the lines read."""
    lines = []
    while True:
        line = stream.readline()
        assert line, f"the command ended before printing {starts!r}: {''.join(lines)}"
        lines.append(line)
        if line.startswith(starts):
            return lines


# ---------------------------------------------------------------- Ctrl+C

@pytest.mark.parametrize("attempt", range(5))
def test_ctrl_c_during_train_says_interrupted_exits_130_and_keeps_the_old_model(tmp_path, attempt):
    out = tmp_path / "model.cnnmodel"
    out.write_bytes(b"the user's previous model")
    before = fingerprint(out)
    child = start_cli("train", "--epochs", "200", "--limit", "2000", "--seed", str(attempt), "--out", out)
    wait_for_line(child.stderr, "Epoch 1/200")  # training runs: the kernels are loaded
    threading.Event().wait(random.Random(attempt).uniform(0.0, 0.3))  # lands anywhere in a step
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == INTERRUPTED, stderr
    no_traceback(stderr)
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted at step ") and f"nothing saved, {out} is unchanged" in last
    assert stdout == "" and fingerprint(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.cnnmodel"]  # no temp file left either


def test_ctrl_c_during_train_writes_no_new_file(tmp_path):
    out = tmp_path / "new.cnnmodel"
    child = start_cli("train", "--epochs", "200", "--limit", "2000", "--out", out)
    wait_for_line(child.stderr, "Epoch 1/200")
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == INTERRUPTED and f"{out} was not written" in stderr
    no_traceback(stderr)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_predict_stops_between_images(tmp_path):
    digit_file(tmp_path / "d.png")
    child = start_cli("predict", *["d.png"] * 20_000, cwd=tmp_path)
    assert child.stdout.readline().startswith("d.png: 3 ")
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == INTERRUPTED, stderr
    no_traceback(stderr)
    line, = stderr.strip().splitlines()
    assert line.startswith("interrupted after ") and line.endswith(" of 20000 images.")
    done = int(line.split()[2])
    assert 1 <= done < 20_000 and len(stdout.splitlines()) == done - 1  # one line was read above


def test_ctrl_c_sets_a_flag_and_a_second_one_quits_at_once(monkeypatch, capfd):
    exits = []
    monkeypatch.setattr(cli.os, "_exit", lambda code: exits.append(code))
    before = signal.getsignal(signal.SIGINT)
    with cli.CtrlC(note="nothing saved") as ctrl_c:
        assert signal.getsignal(signal.SIGINT) is not before
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt: the command checks the flag between steps
        assert ctrl_c.pressed and exits == []
        signal.raise_signal(signal.SIGINT)
        assert exits == [INTERRUPTED]
    assert signal.getsignal(signal.SIGINT) is before  # the previous handler is back
    assert "interrupted again: stopped at once (nothing saved)" in capfd.readouterr().err


def test_ctrl_c_before_training_begins_saves_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "m.cnnmodel"
    real_make_dataset = training.make_dataset

    def make_dataset_then_ctrl_c(*args, **kwargs):  # the user presses Ctrl+C while the digits load
        data = real_make_dataset(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return data

    monkeypatch.setattr(training, "make_dataset", make_dataset_then_ctrl_c)
    code, _, err = run(capsys, "train", "--epochs", "1", "--limit", "64", "--out", out)
    assert code == INTERRUPTED and not out.exists()
    assert err.strip() == f"interrupted before training began: nothing saved, {out} was not written."


# ---------------------------------------------------------------- outputs that are not numbers

def test_a_model_file_with_huge_weights_is_refused_in_one_line(tmp_path):
    model = huge_weight_model(tmp_path / "huge.cnnmodel")  # 3e38: finite float32
    image = digit_file(tmp_path / "three.png")
    before = fingerprint(model), fingerprint(image)
    done = run_cli("predict", "--model", model, image)
    assert done.returncode == 1 and done.stdout == ""
    one_line_error(done.stderr, "huge.cnnmodel")  # refused as it loads: no "nan%" prediction
    assert (fingerprint(model), fingerprint(image)) == before


def test_outputs_that_overflow_are_refused_in_one_line(tmp_path, capsys, monkeypatch):
    # A network the loader lets through (another architecture, weights under its cap) may still overflow.
    def load_huge(path):
        return SimpleNamespace(network=huge_weight_network(1e30))

    monkeypatch.setattr(model_file, "load_model", load_huge)
    images = [digit_file(tmp_path / f"{d}.png", d) for d in (1, 7)]
    for argv in ([], ["--json"]):
        code, out, err = run(capsys, "predict", *argv, "--model", tmp_path / "big.cnnmodel", *images)
        assert code == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 2 and "nan" not in err.lower()
        for image, line in zip(images, lines):
            assert line == (f"error: {image}: the model's outputs are not finite numbers (overflow: big.cnnmodel "
                            f"holds weights as large as 1e+30). Fix: train the model again or choose another "
                            f"with --model.")


# ---------------------------------------------------------------- blank pictures

def transparent_pixel(path: Path) -> Path:
    Image.fromarray(np.zeros((1, 1, 4), np.uint8)).save(path)
    return path


BLANKS = {
    "transparent-1x1.png": transparent_pixel,
    "white-page.png": lambda p: write_gray(p, np.ones((300, 200))),
    "black-page.jpg": lambda p: write_gray(p, np.zeros((64, 64))),
    "grey-page.bmp": lambda p: write_gray(p, np.full((50, 80), 0.6)),
    "paper-noise.png": lambda p: write_gray(p, 1 - 0.02 * np.random.default_rng(0).random((120, 90))),
}


@pytest.mark.parametrize("name", sorted(BLANKS))
def test_a_blank_picture_gets_no_prediction_and_exit_code_3(tmp_path, capsys, name):
    path = BLANKS[name](tmp_path / name)
    before = fingerprint(path)
    code, out, err = run(capsys, "predict", path)
    assert code == cli.EXIT_BLANK == 3 and out == ""
    one_line_error(err, f"{path} is blank: nothing is drawn on it", "Fix: choose a picture of a digit")
    assert fingerprint(path) == before


def test_a_dot_too_small_to_show_at_28_pixels_is_blank_too(tmp_path, capsys):
    page = np.ones((400, 300))
    page[200, 150] = 0
    code, _, err = run(capsys, "predict", write_gray(tmp_path / "dot.png", page))
    assert code == 3 and "too faint or too small to show at 28x28" in one_line_error(err)


def test_blank_pictures_among_others(tmp_path, capsys):
    good = digit_file(tmp_path / "seven.png", 7)
    blank = transparent_pixel(tmp_path / "blank.png")
    code, out, err = run(capsys, "predict", "--json", blank, good)
    assert code == 3 and [json.loads(line)["class"] for line in out.splitlines()] == [7]
    code, out, err = run(capsys, "predict", blank, tmp_path / "missing.png", good)
    assert code == 1 and len(err.strip().splitlines()) == 2  # a real error outranks a blank


def test_the_help_explains_the_exit_codes(capsys):
    code, out, _ = run(capsys, "predict", "--help")
    assert code == 0
    assert "3    predict: an image is blank" in out and "130  interrupted" in out
    assert "gets no prediction" in out


# ---------------------------------------------------------------- no library chatter

DRAWN = (255 * (1 - drawn_digit(2, 64))).astype(np.uint8)  # dark on light, as a scan would be


def corrupt_exif_jpeg(path: Path) -> Path:
    """A JPEG whose EXIF block is damaged (Pillow warns "Corrupt EXIF data" but decodes the pixels)."""
    exif = Image.Exif()
    exif[0x0112] = 3
    Image.fromarray(DRAWN).save(path, exif=exif.tobytes())
    data = bytearray(path.read_bytes())
    start = data.find(b"Exif")
    data[start + 10:start + 20] = b"\xff" * 10
    path.write_bytes(bytes(data))
    return path


def odd_pictures(folder: Path) -> tuple[list[Path], list[Path]]:
    """(pictures that decode, pictures that are damaged) of kinds whose decoders like to warn."""
    gray = DRAWN
    good = [corrupt_exif_jpeg(folder / "bad-exif.jpg")]
    Image.fromarray(gray).convert("P").save(folder / "palette-trns.png", transparency=255)
    Image.fromarray(gray).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(gray.astype(np.uint16) * 257).save(folder / "sixteen-bit.png")
    frames = [Image.fromarray(gray), Image.fromarray(255 - gray)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(gray).save(folder / "ünïcödé-数字.png")
    good += [folder / n for n in ("palette-trns.png", "cmyk.jpg", "sixteen-bit.png", "animated.gif",
                                  "ünïcödé-数字.png")]
    whole = (folder / "sixteen-bit.png").read_bytes()
    (folder / "cut.png").write_bytes(whole[:len(whole) // 2])
    (folder / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(1).bytes(300))
    return good, [folder / "cut.png", folder / "noise.png"]


def test_odd_pictures_give_no_library_warnings_on_stderr(tmp_path):
    good, bad = odd_pictures(tmp_path)
    before = {p: fingerprint(p) for p in good + bad}
    done = run_cli("predict", *good, *bad, env=None)
    assert done.returncode == 1
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [str(p) for p in good]
    errors = done.stderr.strip().splitlines()
    assert [line.startswith(f"error: {p} cannot be read as an image") for p, line in zip(bad, errors)] == \
        [True, True] and len(errors) == 2
    assert {p: fingerprint(p) for p in good + bad} == before


def test_odd_pictures_raise_no_python_warnings_in_process(tmp_path, capsys):
    good, _ = odd_pictures(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run(capsys, "predict", *good)
    assert code == 0 and err == "" and len(out.splitlines()) == len(good)
    assert [str(w.message) for w in caught] == []


# ---------------------------------------------------------------- a run that stops learning

def test_train_warns_when_accuracy_stays_at_chance(tmp_path, capsys):
    out = tmp_path / "stuck.cnnmodel"
    code, _, err = run(capsys, "train", "--optimizer", "sgd", "--lr", "1", "--limit", "640", "--epochs", "2",
                       "--shift", "0", "--out", out)
    assert code == 0 and out.exists()  # the run is saved; the user is told it learnt nothing
    assert "Warning: accuracy is stuck at chance level" in err
    assert "Fix: lower the learning rate 1 (try 0.05) or switch to Adam" in err
