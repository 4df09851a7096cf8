"""Atomic saves: a file is either the old one or the whole new one, never half written."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def save_npz_atomically(path, arrays: dict) -> Path:
    """Write ``arrays`` as a compressed npz to ``path``: a temporary file in the same folder, flushed and
    fsynced, then renamed over ``path``.  On any failure the temporary file is removed and the old file
    (if any) is left as it was.  Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            np.savez_compressed(temp, **arrays)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be opened."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
