"""The words of the layer settings: layer names, validator messages split into reason and fix, the summary."""
from __future__ import annotations

import re

from cnnstudio.engine.shapes import ConvSpec


def layer_name(network, index: int) -> str:
    """'conv 2' or 'dense 1': the name a learner sees for layer ``index``."""
    spec = network.layers[index]
    kind = "conv" if isinstance(spec, ConvSpec) else "dense"
    number = sum(1 for s in network.layers[:index + 1] if type(s) is type(spec))
    return f"{kind} {number}"


def join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def split_reason_fix(message: str, where: str | None = None) -> tuple[str, str]:
    """Split a validator message into (reason, fix); drop the 'layer 1 (conv 1): ' prefix when it is ``where``."""
    reason, _, fix = message.partition(" Fix: ")
    prefix = re.match(r"layer \d+ \((conv|dense) \d+\): ", reason)
    if prefix and where is not None and prefix.group(0)[:-2].endswith(f"({where})"):
        reason = reason[prefix.end():]
    return reason[:1].upper() + reason[1:], fix


def merge_axis_warnings(warnings) -> list[str]:
    """One warning instead of two when the height and the width have the same problem (square maps)."""
    def as_width(text: str) -> str:
        return text.replace("height", "width").replace("row(s)", "column(s)")

    merged: list[str] = []
    for text in warnings:
        if "width" in text and any(as_width(m) == text for m in warnings if "height" in m):
            continue
        if "height" in text and as_width(text) in warnings:
            text = text.replace("height", "height and width").replace("row(s)", "rows and columns")
        merged.append(text)
    return merged


def network_summary(network) -> str:
    """The dense layers and the trainable numbers of every layer, as rich text."""
    lines = []
    for k, spec in enumerate(network.layers):
        if isinstance(spec, ConvSpec):
            continue
        report = network.reports[k]
        inputs = network.weight(k).shape[1]
        last = k == len(network.layers) - 1
        dropout = f", dropout {spec.dropout:g}" if spec.dropout else ""
        lines.append(f"<b>{layer_name(network, k).capitalize()}</b>&nbsp;&nbsp;{shape_text(report.input_shape)} "
                     f"= {inputs} numbers \u2192 {spec.units}{', then softmax' if last else ''}{dropout}")
    lines.append("Add, remove or reorder layers in the <b>Architecture</b> tab.")
    counts = network.weight_counts()
    parts = " \u00b7 ".join(f"{layer_name(network, k)} {n:,}" for k, n in enumerate(counts))
    lines.append(f"Trainable numbers: {parts} \u00b7 <b>total {sum(counts):,}</b>")
    return "<br>".join(lines)


def shape_text(shape) -> str:
    return "\u00d7".join(str(v) for v in shape)


def stage_output(stage) -> tuple[int, int, int]:
    """(F, H, W) a conv stage hands on: its pooled maps, or its activations when it does not pool."""
    if stage.pool == "none":
        return stage.filters, stage.height, stage.width
    return stage.filters, stage.pooled_height, stage.pooled_width


def image_mode_note(network, input_shape) -> str:
    """'' on the network's own input; else a sentence that the dense layers only run on their input size."""
    input_shape = tuple(input_shape)
    if input_shape == tuple(network.input_shape):
        return ""
    return (f"<b>Image mode</b>: the conv layers run on the {shape_text(input_shape)} image, so the shapes "
            f"above are its shapes. The dense layers and the prediction only run on a "
            f"{shape_text(network.input_shape)} input (the digit canvas).")
