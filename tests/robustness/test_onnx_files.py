"""Bad ONNX files: each is refused with one ``OnnxFileError`` line (file name, what is wrong, a fix),
allocating nothing a damaged tensor declares; damaged bytes never raise anything else."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_graphs import TorchStyle, lenet

from cnnstudio.io import onnx_import
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH
from cnnstudio.io.onnx_import import OnnxFileError, import_onnx

MEMORY_ALLOWED = 40 * 2**20  # what refusing a bad file may allocate, in bytes


def refused(path, *words) -> str:
    with pytest.raises(OnnxFileError) as caught:
        import_onnx(path)
    message = str(caught.value)
    assert "\n" not in message and "Fix:" in message and os.path.basename(path) in message, message
    for word in words:
        assert word in message, message
    return message


@pytest.fixture
def good_bytes(tmp_path) -> bytes:
    return lenet(softmax="Softmax", flatten="view").save(tmp_path / "good.onnx").read_bytes()


@pytest.mark.parametrize("name, data, words", [
    ("empty.onnx", b"", "holds no graph"),
    ("text.onnx", b"hello, this is not a model\n" * 20, "is not an ONNX model"),
    ("png.onnx", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "is not an ONNX model"),
    ("model.onnx", DEFAULT_MODEL_PATH.read_bytes(), "is not an ONNX model"),
])
def test_foreign_files_are_not_onnx_models(tmp_path, name, data, words):
    (tmp_path / name).write_bytes(data)
    refused(tmp_path / name, words)


def test_random_bytes_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(20):
        path = tmp_path / f"random{k}.onnx"
        path.write_bytes(rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes())
        refused(path)


def test_every_truncation_is_refused(tmp_path, good_bytes):
    for cut in np.linspace(1, len(good_bytes) - 1, 60).astype(int):
        path = tmp_path / "cut.onnx"
        path.write_bytes(good_bytes[:cut])
        refused(path)


def test_damaged_bytes_never_raise_anything_but_a_one_line_refusal(tmp_path, good_bytes):
    rng = np.random.default_rng(1)
    outcomes = {"imported": 0, "refused": 0}
    for _ in range(300):
        data = bytearray(good_bytes)
        for where in rng.integers(0, len(data), int(rng.integers(1, 4))):
            data[where] = int(rng.integers(0, 256))
        path = tmp_path / "damaged.onnx"
        path.write_bytes(bytes(data))
        try:
            network, _ = import_onnx(path)
        except OnnxFileError as err:
            assert "\n" not in str(err) and "Fix:" in str(err)
            outcomes["refused"] += 1
        else:  # a flipped weight is still a network
            assert network.num_classes == 10
            outcomes["imported"] += 1
    assert outcomes["refused"] > 0 and outcomes["imported"] > 0


def test_missing_folder_and_pipe_are_refused(tmp_path):
    refused(tmp_path / "gone.onnx", "does not exist")
    (tmp_path / "folder.onnx").mkdir()
    refused(tmp_path / "folder.onnx", "is a folder")
    os.mkfifo(tmp_path / "pipe.onnx")
    refused(tmp_path / "pipe.onnx", "is a named pipe")  # without blocking on it


def test_a_file_larger_than_any_network_is_refused_before_it_is_read(tmp_path, monkeypatch, good_bytes):
    monkeypatch.setattr(onnx_import, "MAX_FILE_BYTES", 1000)
    (tmp_path / "big.onnx").write_bytes(good_bytes)
    refused(tmp_path / "big.onnx", "more than the 1,000")


def weight_model(tmp_path, name: str, tensor) -> os.PathLike:
    """Flatten -> Gemm reading ``tensor`` as its weights."""
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"], axis=1),
         helper.make_node("Gemm", ["flat", tensor.name], ["output"], transB=1)], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 10])], initializer=[tensor])
    path = tmp_path / name
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


def test_a_tensor_declaring_a_trillion_numbers_allocates_nothing(tmp_path):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1_000_000, 1_000_000])
    path = weight_model(tmp_path, "huge.onnx", tensor)
    tracemalloc.start()
    try:
        refused(path, "declares 1,000,000,000,000 numbers")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_ALLOWED


def test_damaged_external_and_non_finite_weights_are_refused(tmp_path):
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[10, 784], raw_data=b"\x00" * 100)
    refused(weight_model(tmp_path, "short.onnx", short), "damaged")
    external = numpy_helper.from_array(np.zeros((10, 784), np.float32), "w")
    external.data_location = TensorProto.EXTERNAL
    external.ClearField("raw_data")
    external.external_data.add(key="location", value="weights.bin")
    refused(weight_model(tmp_path, "external.onnx", external), "separate file")
    nan = np.zeros((10, 784), np.float32)
    nan[3, 5] = np.nan
    refused(weight_model(tmp_path, "nan.onnx", numpy_helper.from_array(nan, "w")), "NaN or infinite weights")


def one_conv_model(tmp_path, name: str, domain: str = "", **conv):
    """A saved Conv(4, **conv) -> Flatten -> Gemm(10) graph, its Conv in operator set ``domain``."""
    g = TorchStyle(seed=0)
    g.conv("c", 4, **conv)
    g.nodes[-1].domain = domain
    g.flatten()
    g.dense("fc", 10, 4 * 28 * 28)
    onnx.save(g.model(), str(tmp_path / name))
    return tmp_path / name


def test_foreign_operators_and_malformed_attributes_are_refused(tmp_path):
    refused(one_conv_model(tmp_path, "fused.onnx", domain="com.microsoft"), "cannot run: com.microsoft.Conv")
    refused(one_conv_model(tmp_path, "float_strides.onnx", strides=[1.0, 1.0]),
            "strides = [1.0, 1.0], not whole numbers")
    refused(one_conv_model(tmp_path, "three_pads.onnx", pads=(1, 1, 1)), "damaged")  # three pads, a 2-D kernel


def test_a_weight_that_is_computed_at_run_time_is_refused(tmp_path):
    g = TorchStyle(seed=0)
    g.flatten()
    w = g.weight("w", g.random((784, 10)))
    g.nodes.append(helper.make_node("Transpose", [w], ["wt"], perm=[1, 0]))
    g.nodes.append(helper.make_node("Gemm", [g.current, "wt"], ["output"], transB=1))
    g.current = "output"
    path = tmp_path / "computed.onnx"
    onnx.save(g.model(), str(path))
    refused(path, "Transpose")  # an operator of its own: named among the unsupported
