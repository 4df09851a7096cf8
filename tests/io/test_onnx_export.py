"""ONNX export: onnxruntime runs the exported graph with the engine's numbers (within 1e-5 on 100 images)
for the default network, every named architecture and every setting a conv stage or dense layer has."""
from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
from onnx_graphs import run_onnx, sample_images

from cnnstudio import __version__
from cnnstudio.core.architectures import ARCHITECTURES
from cnnstudio.engine import Adam, ConvSpec, DenseSpec, Network
from cnnstudio.engine.activations import LEAKY_SLOPE
from cnnstudio.io.atomic import SaveError
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.io.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

TOLERANCE = 1e-5
IMAGES = sample_images(100)


def trained_ish(network: Network, steps: int = 5) -> Network:
    """A few Adam steps on shipped digits: weights off their initial scale, biases no longer zero."""
    train, _ = load_mnist_5k()
    optimizer = Adam(lr=5e-3)
    rows = np.random.default_rng(0).permutation(len(train))[:64 * steps].reshape(steps, 64)
    for batch in rows:
        _, grads, _ = network.loss_and_grads(train.images[batch], train.labels[batch])
        optimizer.step(network.params, grads)
    return network


def difference(network: Network, path, images=IMAGES) -> float:
    export_onnx(network, path)
    return float(np.abs(run_onnx(path, images) - network.predict_proba(images)).max())


@pytest.mark.parametrize("trained", [False, True], ids=["random", "trained"])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_architecture_runs_in_onnxruntime_as_in_the_engine(tmp_path, name, trained):
    network = Network(ARCHITECTURES[name](), (1, 28, 28), seed=3)
    if trained:
        trained_ish(network)
        assert any(np.abs(network.bias(k)).max() > 0 for k in range(len(network.layers)))
    assert difference(network, tmp_path / "net.onnx") < TOLERANCE


def test_the_shipped_model_runs_in_onnxruntime_as_in_the_engine(tmp_path):
    from cnnstudio.io.model_file import load_default_network

    network = load_default_network()
    assert difference(network, tmp_path / "default.onnx") < TOLERANCE


STAGES = {
    "same, stride 2 (asymmetric pads)": ConvSpec(6, kernel=3, stride=2, padding="same", pool="none"),
    "same, 4x4 kernel (extra zero bottom/right)": ConvSpec(5, kernel=4, padding="same"),
    "stride 2, padding 0": ConvSpec(4, kernel=5, stride=2, padding=0, pool="none"),
    "avg pool 3 stride 2": ConvSpec(4, kernel=3, padding=1, pool="avg", pool_size=3, pool_stride=2),
    "max pool 3 stride 1": ConvSpec(4, kernel=3, padding=1, pool="max", pool_size=3, pool_stride=1),
    **{f"activation {kind}": ConvSpec(4, kernel=3, padding=1, activation=kind)
       for kind in ("relu", "leaky_relu", "tanh", "sigmoid", "none")},
}


@pytest.mark.parametrize("stage", list(STAGES.values()), ids=list(STAGES))
def test_each_conv_setting_runs_as_in_the_engine(tmp_path, stage):
    network = trained_ish(Network([stage, ConvSpec(3, kernel=3, padding=1), DenseSpec(10)], (1, 28, 28), seed=4), 2)
    assert difference(network, tmp_path / "net.onnx") < TOLERANCE


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "tanh", "sigmoid", "none"])
def test_each_dense_activation_and_dropout_runs_as_in_the_engine(tmp_path, kind):
    layers = [ConvSpec(4, kernel=3, padding=1), DenseSpec(12, activation=kind, dropout=0.5), DenseSpec(10)]
    network = Network(layers, (1, 28, 28), seed=5)
    network.bias(1)[:] = np.linspace(-2, 2, 12)  # leaky ReLU's negative side and sigmoid's tails take part
    assert difference(network, tmp_path / "net.onnx") < TOLERANCE
    nodes = [node.op_type for node in onnx.load(str(tmp_path / "net.onnx")).graph.node]
    assert "Dropout" not in nodes  # dropout only acts in training


def test_leaky_relu_slope_is_the_engines(tmp_path):
    export_onnx(Network([ConvSpec(2, activation="leaky_relu"), DenseSpec(10)], (1, 28, 28)), tmp_path / "n.onnx")
    leaky = next(n for n in onnx.load(str(tmp_path / "n.onnx")).graph.node if n.op_type == "LeakyRelu")
    assert onnx.helper.get_attribute_value(leaky.attribute[0]) == pytest.approx(LEAKY_SLOPE)


def test_colour_inputs_and_dense_only_networks(tmp_path):
    colour = Network([ConvSpec(4, kernel=3, padding="same", stride=2), DenseSpec(5)], (3, 17, 23), seed=1)
    assert difference(colour, tmp_path / "rgb.onnx", sample_images(100, (3, 17, 23))) < TOLERANCE
    dense_only = Network([DenseSpec(16, activation="tanh"), DenseSpec(10)], (1, 28, 28), seed=1)
    assert difference(dense_only, tmp_path / "mlp.onnx") < TOLERANCE


def test_graph_has_a_dynamic_batch_named_input_and_output_and_the_metadata(tmp_path):
    network = Network(seed=2)
    names = [f"digit {k}" for k in range(10)]
    path = export_onnx(network, tmp_path / "net.onnx", class_names=names)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    (image,), (probabilities,) = model.graph.input, model.graph.output
    assert (image.name, probabilities.name) == (INPUT_NAME, OUTPUT_NAME)
    dims = image.type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    assert json.loads(metadata["class_names"]) == names
    assert metadata["cnnstudio_version"] == __version__ == model.producer_version
    for count in (1, 7):  # any batch size
        out = run_onnx(path, IMAGES[:count])
        assert out.shape == (count, 10)
        np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-6)


def test_wrong_class_name_count_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(ValueError, match=r"3 class names for a network with 10 classes.*Fix:"):
        export_onnx(Network(seed=0), tmp_path / "net.onnx", class_names=["a", "b", "c"])
    assert not (tmp_path / "net.onnx").exists()


def test_a_failed_save_leaves_the_old_file_whole(tmp_path):
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(SaveError, match="is a folder"):
        export_onnx(Network(seed=0), tmp_path / "folder.onnx")
    old = tmp_path / "old.onnx"
    old.write_bytes(b"old")
    export_onnx(Network(seed=0), old)
    assert onnx.load(str(old)).graph.node  # replaced as a whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.onnx", "old.onnx"]  # no temporary left


def test_without_the_onnx_package_the_message_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # "import onnx" now raises ImportError
    with pytest.raises(ValueError, match=r"^ONNX files need the onnx package.*pip install 'cnnstudio\[onnx\]'"):
        export_onnx(Network(seed=0), tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()
