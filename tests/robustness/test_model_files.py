"""Bad model files: each is refused with one ``ModelFileError`` line (file name, what is wrong, a fix),
through ``load_model`` (the CLI) and through ``Document.load`` (the window, which shows it in a dialog),
allocating nothing a damaged header asks for and leaving the user's files and network exactly as they were.
"""
from __future__ import annotations

import json
import os
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from helpers_files import (declare_size, folder_state, model_arrays, npy_bytes, npy_header, write_model,
                           write_raw_deflated, write_zip, zip_bomb_member)

from cnnstudio.core.document import Document
from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.io.model_file import MAX_PARAMETERS, ModelFileError, load_model, save_model
from cnnstudio.training import InlineDriver, TrainingSession

MEMORY_ALLOWED = 40 * 2**20  # what refusing a bad file may allocate, in bytes
NAME = "model.cnnmodel"


@pytest.fixture(params=["load_model", "Document.load"])
def load(request):
    """Each case runs through the CLI's reader and the window's (which must also leave its network alone)."""
    if request.param == "load_model":
        yield load_model
        return
    playground = Playground(Network(seed=1))
    document = Document(playground, TrainingSession(playground, InlineDriver()))
    network, state = playground.network, playground.network.get_state()
    yield document.load
    assert playground.network is network and len(playground.undo_stack) == 0  # nothing changed, no undo step
    assert all(np.array_equal(a, b) for a, b in zip(network.params, state))


def refused(load, path, *fragments) -> str:
    """Load ``path``: one line naming the file with a fix and each fragment, little memory, the folder untouched."""
    before = folder_state(path.parent)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as caught:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith(path.name) and "Fix:" in message and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < MEMORY_ALLOWED, f"refusing {path.name} allocated {peak / 2**20:.0f} MB"
    assert folder_state(path.parent) == before
    return message


@pytest.fixture
def good(tmp_path):
    path = tmp_path / NAME
    save_model(path, Network(seed=3))
    return path


# ---------------------------------------------------------------- truncated and random bytes

@pytest.mark.parametrize("keep", [10, 0.5, -22])
def test_a_truncated_file(load, good, keep):
    data = good.read_bytes()
    good.write_bytes(data[:keep] if isinstance(keep, int) else data[:int(len(data) * keep)])
    refused(load, good, "is truncated: the end of the archive is missing")


@pytest.mark.parametrize("seed", [0, 1])
def test_random_bytes(load, tmp_path, seed):
    path = tmp_path / NAME
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    refused(load, path, "is not a CNN Studio model: it is not an npz (zip) archive")


def test_random_bytes_inside_the_compressed_weights(load, good):
    data = bytearray(good.read_bytes())
    start = data.find(b"p0.npy") + 200
    data[start:start + 32] = np.random.default_rng(5).bytes(32)
    good.write_bytes(bytes(data))
    refused(load, good, "is damaged")


# ---------------------------------------------------------------- foreign archives

def test_a_zip_that_is_not_an_npz(load, tmp_path):
    path = tmp_path / NAME
    write_zip(path, {"readme.txt": b"hello", "photo.jpg": b"\xff\xd8\xff"})
    refused(load, path, "is an npz archive but not a CNN Studio model (it holds photo.jpg, readme.txt, no header)")


def test_an_npz_without_a_header(load, tmp_path):
    path = tmp_path / NAME
    arrays = model_arrays()
    del arrays["header"]
    write_model(path, arrays)
    refused(load, path, "no header)", "Fix: choose a .cnnmodel file saved by CNN Studio")


def test_a_header_member_that_is_not_an_array(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, {}, raw={"header.npy": b'{"format": "cnnstudio-model"}'})
    refused(load, path, "its member 'header' is not a NumPy array")


def test_a_header_that_is_a_number(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, {**model_arrays(), "header": np.arange(3)})
    refused(load, path, "its header is not text")


def test_a_member_compressed_with_another_method(load, tmp_path):
    path = tmp_path / NAME
    arrays = model_arrays()
    write_zip(path, {f"{key}.npy": npy_bytes(value) for key, value in arrays.items()}, compress=zipfile.ZIP_BZIP2)
    refused(load, path, "compressed with a method numpy never uses")


def test_thousands_of_members(load, tmp_path):
    path = tmp_path / NAME
    write_zip(path, {f"x{k}.npy": b"" for k in range(1000)}, compress=zipfile.ZIP_STORED)
    refused(load, path, "it holds 1,000 arrays, more than the")


def test_a_named_pipe_is_not_opened(load, tmp_path):
    path = tmp_path / NAME
    os.mkfifo(path)  # opening it for reading would wait for a writer for ever
    refused(load, path, "is a named pipe (FIFO), not a model file")


# ---------------------------------------------------------------- wrong shapes, NaN, huge weights

def test_weights_of_the_wrong_shape(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, {**model_arrays(), "p0": np.zeros((8, 1, 5, 5), np.float32)})
    refused(load, path, "layer 1's weights have shape (8, 1, 5, 5) but its architecture needs (8, 1, 3, 3)")


def test_whole_number_weights(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, {**model_arrays(), "p1": np.zeros(8, np.int64)})
    refused(load, path, "layer 1's biases are int64, not floating point")


@pytest.mark.parametrize("value, fragment", [
    (np.nan, "holds NaN or infinite weights in layer 2"),
    (np.inf, "holds NaN or infinite weights in layer 2"),
    (3e38, "holds weights beyond ±1,000,000 in layer 2 (up to 3e+38)"),
    (-2e6, "holds weights beyond ±1,000,000 in layer 2 (up to 2e+06)"),
])
def test_nan_infinite_and_huge_weights(load, tmp_path, value, fragment):
    path = tmp_path / NAME
    arrays = model_arrays()
    weights = arrays["p2"].copy()
    weights[3, 1, 0, 2] = value
    write_model(path, {**arrays, "p2": weights})
    message = refused(load, path, fragment)
    assert "Fix: retrain with a lower learning rate, or choose another model." in message


