"""Atomic saves: a file is either the old one or the whole new one, never half written."""
from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import numpy as np

_UMASK_LOCK = threading.Lock()


def save_npz_atomically(path, arrays: dict) -> Path:
    """Write ``arrays`` as a compressed npz to ``path``: a temporary file in the same folder, flushed and
    fsynced, then renamed over ``path``.  On any failure the temporary file is removed and the old file
    (if any) is left as it was.  Returns the path written.

    The file gets the permissions of the file it replaces, or those of any new file (``0o666`` less the
    umask, as ``open()`` would give), not the owner-only ``0o600`` of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as temp:
            np.savez_compressed(temp, **arrays)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _mode_for(path: Path) -> int:
    """The permission bits ``path`` should have once written: its own if it exists, else a new file's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    NOTE: POSIX has no call that only reads the umask: ``os.umask`` sets it and returns the old
    one.  Linux shows it in ``/proc/self/status``, so that is read first.  Elsewhere it is set to
    ``0o077`` and put back at once; a file another thread creates in that instant gets the stricter
    mask (never a looser one), and the lock keeps our own readers from racing each other.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


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
