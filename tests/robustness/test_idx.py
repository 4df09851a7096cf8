"""Bad IDX files: each gives one ``DatasetError`` line naming the file, what is wrong and a fix,
allocates nothing a damaged header asks for, and leaves the file exactly as it was.
"""
from __future__ import annotations

import gzip
import os
import threading
import tracemalloc
import zlib

import numpy as np
import pytest
from helpers_data import file_state, idx_bytes, idx_header

from cnnstudio.io import datasets
from cnnstudio.io.datasets import DatasetError, load_idx, load_idx_pair

HUGE = 2**32 - 1  # the largest size an IDX header can declare per dimension
MEMORY_ALLOWED = 20 * 2**20  # what refusing a bad file may allocate, in bytes


def refused(path, *fragments, reader=load_idx, name=None) -> str:
    """Read ``path`` with ``reader``: assert a one-line ``DatasetError`` with a fix and each fragment,
    that it allocated little, and that the file is untouched.  Returns the message."""
    before = file_state(path)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as caught:
            reader(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert "\n" not in message and "Fix: " in message, message
    assert (name or os.path.basename(path)) in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert peak < MEMORY_ALLOWED, f"refusing {path} allocated {peak / 2**20:.0f} MB"
    assert file_state(path) == before
    return message


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), np.arange(12, dtype=np.uint8) % 10


# -- the header


def test_a_header_declaring_255_dimensions(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_header(0x08, [1] * 255) + b"\0")
    refused(path, "declares 255 dimensions", "images have 3 and labels 1")


@pytest.mark.parametrize("ndim", [0, 5])
def test_no_dimensions_or_too_many(tmp_path, ndim):
    path = tmp_path / f"odd-{ndim}d.idx"
    path.write_bytes(idx_header(0x08, [2] * ndim) + bytes(2**ndim))
    refused(path, f"declares {ndim} dimensions")


def test_a_wrong_magic_number(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not digits\n")
    refused(path, "is not an IDX file: its magic number 0x74686573", "*-idx3-ubyte")


def test_an_unknown_data_type_code(tmp_path):
    path = tmp_path / "odd-type.idx"
    path.write_bytes(idx_header(0x07, [4]) + bytes(4))
    refused(path, "data type code 0x07, which is not one of 0x08")


def test_random_bytes(tmp_path):
    path = tmp_path / "random-idx3-ubyte"
    path.write_bytes(b"\x42" + np.random.default_rng(5).bytes(4000))
    refused(path, "is not an IDX file")


def test_a_header_cut_inside_its_sizes(tmp_path):
    path = tmp_path / "cut-header"
    path.write_bytes(idx_header(0x08, [60000, 28, 28])[:10])
    refused(path, "is truncated: its header needs 16 bytes but the file has 10")


# -- declared sizes against the bytes present


def test_truncated_values(tmp_path, digits):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(digits[0])[:-1])
    refused(path, "is truncated: its header promises 9408 bytes of data (12 x 28 x 28) but it has only 9407",
            "download it again")


def test_more_values_than_declared(tmp_path, digits):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(digits[1]) + b"\0" * 7)
    refused(path, "has 7 bytes more than its header promises (12)")


@pytest.mark.parametrize("shape", [(HUGE, HUGE, HUGE), (HUGE,), (HUGE, HUGE, HUGE, HUGE)],
                         ids=["3d", "1d", "4d"])
def test_huge_declared_sizes_are_refused_before_allocating(tmp_path, shape):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(idx_header(0x0E, shape) + bytes(64))  # float64: 8 bytes a value
    message = refused(path, "declares " + " x ".join(map(str, shape)), "header is probably damaged")
    assert "GB" in message


def test_a_plausible_header_on_a_short_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_header(0x08, [60000, 28, 28]) + bytes(100))
    refused(path, "its header promises 47040000 bytes of data (60000 x 28 x 28) but it has only 100")


def test_huge_declared_sizes_in_a_gzip_file(tmp_path):
    path = tmp_path / "huge-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(0x08, (HUGE, HUGE, HUGE)) + bytes(64)))
    refused(path, "header is probably damaged")


# -- gzip


def write_gzip_bomb(path, header: bytes, zeros: int) -> None:
    """``header`` then ``zeros`` zero bytes, gzipped a megabyte at a time (a few hundred kB on disk)."""
    chunk = bytes(2**20)
    with gzip.open(path, "wb", compresslevel=9) as bomb:
        bomb.write(header)
        for _ in range(zeros // len(chunk)):
            bomb.write(chunk)


def test_a_gzip_bomb_is_unzipped_no_further_than_its_header_promises(tmp_path):
    path = tmp_path / "labels-idx1-ubyte.gz"
    write_gzip_bomb(path, idx_header(0x08, [10]), 512 * 2**20)  # 10 labels promised, 512 MB inside
    assert path.stat().st_size < 2 * 2**20
    refused(path, "has more bytes than its header promises (10)")


def test_a_gzip_file_cut_short(tmp_path, digits):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(digits[0]))[:200])
    refused(path, "is cut short: its gzip stream ends early")


