"""npz files: saved atomically (the old file or the whole new one, never half written), read within limits.

Saving refuses a target that is not a regular file (a folder, a device such as /dev/null, a
named pipe, a socket), writes through a symbolic link to the file it points at, and removes
the temporary files that earlier interrupted saves of the same file left behind.  Reading
checks each array's declared size (zip entry and npy header) before anything is allocated,
so a small file cannot make CNN Studio allocate gigabytes.
"""
from __future__ import annotations

import errno
import io
import math
import os
import re
import stat
import struct
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

_UMASK_LOCK = threading.Lock()
_stat = os.stat  # NOTE: one name for the target check, so tests can fake a device without touching /dev

STALE_AFTER_SECONDS = 60.0     # a leftover temporary file this old whose writer is gone is removed
_NAME_BYTES = 150              # the target's name in a temporary name is cut here (names are at most 255 bytes)


class SaveError(OSError):
    """A save that cannot happen; ``str(err)`` is one line: the path, what is wrong and a fix."""


# ---------------------------------------------------------------- saving

def save_npz_atomically(path, arrays: dict) -> Path:
    """Write ``arrays`` as a compressed npz to ``path``: a temporary file in the same folder, flushed and
    fsynced, then renamed over the target.  Returns ``path``.

    A symbolic link is followed: the file it points at is replaced and the link stays a link.
    Raises ``SaveError`` (an ``OSError``) for a target that is no regular file or a folder that
    cannot be created; an ``OSError`` while writing is raised again as the same type with a
    one-line message.  On any failure the temporary file is removed and the old file (if any)
    is left as it was.

    The file gets the permissions of the file it replaces, or those of any new file (``0o666`` less the
    umask, as ``open()`` would give), not the owner-only ``0o600`` of a temporary file.
    """
    return save_atomically(path, lambda out: np.savez_compressed(out, **arrays))


