"""Time to train the default network to 96% test accuracy on the shipped MNIST 5k, ours against PyTorch.

    .venv/bin/python benchmarks/bench_train.py [--target 0.96] [--epochs 15] [--repeats 3]

Trains the default network (conv 8 3x3 -> pool -> conv 16 3x3 -> pool -> dense 10) from
scratch on the 4,000 training digits with Adam 2e-3, batch 32, random shifts of up to 2 px,
testing on the 1,000 test digits after every epoch, until the test accuracy reaches the
target (or the epoch budget runs out).  Prints the time to the target, the training speed
and the accuracy curve.

If PyTorch is installed, the same network is trained side by side in the same run with the
same number of threads, the SAME initial weights and the SAME batches (same shuffles, same
shifts), so both follow nearly the same path and the ratio measures speed alone.  Runs
alternate (ours, PyTorch, ours, ...) so load on a shared machine hits both alike; medians
are reported.  PyTorch is never needed by the app.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba  # noqa: E402

from cnnstudio.engine import Network, default_layers  # noqa: E402
from cnnstudio.io.datasets import Digits, load_mnist_5k  # noqa: E402
from cnnstudio.training import Trainer, TrainingSettings, evaluate, shift_each  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the app never needs PyTorch; this script only compares against it
    torch = None

SETTINGS = TrainingSettings(optimizer="adam", learning_rate=2e-3, batch_size=32, epochs=15, shift_augment=2, seed=0)
NETWORK_SEED = 0


class Run:
    """One training run: accuracy after each epoch and the clock at each epoch end."""

    def __init__(self, name: str):
        self.name = name
        self.accuracy: list[float] = []
        self.elapsed: list[float] = []       # seconds since the start, at each epoch end (tests included)
        self.train_seconds = 0.0             # seconds spent in training steps only
        self.samples = 0
        self.cpu_seconds = 0.0

    def time_to(self, target: float) -> tuple[float, int] | None:
        for epoch, (accuracy, seconds) in enumerate(zip(self.accuracy, self.elapsed), start=1):
            if accuracy >= target:
                return seconds, epoch
        return None

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.train_seconds if self.train_seconds else math.nan


# ---------------------------------------------------------------- ours

def train_ours(train: Digits, test: Digits, settings: TrainingSettings, target: float) -> Run:
    run = Run("ours")
    network = Network(default_layers(), (1, 28, 28), seed=NETWORK_SEED)
    trainer = Trainer(network, train, test, settings, eval_every=10**9)  # test at epoch ends only
    start, cpu_start = time.perf_counter(), time.process_time()
    steps = trainer.train_steps()
    while True:
        step_start = time.perf_counter()
        progress = next(steps, None)
        if progress is None:
            break
        if progress.test_fresh:  # the step included the test: count only the training part (approximately)
            run.accuracy.append(progress.test_accuracy)
            run.elapsed.append(time.perf_counter() - start)
            if progress.test_accuracy >= target:
                run.train_seconds += time.perf_counter() - step_start
                run.samples = progress.samples_seen
                break
        run.train_seconds += time.perf_counter() - step_start
        run.samples = progress.samples_seen
    run.cpu_seconds = time.process_time() - cpu_start
    # the epoch-end steps above included a test pass; take it out of the training time
    run.train_seconds -= len(run.accuracy) * _time_ours_test(network, test)
    return run


def _time_ours_test(network: Network, test: Digits) -> float:
    start = time.perf_counter()
    evaluate(network, test)
    return time.perf_counter() - start


# ---------------------------------------------------------------- PyTorch

def batches(n: int, settings: TrainingSettings):
    """The (rows, shifts) of every step, drawn exactly as ``Trainer.train_steps`` draws them."""
    rng = np.random.default_rng(settings.seed)
    for _ in range(settings.epochs):
        order = rng.permutation(n)
        epoch = []
        for first in range(0, n, settings.batch_size):
            rows = order[first:first + settings.batch_size]
            shifts = rng.integers(-settings.shift_augment, settings.shift_augment + 1, (len(rows), 2)) \
                if settings.shift_augment else None
            epoch.append((rows, shifts))
        yield epoch


def train_torch(train: Digits, test: Digits, settings: TrainingSettings, target: float) -> Run:
    run = Run("PyTorch")
    ours = Network(default_layers(), (1, 28, 28), seed=NETWORK_SEED)  # the same initial weights
    params = [torch.tensor(p, requires_grad=True) for p in ours.params]
    w0, b0, w1, b1, w2, b2 = params
    (c0, c1) = ours.conv_specs

    def forward(x):
        x = F.max_pool2d(F.relu(F.conv2d(x, w0, b0, padding=c0.padding)), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, w1, b1, padding=c1.padding)), 2)
        return F.linear(x.flatten(1), w2, b2)

    optimizer = torch.optim.Adam(params, lr=settings.learning_rate, eps=1e-8)
    test_x, test_y = torch.from_numpy(test.images), torch.from_numpy(test.labels)
    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in batches(len(train), settings):
        step_start = time.perf_counter()
        for rows, shifts in epoch:
            images = train.images[rows]
            if shifts is not None:
                images = shift_each(images, shifts)
            loss = F.cross_entropy(forward(torch.from_numpy(images)), torch.from_numpy(train.labels[rows]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            run.samples += len(rows)
        run.train_seconds += time.perf_counter() - step_start
        with torch.no_grad():
            accuracy = int((forward(test_x).argmax(1) == test_y).sum()) / len(test)  # exact, like ours
        run.accuracy.append(accuracy)
        run.elapsed.append(time.perf_counter() - start)
        if accuracy >= target:
            break
    run.cpu_seconds = time.process_time() - cpu_start
    return run


# ---------------------------------------------------------------- report

def warm_up(train: Digits, test: Digits) -> None:
    """Load (or compile) the kernels and let PyTorch allocate, outside the timings."""
    few = Digits(train.images[:256], train.labels[:256])
    quick = TrainingSettings(epochs=1, shift_augment=2, seed=1)
    Trainer(Network(seed=1), few, test, quick).run()
    if torch is not None:
        train_torch(few, test, quick, 2.0)


def describe(runs: list[Run], target: float) -> str:
    reached = [r.time_to(target) for r in runs]
    if not all(reached):
        return f"did not reach {target:.0%} within the budget in {sum(not r for r in reached)} of {len(runs)} runs"
    seconds = statistics.median(r[0] for r in reached)
    epochs = sorted({r[1] for r in reached})
    return (f"{seconds:6.2f} s to {target:.0%} (epoch {'/'.join(map(str, epochs))}), "
            f"{statistics.median(r.samples_per_second for r in runs):8,.0f} samples/s training, "
            f"CPU {statistics.median(r.cpu_seconds for r in runs):.2f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.96, help="test accuracy to reach (default 0.96)")
    parser.add_argument("--epochs", type=int, default=SETTINGS.epochs, help="epoch budget (default 15)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating (default 3)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    args = parser.parse_args(argv)
    settings = TrainingSettings(**{**SETTINGS.to_dict(), "epochs": args.epochs})
    use_torch = torch is not None and not args.no_torch
    threads = numba.get_num_threads()
    if use_torch:
        torch.set_num_threads(threads)

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numba {numba.__version__} ({threads} threads), "
          + (f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)" if use_torch else "no PyTorch"))
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"settings: {settings.optimizer} lr {settings.learning_rate:g}, batch {settings.batch_size}, shifts "
          f"+-{settings.shift_augment} px, seed {settings.seed}, network seed {NETWORK_SEED}; target "
          f"{args.target:.0%} within {settings.epochs} epochs, {args.repeats} runs each\n")
    train, test = load_mnist_5k()
    warm_up(train, test)

    ours_runs, torch_runs = [], []
    for _ in range(args.repeats):
        ours_runs.append(train_ours(train, test, settings, args.target))
        if use_torch:
            torch_runs.append(train_torch(train, test, settings, args.target))

    print("test accuracy after each epoch (first run):")
    print(f"  ours    {' '.join(f'{a:.1%}' for a in ours_runs[0].accuracy)}")
    if use_torch:
        print(f"  PyTorch {' '.join(f'{a:.1%}' for a in torch_runs[0].accuracy)}")
    print()
    print(f"ours     {describe(ours_runs, args.target)}")
    if use_torch:
        print(f"PyTorch  {describe(torch_runs, args.target)}")
        ours_t = [r.time_to(args.target) for r in ours_runs]
        torch_t = [r.time_to(args.target) for r in torch_runs]
        if all(ours_t) and all(torch_t):
            ratio = statistics.median(t[0] for t in torch_t) / statistics.median(t[0] for t in ours_t)
            speed = (statistics.median(r.samples_per_second for r in ours_runs)
                     / statistics.median(r.samples_per_second for r in torch_runs))
            print(f"\ntime to {args.target:.0%}: PyTorch / ours = {ratio:.2f}  (> 1: ours is faster); "
                  f"training speed ours / PyTorch = {speed:.2f}")
    best = [r.time_to(args.target) for r in ours_runs]
    if all(best):
        seconds = statistics.median(b[0] for b in best)
        print(f"target: ours <= 30 s -> {'met' if seconds <= 30 else 'MISSED'} ({seconds:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
