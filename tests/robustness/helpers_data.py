"""Shared helpers of the robustness suite: bad files built byte by byte, snapshots of the user's
files, and the memory and window helpers of the soak tests.

Imported as ``helpers_data`` from ``tests/robustness`` (pytest puts the folder on ``sys.path``)
and as ``robustness.helpers_data`` from elsewhere under ``tests/``.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np

# -- snapshots: a refused file must be left exactly as it was


def file_state(path: str | Path) -> tuple:
    """What a check of "left untouched" compares: the kind of file, its mode, and its bytes' hash."""
    info = os.lstat(path)
    digest = None
    if stat.S_ISREG(info.st_mode):
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_size, digest


# -- IDX files (MNIST's format), byte by byte

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_header(type_code: int, shape) -> bytes:
    """Magic ``0x0000TTDD`` then one big-endian uint32 per dimension (any sizes, even absurd ones)."""
    return bytes([0, 0, type_code, len(shape)]) + b"".join(int(n).to_bytes(4, "big") for n in shape)


def idx_bytes(array: np.ndarray, type_code: int | None = None) -> bytes:
    """A well-formed IDX file's content for ``array``: header, then its values big-endian."""
    array = np.asarray(array)
    code = IDX_CODES[array.dtype.type] if type_code is None else type_code
    return idx_header(code, array.shape) + array.astype(array.dtype.newbyteorder(">")).tobytes()


# -- PNG files, byte by byte (for what Pillow will not write)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None) -> bytes:
    """A PNG file: IHDR, one IDAT holding ``rows`` (each with its filter byte), IEND.

    ``rows=None`` writes a header that promises the pixels and a few bytes instead of them.
    """
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    pixels = zlib.compress(rows if rows is not None else b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b"")


# -- soak: resident memory and the real window


def resident_mb() -> float:
    """This process's resident memory (VmRSS) in MB, from Linux ``/proc``."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # the value is in kB
    raise RuntimeError("no VmRSS line in /proc/self/status")


def back_to_the_event_loop() -> None:
    """Do what the running app's event loop does once a command returns: deliver the posted events
    (the window's flush, repaints) and delete the widgets given to ``deleteLater``.

    NOTE: a test drives the window with no ``exec()`` running, and ``processEvents`` alone never
    deletes those widgets there: a view that rebuilds its buttons would seem to leak them.
    """
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def settled_memory_mb() -> float:
    """Resident memory once garbage and pending Qt events (deleteLater, repaints) are dealt with."""
    gc.collect()
    back_to_the_event_loop()
    return resident_mb()


@contextlib.contextmanager
def shown_main_window():
    """The real ``MainWindow``, shown (offscreen unless a display is asked for), closed afterwards."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from cnnstudio.qt import MainWindow

    QApplication.instance() or QApplication([])
    window = MainWindow()
    window.show()
    QApplication.processEvents()
    try:
        yield window
    finally:
        window.close()
        window.deleteLater()
        QApplication.processEvents()
