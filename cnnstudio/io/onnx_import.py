"""Read an ONNX model of a plain CNN (as ``torch.onnx.export``, tf2onnx or CNN Studio write it) as a Network.

What can be read is what the engine computes: conv stages (Conv -> activation -> pool)
on a channels-first (N, C, H, W) float input with C 1 or 3 and H, W fixed, then a flatten,
dense layers and softmax:

- Conv: weights from initializers or Constant nodes, bias optional (or a following Add of one
  value per channel), group 1, dilation 1, square kernels, equal strides; pads on every side
  equal (an int padding) or as ``"same"`` lays them out (the extra zero bottom/right);
- Relu, LeakyRelu (slope ``LEAKY_SLOPE`` only), Tanh, Sigmoid, after a Conv or a dense layer
  (after a MaxPool too: max pooling and a rising activation commute);
- MaxPool, AveragePool (square, no padding), GlobalMaxPool/GlobalAveragePool on square maps;
- Flatten, or Reshape to (N, -1) (also computed from Shape/Gather/Unsqueeze/Concat nodes, as
  ``x.view(x.size(0), -1)`` exports), before the first dense layer;
- Gemm (transA 0, transB 0 or 1; alpha and beta folded into the weights) or MatMul + Add;
- Softmax, LogSoftmax or nothing at the end (the engine always ends with a softmax);
- Identity and Dropout (identity at inference) are skipped.

Anything else is refused with one ``ValueError`` (``OnnxFileError``) that names the file,
what cannot be expressed (every unsupported operator type at once) and a fix; the structure
is finally checked by ``validate_layers``.  The file's size and each tensor's declared size are
checked before anything is read or allocated.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from cnnstudio.engine import Network
from cnnstudio.io.atomic import file_kind
from cnnstudio.io.class_names import check_class_names
from cnnstudio.io.model_file import MAX_PARAMETERS
from cnnstudio.io.onnx_export import NEEDS_ONNX
from cnnstudio.io.onnx_graph import LAYER_OPS, SHAPE_OPS, GraphReader, OnnxFileError, short_text  # noqa: F401

MAX_FILE_BYTES = 4 * MAX_PARAMETERS + (16 << 20)   # the weights as float32, and room for the graph


def import_onnx(path) -> tuple[Network, list[str] | None]:
    """The network an ONNX file describes, with its weights, and its class names (None if it has none).

    Raises ``OnnxFileError`` (a ``ValueError``) for a missing, corrupt or foreign file, an
    unsupported graph, or a missing ``onnx`` package; nothing else is changed.
    """
    path = Path(path)
    name = path.name
    try:
        import onnx
    except ImportError:
        raise OnnxFileError(f"cannot read {name}: ONNX files need the onnx package, which is not installed. "
                            f"{NEEDS_ONNX}") from None
    model = onnx.ModelProto()
    try:
        model.ParseFromString(_read_file(path))
    except OnnxFileError:
        raise
    except Exception as err:  # protobuf's DecodeError and friends: a foreign or damaged file
        raise OnnxFileError(f"{name} is not an ONNX model ({type(err).__name__}: {short_text(err)}). Fix: choose a "
                            f".onnx file written by PyTorch, Keras (tf2onnx) or CNN Studio.") from None
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxFileError(f"{name} is not an ONNX model: it holds no graph of layers. Fix: choose a .onnx "
                            f"file written by PyTorch, Keras (tf2onnx) or CNN Studio.")
    try:
        layers, params, input_shape = GraphReader(name, model, onnx).read()
    except OnnxFileError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError) as err:
        # NOTE: a field of the wrong type or count (a float stride, a 3-number pads): damaged, said in one line
        raise OnnxFileError(f"{name} is damaged: a node has malformed attributes or inputs ({type(err).__name__}: "
                            f"{short_text(err)}). Fix: export the model again.") from None
    try:
        network = Network(layers, input_shape)
    except ValueError as err:
        raise OnnxFileError(f"{name}: CNN Studio cannot build this network: {err}") from None
    network.set_state(params)
    return network, _class_names(model, network.num_classes)


def _read_file(path: Path) -> bytes:
    name = path.name
    try:
        info = os.stat(path)
        kind = file_kind(info.st_mode)
        if kind is not None:  # a pipe would block the reader for ever, a device never ends
            raise OnnxFileError(f"{path} is {kind}, not a file. Fix: choose a .onnx file.")
        if info.st_size > MAX_FILE_BYTES:
            raise OnnxFileError(f"{name} is {info.st_size:,} bytes, more than the {MAX_FILE_BYTES:,} a network "
                                f"CNN Studio can show may take. Fix: choose a smaller model.")
        with open(path, "rb") as handle:
            # NOTE: read(n) allocates n bytes first: ask for what the file holds, not for the limit
            data = handle.read(min(info.st_size, MAX_FILE_BYTES) + 1)
        if len(data) > MAX_FILE_BYTES:  # it grew while we looked
            raise OnnxFileError(f"{name} is larger than the {MAX_FILE_BYTES:,} bytes a network CNN Studio can show "
                                f"may take. Fix: choose a smaller model.")
        return data
    except FileNotFoundError:
        raise OnnxFileError(f"{path} does not exist. Fix: check the file name and folder.") from None
    except OSError as err:
        raise OnnxFileError(f"cannot read {path} ({err.strerror or err}). Fix: check that you may read "
                            f"it.") from None


def _class_names(model, classes: int) -> list[str] | None:
    """The ``class_names`` metadata (a JSON list of one short name per class), or None when absent or unusable."""
    for prop in model.metadata_props:
        if prop.key == "class_names":
            try:
                return list(check_class_names(json.loads(prop.value), classes))
            except (ValueError, RecursionError):  # a damaged name list costs the names, not the network
                return None
    return None
