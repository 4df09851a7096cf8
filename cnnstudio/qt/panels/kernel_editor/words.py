"""How the kernel editor writes a weight and its gradient: in a cell, in the readout and in tooltips."""
from __future__ import annotations

import math

UP, DOWN = "\u25b2", "\u25bc"  # the push glyphs, as the readout writes them


def format_value(value: float) -> str:
    """A weight as printed in its cell: two decimals, a true minus sign."""
    text = f"{value:.2f}"
    if text in ("-0.00",):
        text = "0.00"
    return text.replace("-", "\u2212")


def push_words(gradient: float, short: bool = False) -> str:
    """A weight's gradient and which way the update pushes the weight: in words, or ``short`` (glyph and number)."""
    if not math.isfinite(gradient) or gradient == 0:
        return f"gradient {gradient:g}" + ("" if short else ": training leaves it as it is")
    number = f"{gradient:+.2g}".replace("-", "\u2212")
    glyph = UP if gradient < 0 else DOWN
    if short:
        return f"{glyph} gradient {number}"
    return f"gradient {number}: training pushes it {'up' if gradient < 0 else 'down'} {glyph}"
