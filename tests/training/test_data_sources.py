"""The data choices "mnist-full" and "fashion": settings, make_dataset, the trainer at 60,000 images, the CLI."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from cnnstudio import cli
from cnnstudio.engine import Network
from cnnstudio.io import catalog
from cnnstudio.io.class_names import DIGIT_NAMES, FASHION_NAMES
from cnnstudio.io.datasets import DatasetError, Digits
from cnnstudio.io.model_file import load_model, save_model
from cnnstudio.training import DATA_SOURCES, Trainer, TrainingSettings, make_dataset


def test_the_new_data_choices_are_valid_settings_and_the_old_ones_stay():
    assert {"mnist", "mnist-full", "fashion", "idx", "mine", "mix"} == set(DATA_SOURCES)
    for data in ("mnist-full", "fashion"):
        assert TrainingSettings.from_dict({"data": data}).data == data
    assert TrainingSettings().data == "mnist"  # the quick 5k set stays the default
    with pytest.raises(ValueError, match="data 'kmnist' is unknown. Fix: choose one of mnist, mnist-full, fashion"):
        TrainingSettings(data="kmnist").validate()


def test_make_dataset_gives_full_mnist():
    train, test = make_dataset(TrainingSettings(data="mnist-full"))
    assert (len(train), len(test)) == (60000, 10000) and train.class_names == DIGIT_NAMES


def test_make_dataset_says_how_to_get_fashion_mnist_when_it_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "FASHION_DIR", tmp_path)
    with pytest.raises(DatasetError, match=r"Fashion-MNIST is not installed .*apt-get install dataset-fashion-mnist"):
        make_dataset(TrainingSettings(data="fashion"))


@pytest.mark.skipif(not catalog.fashion_mnist_available(), reason="Fashion-MNIST is not installed "
                    "(apt-get install dataset-fashion-mnist)")
def test_make_dataset_gives_fashion_mnist_with_its_class_names():
    train, test = make_dataset(TrainingSettings(data="fashion"))
    assert (len(train), len(test)) == (60000, 10000) and train.class_names == test.class_names == FASHION_NAMES


def test_a_training_step_on_60000_images_copies_only_its_batch():
    """The trainer picks each batch by index: no step copies the 188 MB training set (or a large part of it)."""
    train, test = catalog.load_mnist_full()
    trainer = Trainer(Network(seed=0), train, Digits(test.images[:50], test.labels[:50]),
                      TrainingSettings(batch_size=64, epochs=1, shift_augment=2), eval_every=10**6)
    steps = trainer.train_steps()
    next(steps)  # compiles the kernels (if needed) and allocates the optimizer's state
    tracemalloc.start()
    try:
        for _ in range(20):
            next(steps)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        steps.close()
    assert peak < 20 * 2**20, f"20 steps allocated up to {peak / 2**20:.1f} MB at once"
    assert train.images.nbytes > 150 * 2**20


# ---------------------------------------------------------------- the command line

def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_train_on_missing_fashion_mnist_is_one_line_with_the_fix(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "FASHION_DIR", tmp_path / "nowhere")
    out = tmp_path / "model.cnnmodel"
    code, _, err = run(capsys, "train", "--data", "fashion", "--epochs", "1", "--out", str(out))
    lines = err.strip().splitlines()
    assert code == cli.EXIT_ERROR and len(lines) == 1 and lines[0].startswith("error: Fashion-MNIST is not installed")
    assert "apt-get install dataset-fashion-mnist" in lines[0] and "--data idx" in lines[0]
    assert not out.exists()


def test_cli_class_names_go_with_idx_data_only(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--data", "mnist", "--class-names", str(tmp_path / "c.txt"))
    assert code == cli.EXIT_USAGE and "--class-names goes with --data idx" in err


def test_cli_train_saves_the_class_names_of_an_idx_set(capsys, tmp_path):
    import gzip

    def write(path, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
        path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))

    write(tmp_path / "images-idx3-ubyte.gz", np.random.default_rng(1).integers(0, 256, (24, 28, 28)))
    write(tmp_path / "labels-idx1-ubyte.gz", np.arange(24) % 10)
    (tmp_path / "clothes.names").write_text("\n".join(FASHION_NAMES))
    out = tmp_path / "named.cnnmodel"
    code, _, err = run(capsys, "train", "--data", "idx", "--idx-images", str(tmp_path / "images-idx3-ubyte.gz"),
                       "--idx-labels", str(tmp_path / "labels-idx1-ubyte.gz"), "--epochs", "1", "--out", str(out))
    assert code == 0, err
    assert "Class names from clothes.names" in err and "training on 20 images" in err
    assert load_model(out).class_names == FASHION_NAMES


def test_cli_predict_prints_class_names(capsys, tmp_path):
    image = tmp_path / "drawn.png"
    from PIL import Image

    picture = np.zeros((28, 28), np.uint8)
    picture[6:22, 12:16] = 255
    Image.fromarray(picture).save(image)
    model = save_model(tmp_path / "fashion.cnnmodel", Network(seed=4), class_names=FASHION_NAMES)
    code, out, _ = run(capsys, "predict", "--model", str(model), str(image))
    name, rest = out.split(": ", 1)[1].split(" (class ", 1)
    assert code == 0 and name in FASHION_NAMES and rest.startswith(str(FASHION_NAMES.index(name)))
    code, out, _ = run(capsys, "predict", "--json", "--model", str(model), str(image))
    import json
    row = json.loads(out)
    assert row["name"] == FASHION_NAMES[row["class"]]
    digits_model = save_model(tmp_path / "digits.cnnmodel", Network(seed=4))
    code, out, _ = run(capsys, "predict", "--model", str(digits_model), str(image))
    assert "(class" not in out and out.split(": ", 1)[1].split(" ", 1)[0] in DIGIT_NAMES  # unchanged for digits
