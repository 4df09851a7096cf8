"""My digits: adding and removing drawings, atomic saves, and loads that never lose the user's set."""
import os
from pathlib import Path

import numpy as np
import pytest

from cnnstudio.io import atomic
from cnnstudio.io.datasets import DatasetError, Digits
from cnnstudio.io.my_digits import MyDigits, default_path


def drawing(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


@pytest.fixture
def store(tmp_path):
    return MyDigits(tmp_path / "my_digits.npz")


@pytest.fixture
def filled(store):
    for seed, (label, use) in enumerate([(3, "train"), (7, "test"), (1, "both"), (3, "both")]):
        store.add(drawing(seed), label, use)
    return store


def changes_of(store) -> list:
    calls = []
    store.events.digits_changed.connect(lambda: calls.append(len(store)))
    return calls


def same_set(a: MyDigits, b: MyDigits) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x.image, y.image) and x.label == y.label and x.use == y.use for x, y in zip(a, b))


# -- adding and removing

def test_add_and_remove_announce_the_change(store):
    calls = changes_of(store)
    assert store.add(drawing(0), 4, "train") == 0
    assert store.add(drawing(1), 9) == 1
    store.remove(0)
    assert calls == [1, 2, 1]
    assert [(item.label, item.use) for item in store] == [(9, "both")]
    assert np.array_equal(store[0].image, drawing(1)) and store.items[0] is store[0]


def test_a_drawing_is_copied_and_read_only(store):
    image = drawing(0)
    store.add(image, 2)
    image[:] = 0
    assert np.array_equal(store[0].image, drawing(0))
    with pytest.raises(ValueError):
        store[0].image[0, 0] = 1


@pytest.mark.parametrize("image, label, use, message", [
    (np.zeros((28, 27)), 1, "both", "must be 28x28"),
    (np.full((28, 28), 2.0), 1, "both", "in \\[0, 1\\]"),
    (np.full((28, 28), np.nan), 1, "both", "finite"),
    (np.zeros((28, 28)), 10, "both", "must be 0..9, got 10"),
    (np.zeros((28, 28)), 1.5, "both", "whole number"),
    (np.zeros((28, 28)), True, "both", "whole number"),
    (np.zeros((28, 28)), 1, "validate", "use must be one of train, test, both"),
])
def test_add_refuses_bad_drawings(store, image, label, use, message):
    calls = changes_of(store)
    with pytest.raises(ValueError, match=message):
        store.add(image, label, use)
    assert len(store) == 0 and calls == []


def test_remove_a_missing_drawing(filled):
    with pytest.raises(IndexError, match="there is no drawing 4; there are 4"):
        filled.remove(4)
    assert len(filled) == 4


def test_clear(filled):
    calls = changes_of(filled)
    filled.clear()
    assert len(filled) == 0 and calls == [0]


def test_as_digits_puts_both_in_train_and_test(filled):
    train, test, everything = filled.as_digits("train"), filled.as_digits("test"), filled.as_digits("all")
    assert isinstance(train, Digits)
    assert train.labels.tolist() == [3, 1, 3] and test.labels.tolist() == [7, 1, 3]
    assert everything.labels.tolist() == [3, 7, 1, 3]
    assert train.images.shape == (3, 1, 28, 28) and train.images.dtype == np.float32
    assert np.array_equal(test.images[0, 0], drawing(1))
    with pytest.raises(ValueError, match="use must be 'train', 'test' or 'all'"):
        filled.as_digits("both")


def test_as_digits_of_an_empty_set(store):
    digits = store.as_digits("train")
    assert digits.images.shape == (0, 1, 28, 28) and digits.labels.shape == (0,) and len(digits) == 0


# -- where the file lives

def test_default_path_follows_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "cnnstudio" / "my_digits.npz"
    assert MyDigits().path == default_path()


@pytest.mark.parametrize("xdg", [None, "", "relative/data"])
def test_default_path_falls_back_to_local_share(monkeypatch, tmp_path, xdg):
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_path() == tmp_path / ".local" / "share" / "cnnstudio" / "my_digits.npz"


# -- saving and loading

def test_save_and_load_round_trip(filled, tmp_path):
    path = filled.save()
    assert path == tmp_path / "my_digits.npz" and path.exists()
    other = MyDigits(path)
    calls = changes_of(other)
    assert other.load() is True
    assert same_set(other, filled) and calls == [4]
    assert other[0].image.dtype == np.float32


def test_save_creates_the_folder_and_leaves_no_temporary_files(filled, tmp_path):
    path = filled.save(tmp_path / "new" / "folder" / "mine.npz")
    assert sorted(p.name for p in path.parent.iterdir()) == ["mine.npz"]


def test_an_empty_set_round_trips(store):
    store.save()
    other = MyDigits(store.path)
    other.add(drawing(0), 1)
    other.load()
    assert len(other) == 0


def test_loading_a_missing_file(store):
    assert store.load(missing_ok=True) is False
    with pytest.raises(DatasetError, match="my_digits.npz does not exist"):
        store.load()


