"""Our Numba engine against PyTorch on the CPU, side by side in one run.

    .venv/bin/python benchmarks/bench_engine.py [--quick]

Prints medians and ratios (PyTorch time / ours: > 1 means we are faster) for
(a) the live path: one image through the default network, every map returned;
(b) conv2d forward and backward of each conv layer;
(c) training throughput (forward, cross-entropy, backward, Adam) at batch 32 and 128;
(d) one full MNIST training epoch: 60,000 28x28 images (resources/digits/mnist_full.npz, or
    random images of that shape if it is missing), default network, batch 32, Adam; the epoch
    is run in ten slices, alternating ours and PyTorch, so load on a shared machine hits both alike.
Both use the same number of threads.  PyTorch is optional (`pip install torch`);
without it only our figures are printed.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402

from cnnstudio.engine import Adam, Network, conv2d_backward, conv2d_forward, default_layers  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the app never needs PyTorch; this script only compares against it
    torch = None


def timed(fn, repeats: int, inner: int) -> list[float]:
    """Seconds per call of ``fn``: ``repeats`` samples, each the mean of ``inner`` calls."""
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner)
    return samples


def side_by_side(ours, theirs, repeats, inner):
    """Alternate the two in rounds so load on a shared machine hits both alike; return medians."""
    a, b = [], []
    for _ in range(repeats):
        a += timed(ours, 1, inner)
        if theirs is not None:
            b += timed(theirs, 1, inner)
    return statistics.median(a), (statistics.median(b) if b else None)


def row(name, ours, theirs, unit="us", scale=1e6):
    if theirs is None:
        print(f"{name:<44} {ours * scale:>10.1f} {unit}")
    else:
        print(f"{name:<44} {ours * scale:>10.1f} {unit} {theirs * scale:>10.1f} {unit} {theirs / ours:>8.2f}x")


MNIST_FULL = Path(__file__).resolve().parents[1] / "resources" / "digits" / "mnist_full.npz"


def epoch_images(count: int, rng) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``count`` MNIST training images (N, 1, 28, 28) float32 in [0, 1] and labels, and their source."""
    if MNIST_FULL.exists():
        with np.load(MNIST_FULL, allow_pickle=False) as npz:
            images, labels = npz["train_images"][:count], npz["train_labels"][:count]
        return (images.astype(np.float32) / np.float32(255))[:, None], labels.astype(np.int64), "MNIST"
    return (rng.random((count, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, count),
            "random images (mnist_full.npz missing)")


def epoch_row(count: int, rng, slices: int = 10) -> None:
    """(d): one epoch of ``count`` images, batch 32, Adam, ours and PyTorch alternating slice by slice."""
    x, labels, source = epoch_images(count, rng)
    order = np.random.default_rng(1).permutation(len(x))
    batches = [order[s:s + 32] for s in range(0, len(x), 32)]
    net, optimizer = Network(default_layers(), seed=0), Adam(lr=1e-3)

    def ours(part):
        for rows in part:
            _, grads, _ = net.loss_and_grads(x[rows], labels[rows])
            optimizer.step(net.params, grads)

    theirs = None
    if torch is not None:
        params = [p.clone().requires_grad_() for p in torch_network(net)]
        torch_optimizer = torch.optim.Adam(params, lr=1e-3)
        tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

        def theirs(part):
            w0, b0, w1, b1, w2, b2 = params
            for rows in part:
                rows = torch.from_numpy(rows)
                h = F.max_pool2d(F.relu(F.conv2d(tx[rows], w0, b0, padding=1)), 2)
                h = F.max_pool2d(F.relu(F.conv2d(h, w1, b1, padding=1)), 2)
                loss = F.cross_entropy(F.linear(h.flatten(1), w2, b2), ty[rows])
                torch_optimizer.zero_grad()
                loss.backward()
                torch_optimizer.step()
    ours(batches[:2])  # warm up both outside the clock
    if theirs is not None:
        theirs(batches[:2])
    t_ours = t_theirs = 0.0
    step = -(-len(batches) // slices)
    for first in range(0, len(batches), step):
        part = batches[first:first + step]
        start = time.perf_counter()
        ours(part)
        t_ours += time.perf_counter() - start
        if theirs is not None:
            start = time.perf_counter()
            theirs(part)
            t_theirs += time.perf_counter() - start
    print()
    row(f"(d) one epoch, {count:,} {source}, batch 32, Adam", t_ours, t_theirs if theirs else None, "s ", 1)


def torch_network(net: Network):
    """The same architecture and weights as ``net`` (the default layer list) in PyTorch."""
    w0, b0, w1, b1, w2, b2 = (torch.from_numpy(p.copy()) for p in net.params)
    return [w0, b0, w1, b1, w2, b2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and a tenth of the epoch (a smoke run)")
    parser.add_argument("--epoch-images", type=int, default=None,
                        help="images in the (d) epoch row (default 60,000; 6,000 with --quick; 0 skips it)")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15

    threads = numba.get_num_threads()
    print(f"CNN Studio engine benchmark, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, numba {numba.__version__}, "
          f"threading layer threads {threads}")
    if torch is not None:
        torch.set_num_threads(threads)
        print(f"PyTorch {torch.__version__} with {torch.get_num_threads()} threads")
    else:
        print("PyTorch is not installed: printing our figures only")
    print()
    print(f"{'':<44} {'ours':>13} {'PyTorch':>13} {'ratio':>9}")

    rng = np.random.default_rng(0)
    net = Network(seed=0)
    image = rng.random((1, 28, 28), dtype=np.float32)

    # (a) the live path
    ours = lambda: net.forward_maps(image)  # noqa: E731
    theirs = None
    if torch is not None:
        w0, b0, w1, b1, w2, b2 = torch_network(net)

        def theirs():
            with torch.inference_mode():
                x = torch.from_numpy(image)[None]
                c1 = F.conv2d(x, w0, b0, padding=1)
                a1 = F.relu(c1)
                p1 = F.max_pool2d(a1, 2)
                c2 = F.conv2d(p1, w1, b1, padding=1)
                a2 = F.relu(c2)
                p2 = F.max_pool2d(a2, 2)
                flat = p2.flatten(1)
                logits = F.linear(flat, w2, b2)
                return c1, a1, p1, c2, a2, p2, flat, logits, F.softmax(logits, 1)
    a_ours, a_theirs = side_by_side(ours, theirs, repeats, 400)
    row("(a) one image, all maps (live path)", a_ours, a_theirs)
    if torch is not None:
        # The same forward written as an app usually writes it: nn.Modules, each output kept.
        model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                    torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                    torch.nn.Flatten(), torch.nn.Linear(784, 10), torch.nn.Softmax(1))

        def theirs_modules():
            with torch.no_grad():
                maps, h = [], torch.from_numpy(image)[None]
                for layer in model:
                    h = layer(h)
                    maps.append(h)
                return maps
        m_ours, m_theirs = side_by_side(ours, theirs_modules, repeats, 400)
        row("(a) the same, PyTorch as nn.Modules", m_ours, m_theirs)

    # (b) conv2d per layer
    for name, (ci, co, size) in {"conv 1 (1->8, 28x28)": (1, 8, 28), "conv 2 (8->16, 14x14)": (8, 16, 14)}.items():
        for batch in (1, 32):
            x = rng.random((batch, ci, size, size), dtype=np.float32)
            w = rng.standard_normal((co, ci, 3, 3), dtype=np.float32)
            b = rng.standard_normal(co, dtype=np.float32)
            gy = rng.standard_normal((batch, co, size, size), dtype=np.float32)
            inner = 200 if batch == 1 else 20
            theirs_f = theirs_b = None
            if torch is not None:
                tx, tw, tb, tgy = map(torch.from_numpy, (x, w, b, gy))

                def theirs_f():
                    with torch.inference_mode():
                        return F.conv2d(tx, tw, tb, padding=1)

                def theirs_b():
                    return torch.ops.aten.convolution_backward(tgy, tx, tw, [co], [1, 1], [1, 1], [1, 1], False,
                                                               [0, 0], 1, [True, True, True])
            f_ours, f_theirs = side_by_side(lambda: conv2d_forward(x, w, b, 1, 1), theirs_f, repeats, inner)
            row(f"(b) {name} forward, batch {batch}", f_ours, f_theirs)
            b_ours, b_theirs = side_by_side(lambda: conv2d_backward(x, w, gy, 1, 1), theirs_b, repeats, inner)
            row(f"(b) {name} backward, batch {batch}", b_ours, b_theirs)

    # (c) training throughput
    print()
    print(f"{'training samples/s (higher is better)':<44} {'ours':>13} {'PyTorch':>13} {'ratio':>9}")
    for batch in (32, 128):
        x = rng.random((batch, 1, 28, 28), dtype=np.float32)
        labels = rng.integers(0, 10, batch)
        train_net = Network(seed=0)
        optimizer = Adam(lr=1e-3)

        def ours():
            _, grads, _ = train_net.loss_and_grads(x, labels)
            optimizer.step(train_net.params, grads)

        theirs = None
        if torch is not None:
            params = [p.requires_grad_() for p in torch_network(train_net)]
            torch_optimizer = torch.optim.Adam(params, lr=1e-3)
            tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

            def theirs():
                w0, b0, w1, b1, w2, b2 = params
                h = F.max_pool2d(F.relu(F.conv2d(tx, w0, b0, padding=1)), 2)
                h = F.max_pool2d(F.relu(F.conv2d(h, w1, b1, padding=1)), 2)
                loss = F.cross_entropy(F.linear(h.flatten(1), w2, b2), ty)
                torch_optimizer.zero_grad()
                loss.backward()
                torch_optimizer.step()
        t_ours, t_theirs = side_by_side(ours, theirs, repeats, 5)
        if t_theirs is None:
            print(f"(c) batch {batch:<38} {batch / t_ours:>10.0f} /s")
        else:
            print(f"(c) batch {batch:<38} {batch / t_ours:>10.0f} /s {batch / t_theirs:>10.0f} /s "
                  f"{t_theirs / t_ours:>8.2f}x")
    count = args.epoch_images if args.epoch_images is not None else (6000 if args.quick else 60000)
    if count > 0:
        epoch_row(count, rng)
    print()
    print("ratio = PyTorch time / our time: above 1 means our engine is faster.")


if __name__ == "__main__":
    main()
