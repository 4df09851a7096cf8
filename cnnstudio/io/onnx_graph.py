"""The graph of an ONNX model read layer by layer into engine specs and weights (for io/onnx_import.py).

``GraphReader`` walks the nodes in their (execution) order, following the image path from the
input to the output: each node on it must be one the engine computes, in the place the engine
computes it (conv stages, flatten, dense layers, softmax), or it is refused in one line naming
the node.  Nodes off the path only compute a Reshape's target shape (PyTorch writes
``x.view(x.size(0), -1)`` as Shape -> Gather -> Unsqueeze -> Concat -> Reshape): their inputs are
stored constants or a known shape, so they are evaluated here once, the batch axis counting 1.
"""
from __future__ import annotations

import math

import numpy as np

from cnnstudio.engine import ConvSpec, DenseSpec, resolve_padding
from cnnstudio.engine.activations import LEAKY_SLOPE
from cnnstudio.io.model_file import MAX_LAYERS, MAX_PARAMETERS

LAYER_OPS = ("Conv", "Relu", "LeakyRelu", "Tanh", "Sigmoid", "MaxPool", "AveragePool", "GlobalMaxPool",
             "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul", "Add", "Softmax", "LogSoftmax",
             "Identity", "Dropout", "Constant")
SHAPE_OPS = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast")
ACTIVATION_OPS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}
MAX_NODES = 10_000
INT_ATTRIBUTES = {"strides", "pads", "kernel_shape", "dilations", "group", "ceil_mode", "transA", "transB", "axis",
                  "axes", "start", "end", "to", "starts", "ends"}
_FIX_PLAIN = ("Fix: export a plain CNN: Conv, Relu/LeakyRelu/Tanh/Sigmoid, MaxPool/AveragePool, Flatten, "
              "Gemm (or MatMul + Add) and Softmax")


class OnnxFileError(ValueError):
    """An ONNX file that cannot become a Network; one line: the file, what is wrong and a fix."""