def test_huge_weights_are_not_saved_either(tmp_path):
    network = Network(seed=0)
    network.bias(1)[0] = 3e38
    with pytest.raises(ValueError, match=r"cannot save: layer 2 has biases beyond ±1,000,000 \(up to 3e\+38\).*Fix:"):
        save_model(tmp_path / NAME, network)
    assert not any(tmp_path.iterdir())


# ---------------------------------------------------------------- huge declared sizes

@pytest.mark.parametrize("layers, fragment", [
    ([{"kind": "conv", "filters": 10**9}, {"kind": "dense", "units": 10}], "layer 1 with filters = 1,000,000,000"),
    ([{"kind": "conv"}, {"kind": "dense", "units": 10**9}], "layer 2 with units = 1,000,000,000"),
    ([{"kind": "conv", "filters": 10**400}, {"kind": "dense"}], "filters = 10000000000000000000..."),
    ([{"kind": "conv", "filters": 8.5}, {"kind": "dense"}], "layer 1's filters is 8.5, not a whole number"),
    ([{"kind": "conv"}] * 100_000 + [{"kind": "dense"}], "describes 100,001 layers, more than the 64"),
    ([{"kind": "conv", "filters": 100_000, "kernel": 11, "padding": 5, "pool": "none"}, {"kind": "dense"}],
     f"more than the {MAX_PARAMETERS:,} CNN Studio loads"),
])
def test_a_header_declaring_a_giant_network(load, tmp_path, layers, fragment):
    path = tmp_path / NAME
    write_model(path, model_arrays(layers=layers, params=2 * len(layers)))
    refused(load, path, fragment)


def test_a_header_declaring_giant_inputs(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, model_arrays(input_shape=[1, 100_000, 100_000]))
    refused(load, path, "larger than CNN Studio reads (at most 64 channels of 4096x4096)")


def test_an_npy_header_declaring_a_giant_shape(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, model_arrays(), raw={"p0.npy": npy_header((10**6, 10**6))})
    refused(load, path, "layer 1's weights have shape (1000000, 1000000) but its architecture needs (8, 1, 3, 3)")


def test_a_header_member_declaring_100_million_characters(load, tmp_path):
    path = tmp_path / NAME
    arrays = model_arrays()
    del arrays["header"]
    write_model(path, arrays, raw={"header.npy": npy_header((), descr="<U100000000")})
    refused(load, path, "its header declares 100,000,000 characters, more than the 4,000,000")


def test_an_npy_header_declaring_a_4_gb_header(load, tmp_path):
    path = tmp_path / NAME
    lying = b"\x93NUMPY\x02\x00" + (2**32 - 1).to_bytes(4, "little") + b"{"
    write_model(path, model_arrays(), raw={"p0.npy": lying})
    refused(load, path, "its array 'p0' declares a 4,294,967,295-byte header")


def test_a_zip_member_declaring_a_giant_size(load, tmp_path):
    path = tmp_path / NAME
    write_model(path, model_arrays())
    declare_size(path, "p0.npy", 2**31 - 1)
    refused(load, path, "its array 'p0' declares 2,147,483,647 bytes, more than the 288 allowed")


def test_a_deeply_nested_header(load, tmp_path):
    path = tmp_path / NAME
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps({"format": "cnnstudio-model", "version": 1})[:-1] + f', "x": {deep}}}'
    write_model(path, {**model_arrays(), "header": np.array(text)})
    refused(load, path, "its header nests 100,001 levels deep")


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    path = tmp_path / NAME
    network = Network(seed=3)
    save_model(path, network, settings={"note": "[[[[" * 100 + '\\"{{{' * 50})
    assert load_model(path).settings["note"].startswith("[[[[")


def test_a_header_integer_of_thousands_of_digits(load, tmp_path):
    path = tmp_path / NAME
    text = json.dumps({"format": "cnnstudio-model", "version": 1})[:-1] + ', "x": ' + "9" * 5000 + "}"
    write_model(path, {**model_arrays(), "header": np.array(text)})
    refused(load, path, "its header cannot be read")


# ---------------------------------------------------------------- zip bombs

def test_a_zip_bomb_in_the_weights(load, tmp_path):
    """A member that says 288 bytes but inflates to 256 MB: read no further than declared, and refused."""
    path = tmp_path / NAME
    arrays = model_arrays()
    members = {f"{key}.npy": npy_bytes(value) for key, value in arrays.items() if key != "p0"}
    real = npy_bytes(arrays["p0"])
    deflated, _ = zip_bomb_member(real[:-288], len(real), 256 << 20)
    write_raw_deflated(path, members, ("p0.npy", deflated, zlib.crc32(real), len(real)))  # disguised as the real one
    assert os.path.getsize(path) < 1 << 20
    refused(load, path, "is damaged", "Bad CRC-32")


def test_a_zip_bomb_that_declares_its_full_size(load, tmp_path):
    path = tmp_path / NAME
    members = {f"{key}.npy": npy_bytes(value) for key, value in model_arrays().items() if key != "header"}
    header = npy_header((), descr="<U30000000")
    deflated, crc = zip_bomb_member(header, len(header) + 120_000_000, 120 << 20)
    write_raw_deflated(path, members, ("header.npy", deflated, crc, len(header) + 120_000_000))
    refused(load, path, "its header declares 30,000,000 characters")


def test_a_good_file_still_loads_after_all_that(good):
    loaded = load_model(good)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.network.params, Network(seed=3).params))
