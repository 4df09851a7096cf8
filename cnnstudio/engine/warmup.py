"""Compile (or load from the disk cache) every kernel the app runs, once, on a tiny network.

Numba compiles a kernel on its first call: with a cold cache the first training step of a
fresh install takes tens of seconds, and a window closed meanwhile waits for the compile.
``bootstrap.sh`` calls ``warm_kernels()`` once after installing, so the app and its first
training run find every kernel compiled; the test suite warms the same way.

Kernels are specialised on dtypes and ranks, not sizes, so an 8x8 input compiles what the
app later runs at 28x28; a batch of 4 takes the parallel path and one image the serial one.
"""
from __future__ import annotations

import time

import numpy as np

from .colorize import colorize_maps
from .network import Network
from .optim import SGD, Adam


def warm_kernels() -> float:
    """Run every kernel once; returns the seconds it took (compiling or loading from the cache)."""
    start = time.perf_counter()
    network = Network(input_shape=(1, 8, 8))
    images = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    _, grads, _ = network.loss_and_grads(images, np.arange(4) % network.num_classes)
    Adam().step(network.params, grads)
    SGD(lr=0.01).step(network.params, grads)
    network.forward(images)
    trace = network.forward_maps(images[0])
    maps = np.ascontiguousarray(trace.stages[0].conv, dtype=np.float32)
    levels = np.tile(np.array([[-1.0, 1.0]], np.float32), (len(maps), 1))
    lut = np.zeros((256, 4), np.uint8)
    out = np.zeros((maps.shape[1] * len(maps), maps.shape[2], 4), np.uint8)
    colorize_maps(maps, levels, lut, out, (maps.shape[1], maps.shape[2]))
    return time.perf_counter() - start


if __name__ == "__main__":
    print(f"cnnstudio: engine kernels ready in {warm_kernels():.1f} s")
