"""Bad class-name files: each refused in one line with a fix, and nothing already open is lost."""
from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from cnnstudio.io.class_names import MAX_CLASS_NAMES_BYTES, ClassNamesError, read_class_names
from cnnstudio.io.datasets import DIGIT_NAMES
from cnnstudio.training.data import load_idx_set

TEN = "\n".join(f"class {k}" for k in range(10))

BAD_FILES = [
    ("empty", b"", "is empty"),
    ("blank lines only", b"\n \n\t\n", "is empty"),
    ("too few", b"a\nb\nc\n", "are 3, not 10"),
    ("too many", ("\n".join(map(str, range(11)))).encode(), "are 11, not 10"),
    ("a gap", ("a\nb\n\nc\n" + "\n".join("defghij")).encode(), "empty line \\(line 3\\)"),
    ("twice the same", ("\n".join(["same"] * 2 + list("abcdefgh")).encode()), "both 'same'"),
    ("too long", ("x" * 41 + "\n" + "\n".join("abcdefghi")).encode(), "41 characters"),
    ("a control character", ("a\x07b\n" + "\n".join("cdefghijk")).encode(), "control character"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    ("not UTF-8", ("\n".join("abcdefghi") + "\ncaf\xe9").encode("latin-1"), "not UTF-8 text .*Fix: save it as UTF-8"),
    ("huge", b"a\n" * (MAX_CLASS_NAMES_BYTES // 2 + 1), "larger than 64 KB"),
]


@pytest.mark.parametrize("data, phrase", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_bad_names_file_is_refused_in_one_line_with_a_fix(tmp_path, data, phrase):
    path = tmp_path / "classes.txt"
    path.write_bytes(data)
    with pytest.raises(ClassNamesError, match=phrase) as caught:
        read_class_names(path)
    message = str(caught.value)
    assert "\n" not in message and "Fix:" in message and "classes.txt" in message


def test_what_is_not_a_names_file_at_all_is_refused(tmp_path):
    with pytest.raises(ClassNamesError, match=r"gone.txt does not exist .*Fix"):
        read_class_names(tmp_path / "gone.txt")
    with pytest.raises(ClassNamesError, match=r"is a folder, not a text file.*Fix"):
        read_class_names(tmp_path)
    fifo = tmp_path / "pipe.names"
    os.mkfifo(fifo)
    with pytest.raises(ClassNamesError, match=r"pipe.names is a named pipe \(FIFO\), not a text file"):
        read_class_names(fifo)  # refused without opening it: opening a pipe would wait for a writer
    if os.path.exists("/dev/zero"):
        with pytest.raises(ClassNamesError, match="is a device"):
            read_class_names("/dev/zero")


def test_an_unreadable_names_file_is_said(tmp_path, monkeypatch):
    import builtins

    path = tmp_path / "classes.txt"
    path.write_text(TEN)
    real_open = builtins.open

    def refuse(file, *args, **kwargs):  # what open() does to a user without the read bit (root always may read)
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refuse)
    with pytest.raises(ClassNamesError, match=r"cannot be read .*Fix: check that you may read it"):
        read_class_names(path)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_a_bad_names_file_found_beside_the_images_is_skipped_but_one_chosen_is_refused(tmp_path):
    images, labels = tmp_path / "x-images-idx3-ubyte.gz", tmp_path / "x-labels-idx1-ubyte.gz"
    _write_idx(images, np.zeros((12, 28, 28)))
    _write_idx(labels, np.arange(12) % 10)
    (tmp_path / "classes.txt").write_text("only\nthree\nnames\n")
    digits, note = load_idx_set(images, labels)  # the data set still opens, with digit names, and says why
    assert len(digits) == 12 and digits.class_names == DIGIT_NAMES
    assert note.startswith("Class names not used: ") and "are 3, not 10" in note
    with pytest.raises(ClassNamesError, match="are 3, not 10"):
        load_idx_set(images, labels, class_names_path=tmp_path / "classes.txt")