def test_a_gzip_file_with_damaged_data(tmp_path, digits):
    content = bytearray(gzip.compress(idx_bytes(digits[0]), mtime=0))
    content[40:60] = b"\xff" * 20  # inside the deflate stream
    path = tmp_path / "images.gz"
    path.write_bytes(bytes(content))
    refused(path, "images.gz is ", "download it again")


def test_a_gzip_file_whose_checksum_does_not_match(tmp_path, digits):
    content = bytearray(gzip.compress(idx_bytes(digits[1]), mtime=0))
    content[-8] ^= 0xFF  # the CRC-32 in the trailer
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(content))
    refused(path, "is a damaged gzip file", "CRC")


def test_a_gzip_header_then_junk(tmp_path):
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + np.random.default_rng(2).bytes(300))
    refused(path, "is a damaged gzip file")


def test_a_raw_deflate_stream_named_gz(tmp_path, digits):
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(zlib.compress(idx_bytes(digits[1])))
    refused(path, "is named .gz but is not a gzip file (it starts with 0x789C")


# -- the pair


def test_images_and_labels_with_different_counts(tmp_path, digits):
    images, labels = tmp_path / "train-images", tmp_path / "train-labels"
    images.write_bytes(idx_bytes(digits[0]))
    labels.write_bytes(idx_bytes(digits[1][:11]))
    refused(images, "train-images has 12 images but train-labels has 11 labels",
            reader=lambda path: load_idx_pair(path, labels))
    assert labels.read_bytes() == idx_bytes(digits[1][:11])


def test_labels_outside_0_to_9(tmp_path, digits):
    images, labels = tmp_path / "images", tmp_path / "letters-labels"
    images.write_bytes(idx_bytes(digits[0]))
    labels.write_bytes(idx_bytes(digits[1] + 20))
    refused(labels, "letters-labels has labels outside 0..9: 20, 21, 22, 23, 24, ...",
            reader=lambda path: load_idx_pair(images, path))


def test_a_damaged_labels_file_is_named_not_the_images(tmp_path, digits):
    images, labels = tmp_path / "t10k-images", tmp_path / "t10k-labels"
    images.write_bytes(idx_bytes(digits[0]))
    labels.write_bytes(idx_header(0x08, [1] * 255))
    message = refused(labels, "t10k-labels declares 255 dimensions", reader=lambda path: load_idx_pair(images, path))
    assert "t10k-images" not in message


def test_two_dimensional_images(tmp_path, digits):
    images, labels = tmp_path / "flat-images", tmp_path / "labels"
    images.write_bytes(idx_bytes(digits[0].reshape(12, 784)))
    labels.write_bytes(idx_bytes(digits[1]))
    refused(images, "holds a 2-D array of shape (12, 784)", reader=lambda path: load_idx_pair(path, labels))


# -- what is not a file


def test_a_folder(tmp_path):
    folder = tmp_path / "mnist-idx3-ubyte"
    folder.mkdir()
    refused(folder, "is a folder, not a file. Fix: choose the IDX file inside it")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "images-idx3-ubyte"
    os.mkfifo(fifo)
    outcome = []
    # opening a FIFO that has no writer would block the reading thread forever
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(DatasetError, load_idx, fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert outcome, "load_idx opened the named pipe and waits for a writer"
    assert "is a named pipe (FIFO), not a file" in str(outcome[0].value)
    assert os.path.exists(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_device_that_never_ends():
    refused("/dev/zero", "zero is a device, not a file", name="zero")


def test_a_symlink_to_a_good_file_is_followed(tmp_path, digits):
    target = tmp_path / "real-labels"
    target.write_bytes(idx_bytes(digits[1]))
    link = tmp_path / "labels-link"
    link.symlink_to(target)
    np.testing.assert_array_equal(load_idx(link), digits[1])


def test_a_file_without_read_permission(tmp_path, monkeypatch, digits):
    path = tmp_path / "locked-labels"
    path.write_bytes(idx_bytes(digits[1]))
    real_open = os.open

    def refuse(file, *args, **kwargs):  # what open() does to a user without the read bit (root always may read)
        if os.fspath(file) == os.fspath(path):
            raise PermissionError(13, "Permission denied", os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(datasets.os, "open", refuse)
    refused(path, "cannot be read (Permission denied)", "check that you may read it")


def test_a_unicode_file_name(tmp_path, digits):
    path = tmp_path / "çifra_数字_🙂-labels"
    path.write_bytes(idx_bytes(digits[1])[:-3])
    refused(path, "çifra_数字_🙂-labels is truncated")
    path.write_bytes(idx_bytes(digits[1]))
    np.testing.assert_array_equal(load_idx(path), digits[1])
