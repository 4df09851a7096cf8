"""Argument checks of the public engine functions, run before any Numba kernel.

Numba does not check bounds: five biases for two filters, or a gradient of
another shape, would make a kernel read or write past an array's end.  So every
public function checks ndim, shapes and lengths first and refuses a bad call
with a ``ValueError`` that names the function, the argument, the shape seen and
the one expected, and a fix.  Calls between engine modules go to the private
kernels directly and are not checked twice.

Arrays a function only reads are converted (``float32_array``: a C-contiguous
float32 array, copied only when needed); arrays it writes in place must already
be right (``writable``), since a converted copy would take the writes.
"""
from __future__ import annotations

import numpy as np


def refuse(where: str, problem: str, fix: str):
    """Raise the engine's ValueError: '<where>: <problem>. Fix: <fix>.'"""
    raise ValueError(f"{where}: {problem}. Fix: {fix}.")


def float32_array(value, name: str, where: str) -> np.ndarray:
    """``value`` as a C-contiguous float32 array (the same array when it already is one)."""
    try:
        return np.ascontiguousarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        refuse(where, f"{name} cannot be read as an array of numbers (got {type(value).__name__})",
               f"pass {name} as a NumPy array of floats")


def integer_array(value, name: str, where: str) -> np.ndarray:
    """``value`` as a C-contiguous int64 array; refuses floats, which would be truncated silently."""
    array = np.asarray(value)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        refuse(where, f"{name} has dtype {array.dtype}, expected integers",
               f"pass {name} as integers, e.g. {name}.astype(np.int64)")
    return np.ascontiguousarray(array, dtype=np.int64)


def expect_ndim(array: np.ndarray, ndim: int, name: str, where: str, layout: str, fix: str) -> None:
    """Refuse ``array`` unless it has ``ndim`` axes; ``layout`` names them, e.g. '(N, C, H, W)'."""
    if array.ndim != ndim:
        refuse(where, f"{name} has shape {array.shape} ({array.ndim} axes), expected {ndim} axes {layout}", fix)


def expect_shape(array: np.ndarray, expected: tuple, name: str, where: str, fix: str) -> None:
    """Refuse ``array`` unless its shape is ``expected``."""
    if array.shape != tuple(expected):
        refuse(where, f"{name} has shape {array.shape}, expected {tuple(expected)}", fix)


def whole_number(value, name: str, where: str, low: int = 1, fix: str | None = None) -> int:
    """``value`` as an int; refuses bools, fractions and values below ``low``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        refuse(where, f"{name} = {value!r} must be an integer >= {low}", fix or f"pass an integer {name} >= {low}")
    return int(value)


def writable(array, name: str, where: str) -> np.ndarray:
    """Refuse an array that is updated in place unless it is a writable, C-contiguous float32 ndarray."""
    if isinstance(array, np.ndarray) and array.dtype == np.float32 and array.flags.c_contiguous \
            and array.flags.writeable:
        return array
    if not isinstance(array, np.ndarray):
        seen = f"has type {type(array).__name__}"
    elif array.dtype != np.float32:
        seen = f"has dtype {array.dtype}"
    else:
        seen = "is " + ("a strided view" if not array.flags.c_contiguous else "read-only")
    refuse(where, f"{name} {seen}, but it is updated in place and must be a writable, C-contiguous float32 array",
           f"keep {name} as np.ascontiguousarray({name}, dtype=np.float32) and pass that same array every time")


def array_shape(value, name: str, where: str, length: int | None = None,
                fix: str = "pass the array's .shape") -> tuple[int, ...]:
    """A shape argument (such as ``x_shape``) as a tuple of non-negative ints, ``length`` of them if given."""
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if shape is None or (length is not None and len(shape) != length) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in shape):
        count = f"{length} " if length is not None else ""
        refuse(where, f"{name} = {value!r} must be a tuple of {count}non-negative integers", fix)
    return tuple(int(v) for v in shape)
