"""ONNX graphs built with ``onnx.helper`` the way other tools write them, for the import tests.

``TorchStyle`` lays nodes, names and attributes out as ``torch.onnx.export`` does (``/conv1/Conv``
reading ``conv1.weight``, every default attribute written, ``input`` -> ``output`` with a dynamic
``batch_size``); ``KerasStyle`` writes dense layers as tf2onnx does (MatMul with weights
(inputs, units), then an Add of the bias).  ``run_onnx`` runs a file with onnxruntime.
Imported as ``onnx_graphs`` (tests/conftest.py puts tests/ on ``sys.path``).
"""
from __future__ import annotations

import numpy as np
import onnx  # in the test extra, with onnxruntime
from onnx import TensorProto, helper, numpy_helper


class TorchStyle:
    """A chain of layers on an input (C, H, W), written as torch.onnx.export writes it."""

    def __init__(self, input_shape=(1, 28, 28), opset: int = 17, seed: int = 0, input_name: str = "input"):
        self.rng = np.random.default_rng(seed)
        self.opset = opset
        self.input_shape = tuple(input_shape)
        self.input_name = self.current = input_name
        self.nodes, self.weights = [], []
        self.count: dict[str, int] = {}
        self.channels = self.input_shape[0]   # of the newest maps
        self.flat = 0                         # the flattened size, for flatten("reshape"): set by the caller

    # -- plumbing
    def name(self, base: str) -> str:
        self.count[base] = self.count.get(base, 0) + 1
        return base if self.count[base] == 1 else f"{base}_{self.count[base] - 1}"

    def weight(self, name: str, array) -> str:
        self.weights.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def constant(self, scope: str, array) -> str:
        out = f"{scope}/Constant_output_0"
        out = self.name(out)
        self.nodes.append(helper.make_node("Constant", [], [out], name=f"{scope}/Constant",
                                           value=numpy_helper.from_array(np.asarray(array))))
        return out

    def node(self, op: str, scope: str, inputs=None, **attributes) -> str:
        out = self.name(f"/{scope}/{op}_output_0")
        self.nodes.append(helper.make_node(op, [self.current] + list(inputs or []), [out], name=f"/{scope}/{op}",
                                           **attributes))
        self.current = out
        return out

    def random(self, shape, scale=None) -> np.ndarray:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if scale is None else scale
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    # -- layers
    def conv(self, scope: str, filters: int, kernel: int = 3, stride: int = 1, pads=(1, 1, 1, 1), bias=True,
             channels: int | None = None, **attributes) -> None:
        channels = channels or self.channels
        w = self.weight(f"{scope}.weight", self.random((filters, channels, kernel, kernel)))
        inputs = [w] + ([self.weight(f"{scope}.bias", self.random((filters,), 0.1))] if bias else [])
        attributes.setdefault("dilations", [1, 1])
        attributes.setdefault("group", 1)
        attributes.setdefault("kernel_shape", [kernel, kernel])
        if "auto_pad" not in attributes:
            attributes["pads"] = list(pads)
        attributes.setdefault("strides", [stride, stride])
        self.node("Conv", scope, inputs, **attributes)
        self.channels = filters

    def act(self, op: str = "Relu", scope: str | None = None, **attributes) -> None:
        self.node(op, scope or op.lower(), **attributes)

    def pool(self, op: str = "MaxPool", size: int = 2, stride: int = 2, scope: str = "pool", **attributes) -> None:
        if op.startswith("Global"):
            self.node(op, scope)
            return
        attributes.setdefault("ceil_mode", 0)
        if op == "MaxPool":
            attributes.setdefault("dilations", [1, 1])
        attributes.setdefault("kernel_shape", [size, size])
        attributes.setdefault("pads", [0, 0, 0, 0])
        attributes.setdefault("strides", [stride, stride])
        self.node(op, scope, **attributes)

    def flatten(self, style: str = "Flatten") -> None:
        """``Flatten`` (nn.Flatten), ``view`` (x.view(x.size(0), -1): Shape/Gather/Unsqueeze/Concat) or
        ``reshape`` (a constant shape (-1, F), as tf2onnx writes it)."""
        if style == "Flatten":
            self.node("Flatten", "flatten", axis=1)
            return
        if style == "reshape":
            self.node("Reshape", "flatten", [self.constant("/flatten", np.array([-1, self.flat], np.int64))])
            return
        source = self.current
        self.node("Shape", "view")
        index = self.constant("/view", np.array(0, np.int64))
        self.node("Gather", "view", [index], axis=0)
        if self.opset >= 13:
            self.node("Unsqueeze", "view", [self.constant("/view", np.array([0], np.int64))])
        else:
            self.node("Unsqueeze", "view", axes=[0])
        batch = self.current
        minus_one = self.constant("/view", np.array([-1], np.int64))
        out = self.name("/view/Concat_output_0")
        self.nodes.append(helper.make_node("Concat", [batch, minus_one], [out], name="/view/Concat", axis=0))
        self.current = source
        self.node("Reshape", "view", [out])

    def dense(self, scope: str, units: int, inputs: int, bias=True) -> None:
        w = self.weight(f"{scope}.weight", self.random((units, inputs)))
        b = [self.weight(f"{scope}.bias", self.random((units,), 0.1))] if bias else []
        self.node("Gemm", scope, [w] + b, alpha=1.0, beta=1.0, transB=1)

    def softmax(self, op: str = "Softmax") -> None:
        self.node(op, op.lower(), axis=1)

    # -- the model
    def model(self, output_name: str = "output", batch="batch_size", rank: int = 2):
        last = self.nodes[-1]
        last.output[0] = output_name
        C, H, W = self.input_shape
        graph = helper.make_graph(
            self.nodes, "main_graph",
            [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, [batch, C, H, W])],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch] + [None] * (rank - 1))],
            initializer=self.weights)
        opset = helper.make_opsetid("", self.opset)
        return helper.make_model(graph, opset_imports=[opset], producer_name="pytorch", producer_version="2.13.0",
                                 ir_version=helper.find_min_ir_version_for([opset]))

    def save(self, path, **kwargs):
        model = self.model(**kwargs)
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        return path



