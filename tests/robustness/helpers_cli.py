"""Shared pieces of the command-line and Numba-cache fault tests: running ``python -m cnnstudio`` in a
child process, pictures of digits and blank pages, a model whose weights overflow, and file fingerprints.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from cnnstudio.core.canvas import CanvasModel
from cnnstudio.engine import Network, default_layers
from cnnstudio.io import model_file

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300  # a child may have to compile the kernels first (a cold Numba cache takes a minute)


def cli_env(**changes: str | None) -> dict[str, str]:
    """This environment with the repository importable; ``NAME=None`` removes a variable."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_cli(*argv, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m cnnstudio *argv`` to its end; text stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "cnnstudio", *map(str, argv)], cwd=cwd or REPO,
                          env=env or cli_env(), capture_output=True, text=True, timeout=TIMEOUT_S)


def start_cli(*argv, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """``python -m cnnstudio *argv`` started, its stdout and stderr as text pipes."""
    return subprocess.Popen([sys.executable, "-m", "cnnstudio", *map(str, argv)], cwd=cwd or REPO,
                            env=env or cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one_line_error(stderr: str, *fragments: str) -> str:
    """The single ``error: ...`` line of ``stderr`` (no traceback, no warning), holding every fragment."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Fix: " in lines[0], stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, stderr)
    return lines[0]


def no_traceback(stderr: str) -> None:
    for word in ("Traceback", "SystemError", "KeyboardInterrupt", "Warning:", "warnings.warn"):
        assert word not in stderr, stderr


def fingerprint(path: Path) -> str | None:
    """sha256 of the file at ``path`` (None when there is none)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def drawn_digit(digit: int, size: int = 112) -> np.ndarray:
    """A digit drawn with the canvas's brush, light on dark, float in [0, 1] at ``size`` pixels."""
    canvas = CanvasModel(size)
    canvas.stamp_sample_digit(digit)
    return canvas.image


def write_gray(path: Path, gray: np.ndarray) -> Path:
    """Save a gray float picture in [0, 1] (format by the suffix)."""
    Image.fromarray(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def digit_file(path: Path, digit: int = 3) -> Path:
    """A dark-on-light picture of ``digit``, as a phone photo of a drawing would be."""
    return write_gray(path, 1 - drawn_digit(digit))


def huge_weight_network(value: float = 3e38) -> Network:
    """The default network with every weight and bias ``value``: finite float32, but its logits overflow."""
    network = Network(default_layers(), (1, 28, 28), seed=0)
    for params in network.params:
        params[...] = value
    return network


def huge_weight_model(path: Path, value: float = 3e38) -> Path:
    """A model file holding ``huge_weight_network(value)``, written past ``save_model``'s own refusal."""
    saved = getattr(model_file, "MAX_WEIGHT", None)
    model_file.MAX_WEIGHT = float("inf")
    try:
        return model_file.save_model(path, huge_weight_network(value))
    finally:
        if saved is None:
            del model_file.MAX_WEIGHT
        else:
            model_file.MAX_WEIGHT = saved
