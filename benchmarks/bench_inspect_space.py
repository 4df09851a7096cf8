"""The digit space: features of 1,000 test digits, their PCA, and placing the drawing.

Run: .venv/bin/python benchmarks/bench_inspect_space.py  (one engine thread, as the view's worker uses)

Prints medians (and the best) in milliseconds.  The features and the PCA run in the view's worker
thread (too long for a frame); placing the drawing runs on the GUI thread on every stroke.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cnnstudio.engine import last_hidden_features, set_engine_threads  # noqa: E402
from cnnstudio.inspection.digit_space import digit_space, fit_pca, pick_digits  # noqa: E402
from cnnstudio.io.datasets import load_mnist_5k  # noqa: E402
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model  # noqa: E402


def median_ms(run, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    set_engine_threads(1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; one engine thread")
    network = load_model(DEFAULT_MODEL_PATH).network
    test = load_mnist_5k()[1]
    images = np.ascontiguousarray(test.images[pick_digits(test.labels)])
    last_hidden_features(network, images[:8])  # compile / warm
    med, best = median_ms(lambda: last_hidden_features(network, images), 7)
    features = last_hidden_features(network, images)
    print(f"features of {len(images):,} digits ({features.shape[1]} numbers each): median {med:.0f} ms, "
          f"best {best:.0f} ms")
    med, best = median_ms(lambda: fit_pca(features), 7)
    print(f"PCA, first fit (two axes): median {med:.0f} ms, best {best:.0f} ms")
    previous = fit_pca(features)
    moved = network.copy()
    moved.params[0] += np.random.default_rng(0).normal(0, 0.01, moved.params[0].shape).astype(np.float32)
    nearby = last_hidden_features(moved, images)
    med, best = median_ms(lambda: fit_pca(nearby, previous), 7)
    print(f"PCA after a small weight change, warm-started from the previous axes: median {med:.0f} ms, "
          f"best {best:.0f} ms")
    med, best = median_ms(lambda: digit_space(network, images), 5)
    print(f"a whole new picture (features + PCA + points, the worker's job): median {med:.0f} ms, "
          f"best {best:.0f} ms")
    space = digit_space(network, images)
    trace = network.forward_maps(images[0])
    med, best = median_ms(lambda: space.pca.project(trace.flat), 200)
    print(f"placing the drawing (one projection of the trace's vector, per stroke): median {med * 1000:.0f} us, "
          f"best {best * 1000:.0f} us")
    med, best = median_ms(lambda: space.place(network, images[0]), 50)
    print(f"placing an image from scratch (its forward pass + projection): median {med:.2f} ms, best {best:.2f} ms")


if __name__ == "__main__":
    main()
