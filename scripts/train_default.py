"""Train the pretrained model that ships with CNN Studio: resources/models/default.cnnmodel.

Run by a developer, never by the app:

    .venv/bin/python scripts/train_default.py           # train, evaluate, write the file
    .venv/bin/python scripts/train_default.py --check   # train twice: the weights and files must be identical

The default network (1x28x28 -> conv 8 3x3 -> ReLU -> max pool -> conv 16 3x3 -> ReLU ->
max pool -> dense 10) is trained with our own engine on the 60,000 MNIST training digits
(resources/digits/mnist_full.npz) and tested on the 10,000 MNIST test digits.  Everything is seeded (initial weights, shuffling,
shifts) and the engine sums per-image gradients in a fixed order, so a rerun on the same
machine gives the same weights bit for bit (other CPUs may differ in the last bits), and, as
numpy writes zip entries with a fixed date, the same file byte for byte.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnstudio.engine import Network, default_layers  # noqa: E402
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model, save_model  # noqa: E402
from cnnstudio.training import Trainer, TrainingSettings, evaluate, make_dataset  # noqa: E402

NETWORK_SEED = 0
SETTINGS = TrainingSettings(optimizer="adam", learning_rate=2e-3, batch_size=32, epochs=4, weight_decay=0.0,
                            shift_augment=2, seed=0, data="mnist-full")


def train_once(settings: TrainingSettings, verbose: bool = True) -> tuple[Network, Trainer, float]:
    train, test = make_dataset(settings)
    network = Network(default_layers(), (1, 28, 28), seed=NETWORK_SEED)
    trainer = Trainer(network, train, test, settings)
    start = time.perf_counter()
    for progress in trainer.train_steps():
        if progress.message and verbose:
            print(f"  {progress.message}", flush=True)
        if progress.diverged:
            raise SystemExit("training diverged; pick other settings")
    return network, trainer, time.perf_counter() - start


def write_model(path, network: Network, trainer: Trainer, test_accuracy: float, settings: TrainingSettings) -> Path:
    """Save a trained network with what is known about its training, as the shipped file holds it."""
    return save_model(path, network, settings=settings.to_dict(), history=trainer.history, test_accuracy=test_accuracy)


def same_twice(network: Network, trainer: Trainer, test_accuracy: float, settings: TrainingSettings) -> bool:
    """Train a second time and compare: the weights array by array, then the two written files byte for byte."""
    again, again_trainer, _ = train_once(settings, verbose=False)
    same_weights = all(np.array_equal(a, b) for a, b in zip(network.params, again.params))
    print(f"second run: weights {fingerprint(again)} -> {'identical' if same_weights else 'DIFFERENT'}")
    _, test = make_dataset(settings)
    with tempfile.TemporaryDirectory() as folder:
        first = write_model(Path(folder) / "first.cnnmodel", network, trainer, test_accuracy, settings)
        second = write_model(Path(folder) / "second.cnnmodel", again, again_trainer,
                             evaluate(again, test).accuracy, settings)
        first_bytes, second_bytes = first.read_bytes(), second.read_bytes()
    same_files = first_bytes == second_bytes
    print(f"second run: file {hashlib.sha256(second_bytes).hexdigest()[:16]} ({len(second_bytes):,} bytes) -> "
          f"{'identical' if same_files else 'DIFFERENT'} to the first "
          f"({hashlib.sha256(first_bytes).hexdigest()[:16]}, {len(first_bytes):,} bytes)")
    return same_weights and same_files


def fingerprint(network: Network) -> str:
    digest = hashlib.sha256()
    for p in network.params:
        digest.update(np.ascontiguousarray(p).tobytes())
    return digest.hexdigest()[:16]


def main(argv=None, settings: TrainingSettings = SETTINGS) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--check", action="store_true",
                        help="train twice and compare the weights and the written files byte for byte; "
                             "write nothing unless both match")
    args = parser.parse_args(argv)

    print(f"settings: {settings}  (network seed {NETWORK_SEED})")
    network, trainer, seconds = train_once(settings)
    _, test = make_dataset(settings)
    result = evaluate(network, test)
    print(f"trained in {seconds:.1f} s; test accuracy {result.accuracy:.2%} (loss {result.loss:.4f}) "
          f"on {len(test)} digits; weights {fingerprint(network)}")
    if args.check and not same_twice(network, trainer, result.accuracy, settings):
        return 1
    path = write_model(args.out, network, trainer, result.accuracy, settings)
    loaded = load_model(path)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.network.params, network.params))
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
