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
It is under $NUMBA_CACHE_DIR if set, else the user's cache folder (the package
folder may be read-only).

How many threads the parallel kernels use is decided per calling thread, see threads.py.
"""
import hashlib
import os
import tempfile
from pathlib import Path

import numba

FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


def _cache_dir() -> str:
    sources = sorted(Path(__file__).parent.glob("*.py"))
    digest = hashlib.sha1(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()[:16]
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cnnstudio", "numba")
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        base = os.path.join(tempfile.gettempdir(), "cnnstudio-numba")
    return os.path.join(base, f"engine-{digest}")


numba.config.CACHE_DIR = _cache_dir()

kernel = numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
parallel_kernel = numba.njit(cache=True, nogil=True, fastmath=FASTMATH, parallel=True)
prange = numba.prange
