"""Class names: read from a text file, found beside IDX files, and kept in the model file."""
from __future__ import annotations

import gzip
import json
import zipfile

import numpy as np
import pytest

from cnnstudio.engine import Network
from cnnstudio.io.class_names import (DIGIT_NAMES, FASHION_NAMES, check_class_names, digit_names,
                                      find_class_names_file, read_class_names)
from cnnstudio.io.model_file import ModelFileError, load_model, save_model
from cnnstudio.training.data import concat_digits, load_idx_set, split_digits


def test_a_names_file_is_read_one_name_per_line(tmp_path):
    path = tmp_path / "classes.txt"
    # a byte-order mark, Windows line ends, spaces around names and blank lines at the end are all fine
    path.write_bytes(("\ufeff" + "\r\n".join(f"  {name} " for name in FASHION_NAMES) + "\r\n\r\n").encode())
    assert read_class_names(path) == FASHION_NAMES
    three = tmp_path / "abc.names"
    three.write_text("ä\nb\nc\n", encoding="utf-8")
    assert read_class_names(three, count=3) == ("ä", "b", "c")


def test_check_class_names_says_what_is_wrong():
    assert check_class_names(list(DIGIT_NAMES), 10) == DIGIT_NAMES
    assert digit_names(3) == ("0", "1", "2")
    for names, phrase in ((["a"] * 2, "both 'a'"), (["a", ""], "empty name for class 1"),
                          (["a", "b" * 41], "41 characters"), (["a", "b\tc"], "control character"),
                          (["a", 2], "int 2"), ("ab", "not a list"), (["a"], "are 1, not 2")):
        with pytest.raises(ValueError, match=phrase):
            check_class_names(names, 2)


def test_a_names_file_beside_the_images_is_found(tmp_path):
    images = tmp_path / "train-images-idx3-ubyte.gz"
    assert find_class_names_file(images) is None
    (tmp_path / "clothes.names").write_text("x")
    assert find_class_names_file(images) == tmp_path / "clothes.names"
    (tmp_path / "other.names").write_text("y")
    assert find_class_names_file(images) is None  # two candidates: none is guessed
    (tmp_path / "classes.txt").write_text("z")
    assert find_class_names_file(images) == tmp_path / "classes.txt"  # the usual name wins


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


@pytest.fixture
def idx_pair(tmp_path):
    images, labels = tmp_path / "train-images-idx3-ubyte.gz", tmp_path / "train-labels-idx1-ubyte.gz"
    _write_idx(images, np.random.default_rng(0).integers(0, 256, (30, 28, 28)))
    _write_idx(labels, np.arange(30) % 10)
    return images, labels


def test_an_idx_set_takes_its_names_from_beside_it_or_from_the_file_chosen(tmp_path, idx_pair):
    digits, note = load_idx_set(*idx_pair)
    assert digits.class_names == DIGIT_NAMES and note == ""
    (tmp_path / "classes.txt").write_text("\n".join(FASHION_NAMES))
    digits, note = load_idx_set(*idx_pair)
    assert digits.class_names == FASHION_NAMES and "classes.txt" in note and "Ankle boot" in note
    chosen = tmp_path / "letters.txt"
    chosen.write_text("\n".join("ABCDEFGHIJ"))
    assert load_idx_set(*idx_pair, class_names_path=chosen)[0].class_names == tuple("ABCDEFGHIJ")
    # splitting and joining keep the names
    train, test = split_digits(digits)
    assert train.class_names == test.class_names == FASHION_NAMES
    assert concat_digits([train, test], "both").class_names == FASHION_NAMES


# ---------------------------------------------------------------- the model file

def test_class_names_are_saved_with_the_model_and_old_files_read_as_digits(tmp_path):
    network = Network(seed=3)
    named = save_model(tmp_path / "fashion.cnnmodel", network, class_names=FASHION_NAMES)
    assert load_model(named).class_names == FASHION_NAMES
    plain = save_model(tmp_path / "plain.cnnmodel", network)  # as files were saved before there were names
    loaded = load_model(plain)
    assert loaded.class_names == DIGIT_NAMES and loaded.header["class_names"] is None
    with pytest.raises(ValueError, match=r"cannot save: the class names are 3, not 10 .*Fix"):
        save_model(tmp_path / "bad.cnnmodel", network, class_names=["a", "b", "c"])
    assert not (tmp_path / "bad.cnnmodel").exists()


def _rewrite_header(path, **changes):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with np.load(path) as npz:
        header = json.loads(npz["header"].item())
    header.update(changes)
    from io import BytesIO
    buffer = BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(header)))
    members["header.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("names, phrase", [(["a"] * 10, "both 'a'"), (["x"] * 3, "are 3, not 10"),
                                           ("0123456789", "not a list"), ([1] * 10, "int 1")])
def test_a_model_file_with_bad_class_names_is_refused(tmp_path, names, phrase):
    path = save_model(tmp_path / "model.cnnmodel", Network(seed=0))
    _rewrite_header(path, class_names=names)
    with pytest.raises(ModelFileError, match=rf"model.cnnmodel is damaged: its class names .*{phrase}.*Fix"):
        load_model(path)
