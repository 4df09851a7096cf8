"""Shared test setup: Hypothesis profiles and a one-off warm-up of the engine's Numba kernels.

Nothing Qt-related lives here (``tests/qt`` has its own conftest).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Shared helpers (reference.py, drawings.py) import as top-level modules from every test folder.
sys.path.insert(0, str(Path(__file__).parent))

# Under NUMBA_DISABLE_JIT=1 every kernel runs as plain Python (so coverage sees
# the kernel bodies); the same tests then run with fewer random examples.
JIT_DISABLED = os.environ.get("NUMBA_DISABLE_JIT") == "1"

# NOTE: deadline=None because the first call of a kernel may compile it (seconds).
# HYPOTHESIS_PROFILE=thorough runs many more examples, for a search before a release.
for name, examples in (("jit", 80), ("nojit", 40), ("thorough", 1000)):
    settings.register_profile(name, max_examples=examples, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "nojit" if JIT_DISABLED else "jit"))


@pytest.fixture(scope="session", autouse=True)
def warm_engine_kernels():
    """Compile (or load from the on-disk cache) the kernels once, as bootstrap.sh does (engine/warmup.py)."""
    from cnnstudio.engine.warmup import warm_kernels

    warm_kernels()
