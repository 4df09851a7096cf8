"""Class names: what each output of a network means ("0".."9" for digits, "T-shirt/top".. for Fashion-MNIST).

Qt-free.  A data set's class names travel with its ``Digits`` and end up with the network
(the playground, the model file).  Names can come from a text file, one name per line
(``classes.txt`` or a ``*.names`` file, as YOLO/darknet write them): ``read_class_names``
checks it and ``find_class_names_file`` picks one lying beside an IDX images file.
"""
from __future__ import annotations

import os
from pathlib import Path

from cnnstudio.io.atomic import file_kind

DIGIT_NAMES = tuple(str(digit) for digit in range(10))
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MAX_CLASS_NAME_CHARS = 40            # a name is a label on a bar and an axis, not a sentence
MAX_CLASS_NAMES_BYTES = 64 * 1024    # far more than ten names need; a bigger file is not a names file
# looked for, in this order, in the folder of an IDX images file; then any single *.names file
CLASS_NAMES_FILES = ("classes.txt", "class_names.txt", "classes.names")


class ClassNamesError(ValueError):
    """A class-names file cannot be used; the message says why and how to fix it, in one line."""


def digit_names(count: int = 10) -> tuple[str, ...]:
    """"0", "1", ... for ``count`` classes: the names of a network that has none of its own."""
    return tuple(str(k) for k in range(count))


def check_class_names(names, count: int) -> tuple[str, ...]:
    """``names`` as a tuple of ``count`` distinct, non-empty, one-line strings of at most 40 characters.

    Raises ``ValueError`` with a phrase completing "the class names ...", e.g. "are 3, not 10".
    """
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise ValueError(f"are {type(names).__name__}, not a list of {count} names")
    if len(names) != count:
        raise ValueError(f"are {len(names)}, not {count} (one per class)")
    for index, name in enumerate(names):
        if not isinstance(name, str):
            raise ValueError(f"hold {type(name).__name__} {_short(name)} (class {index}), not text")
        if not name.strip():
            raise ValueError(f"hold an empty name for class {index}")
        if len(name) > MAX_CLASS_NAME_CHARS:
            raise ValueError(f"hold a name of {len(name)} characters for class {index}, more than "
                             f"{MAX_CLASS_NAME_CHARS}")
        if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in name):
            raise ValueError(f"hold a control character (tab, newline, ...) in the name of class {index}")
    seen = {}
    for index, name in enumerate(names):
        if name in seen:
            raise ValueError(f"name classes {seen[name]} and {index} both {name!r}")
        seen[name] = index
    return tuple(names)


def read_class_names(path, count: int = 10) -> tuple[str, ...]:
    """The ``count`` class names in a UTF-8 text file, one per line (blank lines at the ends are ignored).

    Raises ``ClassNamesError`` (one line: what is wrong, the fix) for a missing, special, binary,
    oversized or malformed file.
    """
    path = Path(path)
    name = path.name
    fix = f"Fix: write {count} class names, one per line, in the order of the labels 0..{count - 1}."
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is None:  # never opened when a pipe or device: reading it could wait or run for ever
            with open(path, "rb") as handle:
                data = handle.read(MAX_CLASS_NAMES_BYTES + 1)
    except FileNotFoundError:
        raise ClassNamesError(f"{name} does not exist ({path}). Fix: check the file name and folder.") from None
    except OSError as err:
        raise ClassNamesError(f"{name} cannot be read ({err.strerror or err}). "
                              f"Fix: check that you may read it.") from None
    if kind is not None:
        raise ClassNamesError(f"{name} is {kind}, not a text file. {fix}")
    if len(data) > MAX_CLASS_NAMES_BYTES:
        raise ClassNamesError(f"{name} is larger than {MAX_CLASS_NAMES_BYTES // 1024} KB, too large for a list "
                              f"of class names. {fix}")
    if b"\0" in data:
        raise ClassNamesError(f"{name} is a binary file, not text. {fix}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ClassNamesError(f"{name} is not UTF-8 text (byte {err.start + 1} cannot be read). "
                              f"Fix: save it as UTF-8.") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        raise ClassNamesError(f"{name} is empty. {fix}")
    blank = next((k for k, line in enumerate(lines, start=1) if not line), None)
    if blank is not None:
        raise ClassNamesError(f"{name} has an empty line (line {blank}) among its class names. {fix}")
    try:
        return check_class_names(lines, count)
    except ValueError as err:
        raise ClassNamesError(f"the class names in {name} {err}. {fix}") from None


def find_class_names_file(images_path) -> Path | None:
    """A class-names file beside an IDX images file (``classes.txt``, ..., or the only ``*.names``), or None."""
    folder = Path(images_path).parent
    for candidate in CLASS_NAMES_FILES:
        if (folder / candidate).is_file():
            return folder / candidate
    try:
        names_files = sorted(p for p in folder.glob("*.names") if p.is_file())
    except OSError:
        return None
    return names_files[0] if len(names_files) == 1 else None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."
