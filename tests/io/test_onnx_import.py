"""ONNX import: graphs laid out as torch.onnx.export and tf2onnx write them (and a file PyTorch really wrote)
become engine networks whose probabilities match onnxruntime's within 1e-5 on 100 images; a graph the
engine cannot express is refused in one line that names what and how to fix it."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_graphs import KerasStyle, TorchStyle, as_probabilities, flat_size, lenet, run_onnx, sample_images

from cnnstudio.core.architectures import ARCHITECTURES
from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.io.onnx_export import export_onnx
from cnnstudio.io.onnx_import import OnnxFileError, import_onnx

TOLERANCE = 1e-5
IMAGES = sample_images(100)
TORCH_FIXTURE = Path(__file__).parents[1] / "data" / "torch_lenet.onnx"


def imported_difference(path, ending=None, images=IMAGES) -> float:
    """max |ours - onnxruntime's| over the probabilities of ``images``."""
    network, _ = import_onnx(path)
    theirs = as_probabilities(run_onnx(path, images), ending)
    return float(np.abs(network.predict_proba(images) - theirs).max())


@pytest.mark.parametrize("flatten", ["Flatten", "view"])
@pytest.mark.parametrize("ending", [None, "Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset", [13, 17])
def test_a_torch_exported_lenet_predicts_as_onnxruntime(tmp_path, opset, ending, flatten):
    path = lenet(TorchStyle, opset, ending, flatten, seed=opset).save(tmp_path / "lenet.onnx")
    assert imported_difference(path, ending) < TOLERANCE
    network, names = import_onnx(path)
    assert names is None
    assert [type(s).__name__ for s in network.layers] == ["ConvSpec"] * 2 + ["DenseSpec"] * 3
    assert network.layers[0] == ConvSpec(6, kernel=5, padding=2) and network.layers[1].padding == 0
    assert [s.activation for s in network.dense_specs] == ["relu", "relu", "none"]


def test_pooling_before_the_relu_is_read_as_the_engines_stage(tmp_path):
    path = lenet(TorchStyle, pool_first=True, seed=3).save(tmp_path / "lenet.onnx")  # F.relu(F.max_pool2d(...))
    assert imported_difference(path) < TOLERANCE
    assert [s.activation for s in import_onnx(path)[0].conv_specs] == ["relu", "relu"]


@pytest.mark.parametrize("ending", [None, "Softmax"])
def test_a_keras_layout_with_matmul_and_add_predicts_as_onnxruntime(tmp_path, ending):
    path = lenet(KerasStyle, 13, ending, flatten="reshape", seed=5).save(tmp_path / "keras.onnx")
    assert imported_difference(path, ending) < TOLERANCE


def test_the_file_pytorch_wrote_predicts_as_onnxruntime():
    """tests/data/torch_lenet.onnx: trained and exported by torch 2.13 (scripts/export_torch_fixture.py)."""
    network, _ = import_onnx(TORCH_FIXTURE)
    assert network.layers == [ConvSpec(6, kernel=5, padding=2), ConvSpec(12, kernel=3, padding=0,
                                                                        activation="leaky_relu"),
                              DenseSpec(32, activation="tanh"), DenseSpec(10)]
    assert imported_difference(TORCH_FIXTURE, "Softmax") < TOLERANCE
    train_accuracy = (network.predict_proba(IMAGES[:50]).argmax(1) == sample_labels(50)).mean()
    assert train_accuracy > 0.7  # it was trained: its weights came through in the right places


def sample_labels(count: int) -> np.ndarray:
    from cnnstudio.io.datasets import load_mnist_5k

    return load_mnist_5k()[1].labels[:count]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_an_exported_network_comes_back_with_the_same_layers_and_weights(tmp_path, name):
    network = Network(ARCHITECTURES[name](), (1, 28, 28), seed=7)
    names = [str(k) for k in range(10)]
    back, back_names = import_onnx(export_onnx(network, tmp_path / "net.onnx", names))
    assert back_names == names
    assert back.layers == [DenseSpec(s.units, s.activation) if isinstance(s, DenseSpec) else s
                           for s in network.layers]  # dropout acts in training only: not in the graph
    assert all(np.array_equal(a, b) for a, b in zip(back.params, network.params))


def small(tmp_path, build, ending=None, shape=(1, 12, 12), **kwargs):
    """Save a small torch-style graph: ``build(g)`` adds the layers before Flatten -> Gemm(10)."""
    g = TorchStyle(input_shape=shape, **kwargs)
    build(g)
    flat = flat_size(g)
    g.flatten()
    g.dense("fc", 10, flat)
    if ending:
        g.softmax(ending)
    return g.save(tmp_path / "small.onnx")


FEATURES = {
    "asymmetric pads as 'same'": (lambda g: g.conv("c", 4, 3, stride=2, pads=(0, 0, 1, 1)), ConvSpec(
        4, kernel=3, stride=2, padding="same", activation="none", pool="none")),
    "auto_pad SAME_UPPER": (lambda g: g.conv("c", 4, 4, auto_pad="SAME_UPPER"), ConvSpec(
        4, kernel=4, padding="same", activation="none", pool="none")),
    "auto_pad VALID, no bias": (lambda g: g.conv("c", 3, 5, auto_pad="VALID", bias=False), ConvSpec(
        3, kernel=5, padding=0, activation="none", pool="none")),
    "bias as a following Add": (lambda g: (g.conv("c", 3, 3, bias=False), g.node("Add", "c", [g.weight(
        "c.b", g.random((1, 3, 1, 1), 0.5))]), g.act("Sigmoid")), ConvSpec(3, activation="sigmoid", pool="none")),
    "leaky relu, avg pool": (lambda g: (g.conv("c", 4), g.act("LeakyRelu", alpha=0.01), g.pool("AveragePool", 3, 3)),
                             ConvSpec(4, activation="leaky_relu", pool="avg", pool_size=3, pool_stride=3)),
    "tanh, global average pool, dropout and identity": (
        lambda g: (g.conv("c", 4), g.act("Tanh"), g.pool("GlobalAveragePool"), g.node("Dropout", "d"),
                   g.node("Identity", "i")),
        ConvSpec(4, activation="tanh", pool="avg", pool_size=12, pool_stride=1)),
}


@pytest.mark.parametrize("feature", list(FEATURES))
def test_each_conv_feature_reads_as_the_engines_setting(tmp_path, feature):
    build, expected = FEATURES[feature]
    path = small(tmp_path, build)
    network, _ = import_onnx(path)
    assert network.layers[0] == expected
    assert imported_difference(path, images=sample_images(100, (1, 12, 12))) < TOLERANCE


def test_gemm_without_transposed_weights_and_with_alpha_beta(tmp_path):
    g = TorchStyle(input_shape=(3, 6, 6), seed=2)
    g.flatten()
    w, b = g.random((108, 7)), g.random((7,), 1.0)
    g.node("Gemm", "fc0", [g.weight("w", w), g.weight("b", b)], alpha=0.5, beta=2.0, transB=0)
    g.act("Relu")
    g.dense("fc1", 4, 7, bias=False)
    path = g.save(tmp_path / "mlp.onnx")
    network, _ = import_onnx(path)
    assert network.input_shape == (3, 6, 6) and network.layers == [DenseSpec(7, "relu"), DenseSpec(4)]
    np.testing.assert_allclose(network.weight(0), 0.5 * w.T)
    np.testing.assert_allclose(network.bias(0), 2 * b)
    assert imported_difference(path, images=sample_images(100, (3, 6, 6))) < TOLERANCE


# ---------------------------------------------------------------- refusals

def refused(path) -> str:
    with pytest.raises(OnnxFileError) as caught:
        import_onnx(path)
    message = str(caught.value)
    assert "\n" not in message and "Fix:" in message and Path(path).name in message
    return message


def test_unsupported_operators_are_all_named_at_once(tmp_path):
    g = TorchStyle(seed=1)
    g.conv("c", 4)
    g.node("BatchNormalization", "bn", [g.weight(n, np.ones(4, np.float32)) for n in ("s", "bb", "m", "v")])
    g.node("Transpose", "t", perm=[0, 1, 3, 2])
    g.node("Elu", "e")
    g.flatten()
    g.dense("fc", 10, 4 * 28 * 28)
    message = refused(g.save(tmp_path / "bn.onnx"))
    assert "cannot run: BatchNormalization, Elu, Transpose." in message
    assert "supported: Conv, Relu, LeakyRelu" in message


REFUSALS = {
    "leaky slope": (lambda g: (g.conv("c", 4), g.act("LeakyRelu", alpha=0.2)), "alpha = 0.2"),
    "grouped": (lambda g: (g.conv("c", 4), g.conv("d", 4, channels=2, group=2)), "group = 2"),
    "dilated": (lambda g: g.conv("c", 4, dilations=[2, 2], pads=(2, 2, 2, 2)), "dilated"),
    "non-square kernel": (lambda g: g.node("Conv", "c", [g.weight("w", g.random((2, 1, 3, 1)))], pads=[1, 0, 1, 0]),
                          "3x1 kernel"),
    "unequal strides": (lambda g: g.conv("c", 4, stride=1, strides=[1, 2]), "moves by [1, 2]"),
    "pads beyond 'same'": (lambda g: g.conv("c", 4, pads=(1, 0, 0, 1)), "pads (top 1, left 0, bottom 0, right 1)"),
    "activation after avg pool": (lambda g: (g.conv("c", 4), g.pool("AveragePool"), g.act("Relu")), "average pooling"),
    "two activations": (lambda g: (g.conv("c", 4), g.act("Relu"), g.act("Tanh")), "a relu activation"),
    "padded pool": (lambda g: (g.conv("c", 4), g.pool(pads=[1, 1, 1, 1])), "pools without padding"),
    "ceil mode": (lambda g: (g.conv("c", 4, 4, pads=(0, 0, 0, 0)), g.pool(ceil_mode=1)), "ceil_mode"),
    "pool on the input": (lambda g: g.pool(), "does not follow a Conv"),
    "skip connection": (lambda g: (g.conv("c", 1), g.nodes.append(helper.make_node(
        "Add", [g.current, "input"], ["sum"], name="skip")), setattr(g, "current", "sum")),
                        "reads 'input', an earlier"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_what_the_engine_cannot_express_is_refused_by_name(tmp_path, case):
    build, words = REFUSALS[case]
    g = TorchStyle(seed=1)
    build(g)
    flat = flat_size(g)
    g.flatten()
    g.dense("fc", 10, flat)
    message = refused(g.save(tmp_path / f"{case}.onnx"))
    assert words in message


@pytest.mark.parametrize("dims, words", [
    ([None, 28, 28, 1], "it looks channels-last"),
    ([None, 4, 28, 28], "4 channels"),
    ([None, 1, None, 28], "not (N, C, H, W) with fixed C, H and W"),
    ([None, 784], "not (N, C, H, W)"),
])
def test_inputs_other_than_fixed_channels_first_images_are_refused(tmp_path, dims, words):
    g = TorchStyle(seed=0)
    g.flatten()
    g.dense("fc", 10, 784)
    model = g.model()
    model.graph.input[0].CopyFrom(helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                ["N" if d is None else d for d in dims]))
    onnx.save(model, str(tmp_path / "in.onnx"))
    assert words in refused(tmp_path / "in.onnx")


def test_a_graph_without_a_dense_layer_or_whose_output_is_elsewhere_is_refused(tmp_path):
    g = TorchStyle(seed=0)
    g.conv("c", 2)
    g.act()
    assert "does not end with a dense layer" in refused(g.save(tmp_path / "conv.onnx"))
    g = lenet(TorchStyle, softmax="Softmax")
    model = g.model()
    model.graph.output[0].name = "/relu_fc2/Relu_output_0"
    onnx.save(model, str(tmp_path / "mid.onnx"))
    assert "its output is not the last layer's" in refused(tmp_path / "mid.onnx")


def test_without_the_onnx_package_the_message_says_what_to_install(tmp_path, monkeypatch):
    path = lenet().save(tmp_path / "lenet.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    message = refused(path)
    assert "needs the onnx package" in message or "need the onnx package" in message
    assert "pip install 'cnnstudio[onnx]'" in message