def short_text(err) -> str:
    """An exception's message on one line, at most 160 characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= 160 else text[:157] + "..."


class GraphReader:
    """One pass over a graph's nodes (they come in execution order), following the image path."""

    def __init__(self, name: str, model, onnx):
        self.name, self.model, self.onnx = name, model, onnx
        self.graph = model.graph
        self.constants: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}   # image-path tensors: shape without the batch axis
        self.current = ""                               # the image path's newest tensor
        self.layers, self.params = [], []
        self.stage: dict | None = None                  # the conv stage or dense layer being read
        self.flat = False                               # past the flatten: dense layers
        self.ended = False                              # past the softmax

    def refuse(self, what: str, fix: str) -> OnnxFileError:
        return OnnxFileError(f"{self.name}: {what}. Fix: {fix}.")

    # ------------------------------------------------------------------ the whole graph
    def read(self):
        nodes = list(self.graph.node)
        if len(nodes) > MAX_NODES:
            raise self.refuse(f"its graph has {len(nodes):,} nodes, more than {MAX_NODES:,}", "choose a smaller model")
        unsupported = sorted({(n.domain + "." if n.domain not in ("", "ai.onnx") else "") + n.op_type
                              for n in nodes if n.domain not in ("", "ai.onnx")
                              or n.op_type not in LAYER_OPS + SHAPE_OPS})
        if unsupported:
            raise OnnxFileError(f"{self.name} uses operators CNN Studio cannot run: {', '.join(unsupported)}. "
                                f"{_FIX_PLAIN} (supported: {', '.join(LAYER_OPS)}; {', '.join(SHAPE_OPS)} only "
                                f"to compute a Reshape's shape).")
        for tensor in self.graph.initializer:
            self.constants[tensor.name] = self.tensor_array(tensor)
        input_shape = self.read_input()
        for node in nodes:
            self.read_node(node)
        self.close_stage()
        if not self.layers or not isinstance(self.layers[-1], DenseSpec):
            raise self.refuse("it does not end with a dense layer (Gemm or MatMul) that gives the class scores",
                              "end the network with a Linear / Dense layer, then an optional Softmax")
        if self.current not in {output.name for output in self.graph.output}:
            raise self.refuse(f"its output is not the last layer's ({self.current!r})",
                              "export the model with the class scores or probabilities as its only output")
        if len(self.layers) > MAX_LAYERS:
            raise self.refuse(f"it has {len(self.layers)} layers, more than {MAX_LAYERS}", "choose a smaller model")
        return self.layers, self.params, input_shape

    def tensor_array(self, tensor) -> np.ndarray:
        if tensor.data_location == self.onnx.TensorProto.EXTERNAL:
            raise self.refuse(f"its weight {tensor.name!r} is kept in a separate file",
                              "export the model with its weights inside the .onnx file (one file under 2 GB)")
        count = math.prod(tensor.dims)
        if count > MAX_PARAMETERS:
            raise self.refuse(f"its weight {tensor.name!r} declares {count:,} numbers, more than the "
                              f"{MAX_PARAMETERS:,} allowed", "choose a smaller model")
        try:
            return self.onnx.numpy_helper.to_array(tensor)
        except Exception as err:
            raise self.refuse(f"its weight {tensor.name!r} is damaged ({short_text(err)})",
                              "export the model again") from None

    def read_input(self) -> tuple[int, int, int]:
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            raise self.refuse(f"it takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}), not one image",
                              "export a model with one image input (N, C, H, W)")
        value = inputs[0]
        tensor_type = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
        if tensor_type.elem_type != self.onnx.TensorProto.FLOAT:
            raise self.refuse(f"its input {value.name!r} is not float32", "export the model with a float32 input")
        if len(dims) != 4 or None in dims[1:] or min(dims[1:]) < 1:
            shown = "x".join("?" if d is None else str(d) for d in dims)
            raise self.refuse(f"its input {value.name!r} has shape {shown or '(none given)'}, not (N, C, H, W) "
                              f"with fixed C, H and W", "export with a fixed-size example image, e.g. (1, 1, 28, 28)")
        channels, height, width = dims[1:]
        if channels not in (1, 3):
            layout = " (it looks channels-last, N, H, W, C)" if dims[3] in (1, 3) else ""
            raise self.refuse(f"its input has {channels} channels{layout}; CNN Studio reads channels-first images "
                              f"with 1 (gray) or 3 (RGB) channels", "export the model channels-first (N, C, H, W)")
        self.current = value.name
        self.shapes[value.name] = (channels, height, width)
        return channels, height, width

    # ------------------------------------------------------------------ one node
    def read_node(self, node) -> None:
        where = f"{node.op_type} node {node.name or node.output[0]!r}"
        if node.op_type == "Constant":
            self.constants[node.output[0]] = self.constant_value(node, where)
            return
        on_path = [name for name in node.input if name in self.shapes]
        if node.op_type == "Shape" and on_path:  # a shape is known here: it becomes a constant
            self.constants[node.output[0]] = self.fold(node, where)
            return
        if not on_path:
            missing = [n for n in node.input if n and n not in self.constants]
            if missing or node.op_type not in SHAPE_OPS + ("Identity",):
                raise self.refuse(f"{where} computes {missing[0] if missing else 'values'} that are neither the "
                                  f"image path nor stored weights", "export with constant folding on "
                                  "(torch.onnx.export(..., do_constant_folding=True))")
            self.constants[node.output[0]] = self.fold(node, where)
            return
        if on_path != [self.current] or (node.input[0] != self.current and node.op_type != "Add"):
            other = next((name for name in on_path if name != self.current), on_path[0])
            raise self.refuse(f"{where} reads {other!r}, an earlier layer's output: CNN Studio runs one chain of "
                              f"layers, without branches or skip connections", _FIX_PLAIN.removeprefix("Fix: "))
        if self.ended:
            raise self.refuse(f"{where} comes after the softmax", "end the network with its softmax")
        if node.op_type in SHAPE_OPS:
            raise self.refuse(f"{where} changes the image path", _FIX_PLAIN.removeprefix("Fix: "))
        shape = getattr(self, "on_" + node.op_type.lower())(node, where, self.shapes[self.current])
        self.current = node.output[0]
        self.shapes[self.current] = shape

    def constant_value(self, node, where: str) -> np.ndarray:
        helper = self.onnx.helper
        for attribute in node.attribute:
            if attribute.name == "value":
                return self.tensor_array(attribute.t)
            if attribute.name in ("value_float", "value_floats"):
                return np.asarray(helper.get_attribute_value(attribute), dtype=np.float32)
            if attribute.name in ("value_int", "value_ints"):
                return np.asarray(helper.get_attribute_value(attribute), dtype=np.int64)
        raise self.refuse(f"{where} holds no dense tensor", "export the model with its weights as plain tensors")

    def attributes(self, node) -> dict:
        """A node's attributes by name; sizes, strides and flags must be whole numbers."""
        found = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        for name in INT_ATTRIBUTES.intersection(found):
            if not all(isinstance(v, int) for v in np.atleast_1d(found[name]).tolist()):
                raise self.refuse(f"{node.op_type} node {node.name or node.output[0]!r} has {name} = "
                                  f"{found[name]!r}, not whole numbers", "export the model again")
        return found

    def weight(self, node, index: int, where: str, ndim: int | None = None) -> np.ndarray | None:
        """Input ``index`` of ``node`` as a stored float32 array (None if absent)."""
        if len(node.input) <= index or not node.input[index]:
            return None
        name = node.input[index]
        if name not in self.constants:
            raise self.refuse(f"{where} takes its weights from {name!r}, which is not stored in the file",
                              "export with constant folding on")
        array = np.asarray(self.constants[name], dtype=np.float32)
        if ndim is not None and array.ndim != ndim:
            raise self.refuse(f"{where} has weights of shape {array.shape}, not {ndim}-D",
                              "export a standard Conv / Linear layer")
        if not np.isfinite(array).all():
            raise self.refuse(f"{where} has NaN or infinite weights", "train the model again, then export it")
        return array

    # ------------------------------------------------------------------ layers
    def close_stage(self) -> None:
        if self.stage is not None:
            stage = self.stage
            self.layers.append(stage.pop("spec")(**{k: v for k, v in stage.items() if k not in ("w", "b")}))
            self.params += [stage["w"], stage["b"]]
            self.stage = None

    def on_conv(self, node, where, shape):
        if self.flat:
            raise self.refuse(f"{where} comes after the flatten", "put every Conv before the Flatten")
        self.close_stage()
        a = self.attributes(node)
        w = self.weight(node, 1, where, ndim=4)
        filters, channels, kh, kw = w.shape
        C, H, W = shape
        if a.get("group", 1) != 1:
            raise self.refuse(f"{where} is a grouped (or depthwise) convolution, group = {a['group']}",
                              "use ordinary convolutions (groups=1)")
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise self.refuse(f"{where} is dilated ({a['dilations']})", "use dilation 1")
        if kh != kw:
            raise self.refuse(f"{where} has a {kh}x{kw} kernel; CNN Studio's kernels are square",
                              "use square kernels (e.g. 3x3 or 5x5)")
        if channels != C:
            raise self.refuse(f"{where} expects {channels} input channels but gets {C}", "export the model again")
        strides = list(a.get("strides", [1, 1]))
        if len(set(strides)) != 1:
            raise self.refuse(f"{where} moves by {strides} pixels; CNN Studio moves a kernel equally down and "
                              f"across", "use the same stride on both axes")
        stride = strides[0]
        padding = self.conv_padding(a, where, H, W, kh, stride)
        b = self.weight(node, 2, where, ndim=1)
        self.stage = dict(spec=ConvSpec, filters=filters, kernel=kh, stride=stride, padding=padding,
                          activation="none", pool="none", w=w, b=np.zeros(filters, np.float32) if b is None else b)
        return (filters, resolve_padding(H, kh, stride, padding)[0], resolve_padding(W, kh, stride, padding)[0])

    def conv_padding(self, a: dict, where: str, H: int, W: int, K: int, S: int) -> int | str:
        """An int or ``"same"`` for the pads (top, left, bottom, right) of a Conv; refuses any other."""
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        same_h, same_w = resolve_padding(H, K, S, "same")[1], resolve_padding(W, K, S, "same")[1]
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            first = (lambda p: p.before) if auto == "SAME_UPPER" else (lambda p: p.after)
            pads = [first(same_h), first(same_w), same_h.before + same_h.after - first(same_h),
                    same_w.before + same_w.after - first(same_w)]
        elif auto == "VALID":
            pads = [0, 0, 0, 0]
        else:
            pads = list(a.get("pads", [0, 0, 0, 0]))
        top, left, bottom, right = pads
        if top == left == bottom == right:
            return top
        if (top, bottom, left, right) == (same_h.before, same_h.after, same_w.before, same_w.after):
            return "same"
        raise self.refuse(f"{where} pads (top {top}, left {left}, bottom {bottom}, right {right}); CNN Studio "
                          f"pads every side equally, or as 'same' does (any extra zero at the bottom and right)",
                          "use padding=k (all sides) or padding='same'")

    def on_add(self, node, where, shape):
        stage = self.stage
        other = node.input[1] if node.input[0] == self.current else node.input[0]
        bias = np.asarray(self.constants.get(other, np.empty(0)), dtype=np.float32)
        if stage is not None and stage["activation"] == "none" and stage.get("pool", "none") == "none":
            units = len(stage["b"])
            # one value per filter broadcasts over a conv map as (C, 1, 1); per unit over a dense row as (units,)
            per_unit = bias.shape[-3:] in ((units, 1, 1),) if stage["spec"] is ConvSpec else \
                bias.ndim >= 1 and bias.shape[-1] == units
            if (bias.size == 1 or (bias.size == units and per_unit)) and np.isfinite(bias).all():
                stage["b"] = (stage["b"] + bias.reshape(-1)).astype(np.float32)
                return shape
        raise self.refuse(f"{where} adds {other!r}; CNN Studio adds only a layer's own bias (one stored value per "
                          f"filter or unit), right after its Conv, Gemm or MatMul", _FIX_PLAIN.removeprefix("Fix: "))

    def on_relu(self, node, where, shape):
        stage = self.stage
        kind = ACTIVATION_OPS[node.op_type]
        if stage is None or stage["activation"] != "none" or stage.get("pool") == "avg":
            if stage is None:
                after = "the flatten" if self.flat else "the input"
            else:
                after = "average pooling" if stage.get("pool") == "avg" else f"a {stage['activation']} activation"
            raise self.refuse(f"{where} comes right after {after}; CNN Studio has one activation per layer, "
                              f"after its Conv or dense layer and before its pooling",
                              "apply the activation right after each Conv / Linear layer")
        if kind == "leaky_relu":
            alpha = self.attributes(node).get("alpha", 0.01)
            if abs(alpha - LEAKY_SLOPE) > 1e-6:
                raise self.refuse(f"{where} has slope alpha = {alpha:g}; CNN Studio's leaky ReLU has slope "
                                  f"{LEAKY_SLOPE:g}", f"use LeakyReLU(negative_slope={LEAKY_SLOPE:g})")
        stage["activation"] = kind  # after a max pool too: max(f(x)) = f(max(x)) for a rising f
        return shape

    on_leakyrelu = on_tanh = on_sigmoid = on_relu

    def on_maxpool(self, node, where, shape):
        stage = self.stage
        if stage is None or stage["spec"] is not ConvSpec or stage["pool"] != "none":
            raise self.refuse(f"{where} does not follow a Conv; CNN Studio pools once, at the end of a conv stage",
                              "pool once after each Conv (and its activation)")
        C, H, W = shape
        a = self.attributes(node)
        if node.op_type.startswith("Global"):
            if H != W:
                raise self.refuse(f"{where} pools a {H}x{W} map; CNN Studio's pool windows are square",
                                  "make the last maps square")
            size, stride = H, 1
        else:
            kernel, strides = list(a.get("kernel_shape", [0, 0])), list(a.get("strides", [1, 1]))
            auto = a.get("auto_pad", b"NOTSET")
            auto = auto.decode() if isinstance(auto, bytes) else auto
            if kernel[0] != kernel[-1] or len(set(strides)) != 1:
                raise self.refuse(f"{where} has window {kernel} and strides {strides}; CNN Studio's pool windows "
                                  f"are square and move equally down and across", "use e.g. MaxPool2d(2)")
            if any(a.get("pads", [0])) or auto not in ("NOTSET", "VALID") or any(d != 1 for d in
                                                                                 a.get("dilations", [1])):
                raise self.refuse(f"{where} pads or dilates its window; CNN Studio pools without padding",
                                  "use pooling with padding=0 and dilation=1")
            size, stride = kernel[0], strides[0]
            if a.get("ceil_mode", 0) and ((H - size) % stride or (W - size) % stride):
                raise self.refuse(f"{where} rounds its output size up (ceil_mode); CNN Studio rounds down",
                                  "use ceil_mode=False")
        stage.update(pool="max" if "Max" in node.op_type else "avg", pool_size=size, pool_stride=stride)
        out = [(n - size) // stride + 1 if n >= size else 0 for n in (H, W)]
        return (C, *out)

    on_averagepool = on_globalmaxpool = on_globalaveragepool = on_maxpool

    def on_flatten(self, node, where, shape):
        if self.attributes(node).get("axis", 1) != 1:
            raise self.refuse(f"{where} flattens from axis {self.attributes(node)['axis']}, not 1",
                              "flatten everything but the batch axis (torch.flatten(x, 1))")
        return self.flatten(shape)

    def on_reshape(self, node, where, shape):
        target = self.constants.get(node.input[1]) if len(node.input) > 1 else None
        flat = math.prod(shape)
        target = [] if target is None else [int(v) for v in np.asarray(target).reshape(-1)]
        if not (target in ([-1], [flat]) or (len(target) == 2 and target[0] in (-1, 0, 1)
                                              and target[1] in ((flat,) if target[0] == -1 else (-1, flat)))):
            raise self.refuse(f"{where} reshapes to {target or 'a computed shape'}; CNN Studio reshapes only to "
                              f"flatten each image (N, -1)", "flatten with x.view(x.size(0), -1) or nn.Flatten()")
        return self.flatten(shape)

    def flatten(self, shape):
        if not self.flat:
            self.close_stage()
            self.flat = True
        return (math.prod(shape),)

    def on_gemm(self, node, where, shape):
        if not self.flat:
            raise self.refuse(f"{where} comes before any Flatten", "flatten the maps before the first Linear layer")
        self.close_stage()
        a = self.attributes(node)
        w = self.weight(node, 1, where, ndim=2)
        if node.op_type == "Gemm":
            if a.get("transA", 0):
                raise self.refuse(f"{where} transposes its input (transA = 1)", "export a standard Linear layer")
            w = w if a.get("transB", 0) else w.T
            w = w * np.float32(a.get("alpha", 1.0))
        else:
            w = w.T  # MatMul: x @ B with B (inputs, units)
        units, inputs = w.shape
        if inputs != shape[0]:
            raise self.refuse(f"{where} takes {inputs} inputs but gets {shape[0]}", "export the model again")
        b = self.weight(node, 2, where) if node.op_type == "Gemm" else None
        if b is not None and b.size not in (1, units):
            raise self.refuse(f"{where} has {b.size} biases for {units} units", "export a standard Linear layer")
        b = np.zeros(units, np.float32) if b is None else np.broadcast_to(
            b.reshape(-1) * np.float32(a.get("beta", 1.0)), (units,)).astype(np.float32)
        self.stage = dict(spec=DenseSpec, units=units, activation="none", w=np.ascontiguousarray(w), b=b)
        return (units,)

    on_matmul = on_gemm

    def on_softmax(self, node, where, shape):
        if self.stage is None or self.stage["spec"] is not DenseSpec:
            raise self.refuse(f"{where} does not follow a dense layer", "end the network with Linear -> Softmax")
        if self.attributes(node).get("axis", -1) not in (-1, 1):
            raise self.refuse(f"{where} normalises over axis {self.attributes(node)['axis']}, not the classes",
                              "apply softmax over the classes (dim=1)")
        self.ended = True
        return shape

    on_logsoftmax = on_softmax

    def on_identity(self, node, where, shape):  # and Dropout: nothing happens at inference
        return shape

    on_dropout = on_identity

    def fold(self, node, where: str) -> np.ndarray:
        """The value of a shape-arithmetic node whose inputs are all known (the batch axis counting 1)."""
        try:
            return _fold_node(node.op_type, self.attributes(node),
                             [self.constants.get(name) if name else None for name in node.input],
                             self.shapes.get(node.input[0]) if node.input else None, self.onnx)
        except Exception as err:  # a malformed shape computation: say where
            raise self.refuse(f"{where} cannot be evaluated ({short_text(err)})", "export the model again") from None


# ---------------------------------------------------------------- shape arithmetic

def _optional(values: list, index: int):
    return values[index] if len(values) > index else None


def _axes(axes) -> tuple[int, ...]:
    return tuple(int(axis) for axis in np.atleast_1d(axes))


def _fold_node(op: str, attributes: dict, values: list, shape: tuple[int, ...] | None, onnx) -> np.ndarray:
    """The output of one shape-arithmetic node.

    ``values`` are its inputs' arrays (None for an absent one), ``shape`` the (C, H, W) or (F,)
    of its first input when that is an image-path tensor.  Raises ``ValueError`` for another op
    or a malformed node (numpy's own errors pass through: the caller says where).
    """
    a = attributes
    if op == "Shape":
        full = np.array((1,) + tuple(shape), dtype=np.int64)
        return full[a.get("start", 0):a.get("end", len(full))]
    if op == "Identity":
        return values[0]
    if op == "Cast":
        return values[0].astype(onnx.helper.tensor_dtype_to_np_dtype(a["to"]))
    if op == "Gather":
        return np.take(values[0], values[1].astype(np.int64), axis=a.get("axis", 0))
    if op == "Concat":
        return np.concatenate([np.atleast_1d(v) for v in values], axis=a.get("axis", 0))
    axes = a.get("axes", _optional(values, 1))  # an attribute before opset 13, an input since
    if op == "Unsqueeze":
        return np.expand_dims(values[0], _axes(axes))
    if op == "Squeeze":
        return np.squeeze(values[0], None if axes is None else _axes(axes))
    if op == "Slice":
        starts, ends = (a["starts"], a["ends"]) if "starts" in a else (values[1], values[2])
        axes = a.get("axes", _optional(values, 3))
        axes = range(len(starts)) if axes is None else _axes(axes)
        steps = _optional(values, 4)
        steps = [1] * len(starts) if steps is None else steps
        index = [slice(None)] * values[0].ndim
        for axis, start, end, step in zip(axes, starts, ends, steps):
            index[int(axis)] = slice(int(start), int(end), int(step))
        return values[0][tuple(index)]
    raise ValueError(f"{op} is not shape arithmetic")
