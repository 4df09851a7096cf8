"""Export a network as an ONNX model that any ONNX runtime runs with CNN Studio's numbers.

The graph takes ``image`` (N, C, H, W) float32 (N free) and returns ``probabilities``
(N, classes).  Each conv stage becomes Conv (cross-correlation, the engine's resolved
padding, bottom/right extra zero of ``"same"`` included) -> activation -> MaxPool or
AveragePool (floor mode, no padding); then Flatten (C, H, W order, as the engine's
reshape), one Gemm (weights (units, inputs), ``transB=1``) and activation per dense layer,
and Softmax.  Dropout only acts in training, so it is left out.  The class names and the
CNN Studio version are kept in the model's ``metadata_props`` (``class_names`` as JSON).

Needs the ``onnx`` package (``pip install 'cnnstudio[onnx]'``); without it ``export_onnx``
raises a one-line ``ValueError`` saying so.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnnstudio import __version__
from cnnstudio.engine import Network
from cnnstudio.engine.activations import LEAKY_SLOPE
from cnnstudio.io.atomic import save_bytes_atomically

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
PRODUCER = "CNN Studio"
NEEDS_ONNX = "Fix: install the onnx extra: pip install 'cnnstudio[onnx]'."


def require_onnx():
    """The ``onnx`` module, or a one-line ``ValueError`` telling how to install it."""
    try:
        import onnx
    except ImportError:
        raise ValueError(f"ONNX files need the onnx package, which is not installed. {NEEDS_ONNX}") from None
    return onnx


def _activation_node(helper, kind: str, source: str, name: str):
    """The node of an engine activation (None for ``"none"``), reading ``source`` and writing ``name``."""
    if kind == "none":
        return None
    if kind == "leaky_relu":
        return helper.make_node("LeakyRelu", [source], [name], name=name, alpha=float(LEAKY_SLOPE))
    op = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[kind]
    return helper.make_node(op, [source], [name], name=name)


def build_onnx_model(network: Network, class_names=None):
    """The ``onnx.ModelProto`` of ``network`` (checked with ``onnx.checker``); see the module docstring.

    ``class_names`` (one per output class, or None) is stored as JSON in ``metadata_props``.
    """
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if len(class_names) != network.num_classes:
            raise ValueError(f"export_onnx: {len(class_names)} class names for a network with "
                             f"{network.num_classes} classes. Fix: give one name per class, or None.")
    nodes, weights = [], []
    tensor = INPUT_NAME

    def add(node) -> None:
        nonlocal tensor
        if node is not None:
            nodes.append(node)
            tensor = node.output[0]

    def weight(name: str, array: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    for k, (spec, g) in enumerate(zip(network.conv_specs, network.geometry())):
        stage = f"conv{k + 1}"
        add(helper.make_node("Conv", [tensor, weight(f"{stage}.weight", network.weight(k)),
                                      weight(f"{stage}.bias", network.bias(k))], [stage], name=stage,
                             kernel_shape=[g.kernel, g.kernel], strides=[g.stride, g.stride],
                             pads=[g.pad_top, g.pad_left, g.pad_bottom, g.pad_right]))
        add(_activation_node(helper, g.activation, tensor, f"{stage}.{g.activation}"))
        if g.pool != "none":
            op = "MaxPool" if g.pool == "max" else "AveragePool"
            add(helper.make_node(op, [tensor], [f"{stage}.pool"], name=f"{stage}.pool",
                                 kernel_shape=[g.pool_size, g.pool_size], strides=[g.pool_stride, g.pool_stride]))
    add(helper.make_node("Flatten", [tensor], ["flat"], name="flatten", axis=1))
    first_dense = len(network.conv_specs)
    for k, spec in enumerate(network.dense_specs):
        layer = f"dense{k + 1}"
        add(helper.make_node("Gemm", [tensor, weight(f"{layer}.weight", network.weight(first_dense + k)),
                                      weight(f"{layer}.bias", network.bias(first_dense + k))], [layer],
                             name=layer, transB=1))
        add(_activation_node(helper, spec.activation, tensor, f"{layer}.{spec.activation}"))
    nodes.append(helper.make_node("Softmax", [tensor], [OUTPUT_NAME], name="softmax", axis=1))

    C, H, W = network.input_shape
    graph = helper.make_graph(
        nodes, "cnnstudio_network",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", C, H, W])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", network.num_classes])],
        initializer=weights,
        doc_string="CNN Studio network: image (N, C, H, W) float32 -> probabilities (N, classes)")
    opset = helper.make_opsetid("", OPSET)
    # the oldest IR version that holds this opset, so older runtimes read the file too
    model = helper.make_model(graph, opset_imports=[opset], producer_name=PRODUCER, producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for([opset]))
    metadata = {"cnnstudio_version": __version__}
    if class_names is not None:
        metadata["class_names"] = json.dumps(class_names)
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model)
    return model


def export_onnx(network: Network, path, class_names=None) -> Path:
    """Write ``network`` as an ONNX model to ``path`` atomically (the old file or the whole new one); returns it.

    Raises ``ValueError`` (no onnx package, wrong number of class names) or ``OSError``
    (``SaveError`` for a target that is no regular file); the old file stays whole.
    """
    model = build_onnx_model(network, class_names)
    return save_bytes_atomically(path, model.SerializeToString())