class KerasStyle(TorchStyle):
    """tf2onnx's dense layers: ``MatMul`` by weights (inputs, units), then ``Add`` of the bias."""

    def dense(self, scope: str, units: int, inputs: int, bias=True) -> None:
        w = self.weight(f"{scope}/MatMul/ReadVariableOp:0", self.random((units, inputs)).T.copy())
        self.node("MatMul", f"sequential/{scope}", [w])
        if bias:
            self.node("Add", f"sequential/{scope}", [self.weight(f"{scope}/BiasAdd/ReadVariableOp:0",
                                                                 self.random((units,), 0.1))])


def lenet(style=TorchStyle, opset: int = 17, softmax: str | None = None, flatten: str = "Flatten",
          seed: int = 0, pool_first: bool = False) -> TorchStyle:
    """A LeNet-like net: Conv(6, 5x5, pad 2) -> Relu -> MaxPool -> Conv(16, 5x5) -> Relu -> MaxPool -> Flatten
    -> Gemm(120) -> Relu -> Gemm(84) -> Relu -> Gemm(10) [-> Softmax]; ``pool_first``: F.relu(F.max_pool2d(...))."""
    g = style(opset=opset, seed=seed)
    for scope, filters, pads in (("conv1", 6, (2, 2, 2, 2)), ("conv2", 16, (0, 0, 0, 0))):
        g.conv(scope, filters, kernel=5, pads=pads)
        if pool_first:
            g.pool(scope=f"pool_{scope}")
            g.act(scope=f"relu_{scope}")
        else:
            g.act(scope=f"relu_{scope}")
            g.pool(scope=f"pool_{scope}")
    g.flat = 16 * 5 * 5
    g.flatten(flatten)
    g.dense("fc1", 120, 400)
    g.act(scope="relu_fc1")
    g.dense("fc2", 84, 120)
    g.act(scope="relu_fc2")
    g.dense("fc3", 10, 84)
    if softmax:
        g.softmax(softmax)
    return g


def run_onnx(path, images: np.ndarray) -> np.ndarray:
    """The first output of the ONNX model at ``path`` (or a ModelProto) on ``images`` (N, C, H, W), by onnxruntime."""
    import onnxruntime

    source = path.SerializeToString() if isinstance(path, onnx.ModelProto) else str(path)
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: np.asarray(images, np.float32)})[0]


def flat_size(g: TorchStyle) -> int:
    """C * H * W of the maps the layers built so far give (onnxruntime runs the graph up to there)."""
    if not g.nodes:
        return int(np.prod(g.input_shape))
    maps = run_onnx(g.model(output_name=g.current, rank=4), np.zeros((1, *g.input_shape), np.float32))
    return int(np.prod(maps.shape))


def as_probabilities(outputs: np.ndarray, ending: str | None) -> np.ndarray:
    """What our network computes from a graph's outputs: a softmax of logits, exp of log-probabilities."""
    outputs = outputs.astype(np.float64)
    if ending == "Softmax":
        return outputs
    if ending == "LogSoftmax":
        return np.exp(outputs)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def sample_images(count: int = 100, shape=(1, 28, 28), seed: int = 0) -> np.ndarray:
    """``count`` images in [0, 1]: half shipped digits, half uniform noise."""
    from cnnstudio.io.datasets import load_mnist_5k

    rng = np.random.default_rng(seed)
    noise = rng.random((count, *shape), dtype=np.float32)
    if shape != (1, 28, 28):
        return noise
    digits = load_mnist_5k()[1].images[:count // 2]
    return np.concatenate([digits, noise[:count - len(digits)]])