def save_bytes_atomically(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` the way ``save_npz_atomically`` writes an archive (exports: PNG, CSV, .npy)."""
    return save_atomically(path, lambda out: out.write(data))


def save_atomically(path, write) -> Path:
    """Call ``write(binary_file)`` on a temporary file beside ``path``'s target, then rename it over the target.

    The one atomic save of the app; see ``save_npz_atomically`` for what it guarantees.
    """
    path = Path(path)
    target = check_save_target(path)
    _make_folder(path, target.parent)
    mode = _mode_for(target)
    _remove_stale_temporaries(target)
    temp_name = None
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f"{_temp_prefix(target.name)}{os.getpid()}.", suffix=".tmp",
                                             dir=target.parent)
        with os.fdopen(handle, "wb") as temp:
            write(temp)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException as err:
        if temp_name is not None:
            Path(temp_name).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, SaveError):
            raise _explained(err, path, target.parent) from None
        raise
    _fsync_folder(target.parent)
    return path


def check_save_target(path) -> Path:
    """The file a save to ``path`` would replace or create (a symbolic link followed); writes nothing.

    Raises ``SaveError`` when something other than a regular file is there (a folder, a device,
    a named pipe, a socket) or the link cannot be followed.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    try:
        mode = _stat(target).st_mode
    except FileNotFoundError:
        return target  # a new file (or a link to one not yet written)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SaveError(f"cannot save to {path}: it is a symbolic link that points back to itself. "
                            f"Fix: remove the link or choose another file name.") from None
        if err.errno == errno.ENOTDIR:
            raise SaveError(f"cannot save to {path}: a part of that path is a file, not a folder. "
                            f"Fix: choose a file in an existing folder.") from None
        return target  # e.g. no permission to look: writing will say what is wrong
    kind = file_kind(mode)
    if kind == "a folder":
        raise SaveError(f"cannot save to {path}: it is a folder, not a file. "
                        f"Fix: choose a file name, e.g. one inside that folder.")
    if kind is not None:
        shown = path if target == path else f"{path} (a link to {target})"
        raise SaveError(f"cannot save to {shown}: it is {kind}, not a file, and saving would replace it. "
                        f"Fix: choose a regular file name to save to.")
    return target


def file_kind(mode: int) -> str | None:
    """What a ``st_mode`` describes, as a phrase ("a folder", "a device", ...), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _make_folder(path: Path, folder: Path) -> None:
    """Create the target's folder (and its parents) if missing; ``SaveError`` saying why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), folder)
        raise SaveError(f"cannot save to {path}: {blocking} is a file, not a folder. "
                        f"Fix: choose a file in an existing folder.") from None
    except OSError as err:
        raise SaveError(f"cannot save to {path}: the folder {folder} does not exist and cannot be created "
                        f"({err.strerror or err}). Fix: choose a folder you may write to.") from None


def _explained(err: OSError, path: Path, folder: Path) -> OSError:
    """``err`` again as its own type, with a one-line message that names the file and a fix."""
    reason = err.strerror or str(err)
    if err.errno in (errno.EACCES, errno.EPERM):
        text = (f"cannot save to {path}: the folder {folder} is not writable ({reason}). "
                f"Fix: choose a folder you may write to, or change its permissions.")
    elif err.errno in (errno.ENOSPC, errno.EDQUOT):
        text = f"cannot save to {path}: the disk is full ({reason}). Fix: free some space or choose another disk."
    elif err.errno == errno.EROFS:
        text = f"cannot save to {path}: the disk is read-only ({reason}). Fix: choose a folder on another disk."
    else:
        text = f"cannot save to {path} ({reason}). Fix: choose another file name or folder."
    try:
        explained = type(err)(text)
    except TypeError:  # an OSError subclass with other arguments
        explained = OSError(text)
    explained.errno = err.errno
    return explained


def _temp_prefix(name: str) -> str:
    """``.NAME.`` with the name cut short enough that a temporary name stays under 255 bytes."""
    return f".{os.fsdecode(os.fsencode(name)[:_NAME_BYTES])}."


def _remove_stale_temporaries(target: Path) -> None:
    """Remove earlier saves' temporary files of ``target`` whose writer is gone and that are over a minute old.

    A temporary file is ``.NAME.<pid>.<random>.tmp``; one whose process still runs is never
    touched, nor one of the current process (another thread may be writing it).  Best effort.
    """
    prefix = _temp_prefix(target.name)
    pattern = re.compile(re.escape(prefix) + r"(?:(\d+)\.)?[A-Za-z0-9_]{6,}\.tmp")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_AFTER_SECONDS:
                continue
            if match.group(1) is None:
                # NOTE: no pid in the name: an older CNN Studio wrote it; no save takes an hour
                if now - info.st_mtime < 3600:
                    continue
            elif not _writer_gone(int(match.group(1))):
                continue
            os.unlink(entry.path)
        except OSError:
            continue


def _writer_gone(pid: int) -> bool:
    """True when no process ``pid`` runs (ours counts as running: another thread may be saving)."""
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # it runs (as another user) or cannot be asked: leave its file alone
    return False


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


# ---------------------------------------------------------------- reading within limits

class NpzLimitError(ValueError):
    """An npz member that is malformed or declares more than allowed; the message is a phrase about the member."""


_NPY_MAGIC = b"\x93NUMPY"
_NPY_HEADER_MAX = 10_000  # numpy's own limit for an npy header


class BoundedNpz:
    """An npz archive read one array at a time, each array's declared size checked before it is read.

    Use as a context manager.  ``names`` are the arrays' names (``.npy`` left out, as
    ``numpy.load`` does).  Raises ``zipfile.BadZipFile``/``OSError`` for an unreadable archive
    and ``NpzLimitError`` for a member that is malformed or too large.
    """

    def __init__(self, path, max_members: int = 256):
        self._zip = zipfile.ZipFile(path)
        try:
            infos = self._zip.infolist()
            if len(infos) > max_members:
                raise NpzLimitError(f"it holds {len(infos):,} arrays, more than the {max_members} allowed")
            self._infos = {info.filename.removesuffix(".npy"): info for info in infos}
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> BoundedNpz:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    @property
    def names(self) -> list[str]:
        return list(self._infos)

    def declared(self, name: str) -> tuple[tuple[int, ...], np.dtype]:
        """The (shape, dtype) array ``name``'s npy header declares; nothing of the data is read."""
        with self._zip.open(self._checked_info(name)) as member:
            shape, _, dtype = _npy_header(member, name)
        return shape, dtype

    def read(self, name: str, max_bytes: int) -> np.ndarray:
        """Array ``name`` (read-only), after checking that it declares at most ``max_bytes`` of data."""
        info = self._checked_info(name)
        if info.file_size > max_bytes + _NPY_HEADER_MAX + 16:
            raise NpzLimitError(f"its array {name!r} declares {info.file_size:,} bytes, more than the "
                                f"{max_bytes:,} allowed")
        with self._zip.open(info) as member:
            shape, fortran, dtype = _npy_header(member, name)
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > max_bytes:
                raise NpzLimitError(f"its array {name!r} declares shape {shape} of {dtype} ({nbytes:,} bytes), "
                                    f"more than the {max_bytes:,} allowed")
            data = member.read(nbytes)  # zipfile stops at the declared size: a zip bomb fails its CRC check
            if len(data) != nbytes or member.read(1):
                raise NpzLimitError(f"its array {name!r} does not hold the {nbytes:,} bytes its header declares")
        return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")

    def _checked_info(self, name: str) -> zipfile.ZipInfo:
        info = self._infos[name]
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise NpzLimitError(f"its array {name!r} is compressed with a method numpy never uses")
        return info


def _npy_header(stream, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from an npy stream positioned at its start; ``NpzLimitError`` if malformed."""
    magic = stream.read(len(_NPY_MAGIC) + 2)
    if len(magic) != len(_NPY_MAGIC) + 2 or not magic.startswith(_NPY_MAGIC):
        raise NpzLimitError(f"its member {name!r} is not a NumPy array")
    version = (magic[-2], magic[-1])
    if version not in ((1, 0), (2, 0)):
        raise NpzLimitError(f"its array {name!r} has npy format version {version[0]}.{version[1]}, which is "
                            f"not read here")
    length_format = "<H" if version == (1, 0) else "<I"
    length_bytes = stream.read(struct.calcsize(length_format))
    if len(length_bytes) != struct.calcsize(length_format):
        raise NpzLimitError(f"its array {name!r} ends inside its header")
    (length,) = struct.unpack(length_format, length_bytes)
    if length > _NPY_HEADER_MAX:
        raise NpzLimitError(f"its array {name!r} declares a {length:,}-byte header, more than {_NPY_HEADER_MAX:,}")
    text = stream.read(length)
    if len(text) != length:
        raise NpzLimitError(f"its array {name!r} ends inside its header")
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        shape, fortran, dtype = reader(io.BytesIO(length_bytes + text))
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as err:
        raise NpzLimitError(f"its array {name!r} has a malformed header ({err})") from None
    if dtype.hasobject:
        raise NpzLimitError(f"its array {name!r} holds Python objects, which are never loaded")
    if len(shape) > 32 or any(size < 0 for size in shape):
        raise NpzLimitError(f"its array {name!r} declares an impossible shape {shape}")
    return tuple(shape), bool(fortran), dtype


def read_npy_shape(path) -> tuple[tuple[int, ...], np.dtype] | None:
    """The (shape, dtype) a lone ``.npy`` file declares, or None if ``path`` is no npy file; reads only its header."""
    try:
        with open(path, "rb") as handle:
            shape, _, dtype = _npy_header(handle, Path(path).name)
    except (OSError, NpzLimitError):
        return None
    return shape, dtype