def test_a_failure_mid_save_keeps_the_old_file(filled, monkeypatch):
    path = filled.save()
    before = path.read_bytes()
    filled.add(drawing(9), 0)

    def crash_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(atomic.np, "savez_compressed", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        filled.save()
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    monkeypatch.undo()
    reloaded = MyDigits(path)
    reloaded.load()
    assert len(reloaded) == 4


def test_a_failed_rename_keeps_the_old_file(filled, monkeypatch):
    path = filled.save()
    before = path.read_bytes()
    filled.clear()

    def refuse(src, dst):
        raise PermissionError("read-only")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        filled.save()
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_save_flushes_to_disk_before_renaming(filled, monkeypatch):
    order = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: (order.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (order.append("replace"), real_replace(a, b))[1])
    filled.save()
    assert order[:2] == ["fsync", "replace"]


# -- corrupt, truncated and foreign files: a clear message, and the current set untouched

def corrupt_files(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the message must say)."""
    files = {}

    def put(name, content, message):
        path = tmp_path / f"{name}.npz"
        path.write_bytes(content)
        files[name] = (path, message)

    put("truncated", good.read_bytes()[: len(good.read_bytes()) // 2], "is damaged or not a 'my digits' file")
    put("garbage", b"this is not a zip archive at all", "is damaged or not a 'my digits' file")
    put("empty", b"", "is damaged or not a 'my digits' file")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    files["foreign"] = (foreign, "is not a CNN Studio 'my digits' file (it holds weights)")
    lone = tmp_path / "lone.npy"
    np.save(lone, np.ones(3))
    files["lone"] = (lone, "is not a CNN Studio 'my digits' file (it holds one (3,) array)")
    newer = tmp_path / "newer.npz"
    np.savez(newer, format="cnnstudio-my-digits", version=2, images=np.zeros((0, 28, 28), np.float32),
             labels=np.zeros(0, np.int64), uses=np.zeros(0, "<U5"))
    files["newer"] = (newer, "was saved by a newer CNN Studio (format version 2). Fix: update CNN Studio.")
    bad_labels = tmp_path / "bad_labels.npz"
    np.savez(bad_labels, format="cnnstudio-my-digits", version=1, images=np.zeros((1, 28, 28), np.float32),
             labels=np.array([12]), uses=np.array(["train"]))
    files["bad_labels"] = (bad_labels, "some labels are outside 0..9")
    bad_shape = tmp_path / "bad_shape.npz"
    np.savez(bad_shape, format="cnnstudio-my-digits", version=1, images=np.zeros((2, 28, 28), np.float32),
             labels=np.array([1]), uses=np.array(["train"]))
    files["bad_shape"] = (bad_shape, "do not fit together")
    bad_use = tmp_path / "bad_use.npz"
    np.savez(bad_use, format="cnnstudio-my-digits", version=1, images=np.zeros((1, 28, 28), np.float32),
             labels=np.array([1]), uses=np.array(["maybe"]))
    files["bad_use"] = (bad_use, "unknown uses 'maybe'")
    return files


CORRUPT = ["truncated", "garbage", "empty", "foreign", "lone", "newer", "bad_labels", "bad_shape", "bad_use"]


@pytest.mark.parametrize("kind", CORRUPT)
def test_a_bad_file_is_explained_and_the_current_set_stays(filled, tmp_path, kind):
    good = filled.save(tmp_path / "good.npz")
    path, message = corrupt_files(tmp_path, good)[kind]
    before = path.read_bytes()
    current = MyDigits(path)
    for item in filled:
        current.add(item.image, item.label, item.use)
    calls = changes_of(current)
    with pytest.raises(DatasetError) as excinfo:
        current.load()
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value) and "Fix:" in str(excinfo.value)
    assert same_set(current, filled) and calls == []
    assert path.read_bytes() == before  # a failed load never rewrites the user's file


# -- sizes a file declares are checked before anything is allocated

def _lying_npy(shape, descr) -> bytes:
    """An npy header declaring ``shape`` of ``descr`` with no data after it."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("images, labels, uses, message", [
    ((10**7, 28, 28), (10**7,), (10**7,), "declares 10,000,000 drawings, more than the 100,000 CNN Studio keeps"),
    ((10**6, 10**6, 10**6), (3,), (3,), "images (1000000, 1000000, 1000000) float32, labels (3,) int64"),
])
def test_a_file_declaring_giant_arrays_is_refused_before_reading_them(filled, tmp_path, images, labels, uses,
                                                                     message):
    import tracemalloc
    import zipfile

    path = tmp_path / "lying.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("format.npy", _npy(np.array("cnnstudio-my-digits")))
        archive.writestr("version.npy", _npy(np.array(1)))
        archive.writestr("images.npy", _lying_npy(images, "<f4"))
        archive.writestr("labels.npy", _lying_npy(labels, "<i8"))
        archive.writestr("uses.npy", _lying_npy(uses, "<U5"))
    before = path.read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as excinfo:
            filled.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message in str(excinfo.value) and "Fix:" in str(excinfo.value)
    assert peak < 20 * 2**20 and len(filled) == 4 and path.read_bytes() == before


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_named_pipe_is_not_opened(filled, tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")  # opening it would wait for a writer for ever
    with pytest.raises(DatasetError, match=r"pipe.npz is a named pipe \(FIFO\), not a 'my digits' file\. Fix:"):
        filled.load(tmp_path / "pipe.npz")
    assert len(filled) == 4
