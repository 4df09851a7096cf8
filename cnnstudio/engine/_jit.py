"""The one place where the engine's Numba flags live.

Every kernel of the engine is compiled with ``kernel`` (serial) or
``parallel_kernel`` (batch-parallel with ``prange``).  Both release the GIL so a
worker thread can train while the GUI thread keeps drawing, and both are cached
on disk so only the first launch pays for compilation.

``fastmath`` is limited to flags that let LLVM reorder and fuse float
reductions (``reassoc``, ``contract``, plus ``nsz`` and ``arcp``, which only
touch the sign of zero and division by reciprocal).  ``nnan``/``ninf`` are
left out: NaN and inf must propagate, since the trainer relies on them to
detect a diverging run.

NOTE: Numba's disk cache checks only the timestamp of the file that defines a
kernel, not of the kernels it calls in other files, so an edit to conv.py
would leave network.py's fused kernels stale.  The cache therefore lives in a
folder named after a hash of all engine sources: any edit starts a fresh cache.

NOTE: Numba reads its cache with pickle, so whoever may write to the cache
folder may run code in every process that loads a kernel.  The cache therefore
lives only in a private folder (``cache_folder_problem`` says what that means):
$NUMBA_CACHE_DIR if set and private, else the user's cache folder, else a folder
of the user's own in the temporary folder; each folder we create is made mode
0700.  When none is private, kernels are compiled anew in every process (a log
warning says why once).  Folders refused are never read.

How many threads the parallel kernels use is decided per calling thread, see threads.py.
"""
import hashlib
import logging
import os
import stat
import tempfile
from pathlib import Path

import numba

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
CACHE_SUBFOLDER = os.path.join("cnnstudio", "numba")  # inside the user's cache folder

_log = logging.getLogger(__name__)
_UID = os.getuid() if hasattr(os, "getuid") else None  # None: no POSIX owners (Windows)


def cache_folder_problem(path) -> str | None:
    """Why the folder ``path`` may not hold compiled kernels, or None when it may.

    It must be a real folder (not a symbolic link), owned by the current user and
    not writable by the group or others.  Every folder above it must be owned by
    the user or by root, and not writable by others unless sticky (as /tmp is), so
    no one else can swap it for another.  Without POSIX owners (Windows) only the
    first rule applies.
    """
    try:
        info = os.lstat(path)
    except OSError as err:
        return f"cannot be examined ({err.strerror or err})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if _UID is None:
        return None
    if info.st_uid != _UID:
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"other users may write to it (mode {stat.S_IMODE(info.st_mode):o})"
    return _unsafe_above(os.path.dirname(os.path.realpath(path)))


def _unsafe_above(folder: str) -> str | None:
    """Why another user could replace what is inside ``folder`` (or inside a folder above it), or None."""
    if _UID is None:
        return None
    while True:
        try:
            info = os.stat(folder)
        except OSError as err:
            return f"cannot be examined ({folder}: {err.strerror or err})"
        if info.st_uid not in (_UID, 0):
            return f"is inside {folder}, which belongs to another user (uid {info.st_uid})"
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            return f"is inside {folder}, which anyone may write to"
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def private_folder(path) -> str | None:
    """Create ``path`` if missing (it and each missing folder above it with mode 0700); why it is unsafe, or None."""
    path = os.path.abspath(path)
    missing = []
    folder = path
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    if missing:
        problem = _unsafe_above(os.path.realpath(folder))  # never create anything where others could meddle
        if problem is not None:
            return problem
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:  # made by someone else meanwhile: the checks below decide
            continue
        except OSError as err:
            return f"cannot be created ({err.strerror or err})"
        os.chmod(folder, 0o700)  # the umask may have taken the owner's bits
    return cache_folder_problem(path)


def engine_digest() -> str:
    """A hash of every engine source: names the cache folder, so any edit starts a fresh cache."""
    sources = sorted(Path(__file__).parent.glob("*.py"))
    return hashlib.sha1(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()[:16]


def choose_cache_dir(environ=None) -> tuple[str | None, list[str]]:
    """The folder for this engine's compiled kernels (None: no disk cache), and why each folder was refused.

    Tried in order: $NUMBA_CACHE_DIR, $XDG_CACHE_HOME (else ~/.cache)/cnnstudio/numba, and
    cnnstudio-numba-<uid> in the temporary folder; the first that is private (after creating
    what is missing) wins.  ``environ`` defaults to ``os.environ``.
    """
    environ = os.environ if environ is None else environ
    user_cache = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"),
                                                               ".cache")
    temporary = environ.get("TMPDIR") or tempfile.gettempdir()
    bases = [environ.get("NUMBA_CACHE_DIR"), os.path.join(user_cache, CACHE_SUBFOLDER),
             os.path.join(temporary, f"cnnstudio-numba-{'user' if _UID is None else _UID}")]
    refused = []
    digest = engine_digest()
    for base in filter(None, bases):
        for folder in (base, os.path.join(base, f"engine-{digest}")):
            problem = private_folder(folder)
            if problem is not None:
                refused.append(f"{folder}: {problem}")
                break
        else:
            return folder, refused
    return None, refused


def _cache_dir() -> str | None:
    folder, refused = choose_cache_dir()
    for why in refused:
        # a folder that cannot be created (a read-only home) is routine; one that exists but is not private is not
        (_log.warning if "cannot be created" not in why or folder is None else _log.info)(
            "CNN Studio does not cache compiled kernels in %s. Fix: remove that folder, or set NUMBA_CACHE_DIR "
            "to a folder of your own.", why)
    if folder is None:
        _log.warning("CNN Studio found no private folder for its compiled kernels: they are compiled anew at "
                     "every start.")
    return folder


CACHE_DIR = _cache_dir()
CACHE = CACHE_DIR is not None
# Numba took $NUMBA_CACHE_DIR as it was; without a private folder no kernel of ours is cached anyway.
numba.config.CACHE_DIR = CACHE_DIR or ""

kernel = numba.njit(cache=CACHE, nogil=True, fastmath=FASTMATH)
parallel_kernel = numba.njit(cache=CACHE, nogil=True, fastmath=FASTMATH, parallel=True)
prange = numba.prange
