"""Headless commands: ``python -m cnnstudio train ...``, ``predict ...`` and ``export ...``.

    python -m cnnstudio train [--data mnist|mnist-full|fashion|idx|mine|mix]
                              [--idx-images F --idx-labels F [--class-names F]]
                              [--epochs N] [--batch-size B] [--lr X] [--optimizer adam|sgd]
                              [--shift N] [--seed S] [--limit N] [--out FILE]
    python -m cnnstudio predict [--model FILE] [--json] [--no-framing] IMAGE...
    python -m cnnstudio export --onnx FILE [--model FILE]

``train`` trains the default network with a progress bar on stderr and saves a
``.cnnmodel`` file; ``predict`` prints the class and the ten probabilities of each
image (by name when the model has class names, e.g. Fashion-MNIST's), prepared as
the drawing canvas prepares a loaded picture (grayscale, dark
ink on light paper inverted to MNIST's light on dark, fitted to 28x28, MNIST
framing unless ``--no-framing``).  ``export`` writes the shipped model (or ``--model``)
as an ONNX file.  ``--model`` takes a ``.cnnmodel`` or an ``.onnx`` file (io/onnx_import.py).

Every error ends the command with a one-line message on stderr and a non-zero
exit code, never a traceback (see ``EXIT_CODES``).  Ctrl+C stops ``train`` between two
steps and ``predict`` between two images: "interrupted ..." on stderr, exit code 130,
nothing half-written; a second Ctrl+C quits at once.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

EXIT_ERROR, EXIT_USAGE, EXIT_BLANK, EXIT_INTERRUPTED = 1, 2, 3, 130
EXIT_CODES = f"""exit codes:
  0    done
  {EXIT_ERROR}    a file or the data is wrong (the message says which and how to fix it)
  {EXIT_USAGE}    the command line is wrong
  {EXIT_BLANK}    predict: an image is blank (nothing drawn), so it gets no prediction
  {EXIT_INTERRUPTED}  interrupted (Ctrl+C); train then saves nothing and leaves --out as it was"""
# Ink must differ from the paper by this much (0..1) to count as drawn: the MNIST framing's ink threshold.
INK_CONTRAST = 0.05


class CommandError(Exception):
    """Ends a command: the message is printed as one line on stderr."""

    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line instead of the usage block and exit."""

    def error(self, message):
        raise CommandError(f"{self.prog}: {message} (see {self.prog} --help)", EXIT_USAGE)


class CtrlC:
    """While active, Ctrl+C (SIGINT) asks the command to stop at its next safe point instead of raising.

    NOTE: a ``KeyboardInterrupt`` raised as a Numba nogil/parallel kernel returns becomes
    "SystemError: ... returned a result with an exception set"; so the first Ctrl+C only sets
    ``pressed``, which the commands check between training steps and between images.  A second
    Ctrl+C quits at once (exit 130) with ``note`` (what that leaves behind) on stderr.  Only
    the main thread can take signals; elsewhere, or when SIGINT is ignored, this does nothing.
    """

    def __init__(self, note: str = "nothing saved"):
        self.pressed = False
        self.note = note
        self._previous = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._press)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _press(self, signum, frame) -> None:
        if self.pressed:
            # os.write, not print: the interrupted code may be in the middle of writing to sys.stderr
            os.write(2, f"\ninterrupted again: stopped at once ({self.note})\n".encode())
            os._exit(EXIT_INTERRUPTED)
        self.pressed = True


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnstudio", description="CNN Studio without the window.", epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train the default network and save it",
                                description="Train the default network (8 and 16 3x3 filters) and save it.\n"
                                            "Ctrl+C stops it between two steps and saves nothing.",
                                epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--data", choices=("mnist", "mnist-full", "fashion", "idx", "mine", "mix"), default="mnist",
                       help="mnist: the shipped 5,000 digits; mnist-full: all 70,000 (60,000 to train); fashion: "
                            "Fashion-MNIST (apt-get install dataset-fashion-mnist); idx: --idx-images/--idx-labels "
                            "(1/6 held out for testing); mine: your drawings; mix: MNIST + your drawings "
                            "(default: mnist)")
    train.add_argument("--idx-images", type=Path, metavar="FILE", help="IDX images file (raw or .gz)")
    train.add_argument("--idx-labels", type=Path, metavar="FILE", help="IDX labels file (raw or .gz)")
    train.add_argument("--class-names", type=Path, metavar="FILE",
                       help="--data idx: the class names, one per line (default: a classes.txt or *.names file "
                            "beside --idx-images, else 0..9)")
    train.add_argument("--epochs", type=int, default=5, help="passes over the training digits (default: 5)")
    train.add_argument("--batch-size", type=int, default=32, help="images per step (default: 32)")
    train.add_argument("--lr", type=float, default=None,
                       help="learning rate (default: 0.002 for adam, 0.05 for sgd)")
    train.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    train.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default: 0.9)")
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--shift", type=int, default=2, metavar="N",
                       help="move each training image by up to N pixels at random, 0 = off (default: 2)")
    train.add_argument("--seed", type=int, default=0, help="seeds initial weights, shuffling and shifts")
    train.add_argument("--limit", type=int, default=None, metavar="N",
                       help="train on a random N of the training digits (quick trials)")
    train.add_argument("--out", type=Path, default=Path("model.cnnmodel"),
                       help="the model file to write (default: model.cnnmodel)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    predict = commands.add_parser(
        "predict", help="classify image files", epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the class and the ten probabilities of each image.\n\nA blank image (one shade all "
                    "over, or marks too faint or too small to show at 28x28)\ngets no prediction: a one-line "
                    f"message on stderr instead, and exit code {EXIT_BLANK}\n(unless another image failed: "
                    f"{EXIT_ERROR}).")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="PNG, JPEG, BMP, ... files")
    predict.add_argument("--model", type=Path, default=None,
                         help="a .cnnmodel or .onnx file (default: the pretrained model shipped with CNN Studio)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--no-framing", dest="framing", action="store_false",
                         help="do not frame the digit as MNIST did (box fitted to 20x20, centred by mass)")

    export = commands.add_parser("export", help="write a model as an ONNX file", epilog=EXIT_CODES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 description="Write a model (its layers, weights and class names) as an ONNX file "
                                             "that onnxruntime,\nPyTorch or Netron can read. Needs the onnx "
                                             "package: pip install 'cnnstudio[onnx]'.")
    export.add_argument("--onnx", type=Path, required=True, metavar="FILE", help="the .onnx file to write")
    export.add_argument("--model", type=Path, default=None,
                        help="a .cnnmodel or .onnx file (default: the pretrained model shipped with CNN Studio)")
    return parser


def main(argv=None) -> int:
    """Run ``train``, ``predict`` or ``export`` (``argv`` starts with the command); returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with CtrlC() as ctrl_c:
            args = _parser().parse_args(argv)
            return {"train": _train, "predict": _predict, "export": _export}[args.command](args, ctrl_c)
    except CommandError as err:
        print(f"{'' if err.code == EXIT_INTERRUPTED else 'error: '}{err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:  # only where CtrlC could not take the signal (not the main thread)
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0


# ---------------------------------------------------------------- train

def _train(args, ctrl_c: CtrlC) -> int:
    from cnnstudio.engine import Network, default_layers
    from cnnstudio.io.atomic import SaveError
    from cnnstudio.io.datasets import DatasetError
    from cnnstudio.io.model_file import save_model
    from cnnstudio.io.my_digits import MyDigits
    from cnnstudio.training import Trainer, TrainingSettings, make_dataset
    from cnnstudio.training.data import load_idx_set

    lr = args.lr if args.lr is not None else (2e-3 if args.optimizer == "adam" else 0.05)
    settings = TrainingSettings(optimizer=args.optimizer, learning_rate=lr, momentum=args.momentum,
                                batch_size=args.batch_size, epochs=args.epochs, weight_decay=args.weight_decay,
                                shift_augment=args.shift, seed=args.seed, data=args.data)
    try:
        settings.validate()
    except ValueError as err:
        raise CommandError(str(err), EXIT_USAGE) from None
    if args.limit is not None and args.limit < 1:
        raise CommandError("--limit must be at least 1", EXIT_USAGE)
    if (args.idx_images is None) != (args.idx_labels is None):
        raise CommandError("give both --idx-images and --idx-labels", EXIT_USAGE)
    if args.data == "idx" and args.idx_images is None:
        raise CommandError("--data idx needs --idx-images FILE and --idx-labels FILE", EXIT_USAGE)
    if args.class_names is not None and args.data != "idx":
        raise CommandError("--class-names goes with --data idx (the other data sets name their classes)", EXIT_USAGE)

    _check_writable(args.out)  # before training, not after
    try:
        idx, names_note = (load_idx_set(args.idx_images, args.idx_labels, args.class_names) if args.data == "idx"
                           else (None, ""))
        my_digits = None
        if args.data in ("mine", "mix"):
            my_digits = MyDigits()
            my_digits.load(missing_ok=True)
        train, test = make_dataset(settings, my_digits=my_digits, idx=idx)
    except (DatasetError, ValueError) as err:
        raise CommandError(str(err)) from None
    if args.limit is not None and args.limit < len(train):
        rows = np.sort(np.random.default_rng(args.seed).permutation(len(train))[:args.limit])
        train = type(train)(train.images[rows], train.labels[rows], f"{train.name}, {args.limit} of them",
                            train.class_names)

    noun = "digits" if train.class_names == tuple(map(str, range(10))) else "images"  # Fashion-MNIST: images
    unchanged = f"{args.out} is unchanged" if args.out.exists() else f"{args.out} was not written"
    ctrl_c.note = f"nothing saved, {unchanged}"
    if ctrl_c.pressed:
        raise CommandError(f"interrupted before training began: nothing saved, {unchanged}.", EXIT_INTERRUPTED)
    network = Network(default_layers(), (1, 28, 28), seed=args.seed)
    trainer = Trainer(network, train, test, settings)
    if not args.quiet:
        if names_note:
            print(names_note, file=sys.stderr)
        print(f"training on {len(train):,} {noun} ({train.name}), testing on {len(test):,}: {settings.optimizer}, "
              f"learning rate {settings.learning_rate:g}, batch {settings.batch_size}, {settings.epochs} epoch{'' if settings.epochs == 1 else 's'}, "
              f"shifts up to {settings.shift_augment} px", file=sys.stderr)
    bar = ProgressBar(sys.stderr, enabled=not args.quiet)
    start = time.perf_counter()
    last = None
    steps = trainer.train_steps()
    for last in steps:
        bar.show(last)
        if ctrl_c.pressed:  # between two steps: no kernel is running
            break
    steps.close()
    bar.close()
    if ctrl_c.pressed:
        raise CommandError(f"interrupted at step {last.step} of {last.total_steps} (epoch {last.epoch} of "
                           f"{last.epochs}): nothing saved, {unchanged}.", EXIT_INTERRUPTED)
    if last.diverged:
        raise CommandError(last.message)
    ctrl_c.note = f"{args.out} is either as it was or completely saved"  # the save is atomic
    try:
        path = save_model(args.out, network, settings=settings.to_dict(), history=trainer.history,
                          test_accuracy=last.test_accuracy, class_names=train.class_names)
    except SaveError as err:  # already one line: the path, what is wrong, the fix
        raise CommandError(str(err)) from None
    except OSError as err:
        raise CommandError(f"cannot write {args.out} ({err.strerror or err}). Fix: choose a folder you may "
                           f"write to with --out.") from None
    except ValueError as err:
        raise CommandError(f"cannot save {args.out}: {err}") from None
    accuracy = "n/a (no test digits)" if last.test_accuracy is None else f"{last.test_accuracy:.2%}"
    print(f"test accuracy {accuracy} on {len(test):,} {noun} after {time.perf_counter() - start:.1f} s; "
          f"saved {path}")
    if ctrl_c.pressed:
        raise CommandError(f"interrupted while saving: {path} was saved all the same.", EXIT_INTERRUPTED)
    return 0


def _check_writable(path: Path) -> None:
    """Refuse an output file that could not be written, so no training is wasted."""
    import tempfile

    from cnnstudio.io.atomic import SaveError, check_save_target

    folder = path.parent if str(path.parent) else Path(".")
    fix = "Fix: choose a folder you may write to with --out."
    try:
        path = check_save_target(path)  # a device, FIFO or socket is refused; a symbolic link leads to its file
    except SaveError as err:
        if not path.is_dir():
            raise CommandError(str(err)) from None
    if path.is_dir():
        raise CommandError(f"{path} is a folder. Fix: give a file name with --out, e.g. {path / 'model.cnnmodel'}.")
    existing = next((p for p in [folder, *folder.parents] if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise CommandError(f"cannot write {path}: {existing} is a file, not a folder. {fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise CommandError(f"cannot write {path} ({err.strerror or err}). {fix}") from None


class ProgressBar:
    """``epoch 2/5 [#####-----] 45% loss 0.31 acc 91.2% 12,000 samples/s ETA 4s`` redrawn in place with \\r.

    On a terminal the bar is redrawn at most 10 times a second; elsewhere (a log
    file, a pipe) only each epoch's summary line is written.
    """

    WIDTH = 20

    def __init__(self, stream, enabled: bool = True):
        self.stream, self.enabled = stream, enabled
        self.live = enabled and hasattr(stream, "isatty") and stream.isatty()
        self._last_draw = 0.0
        self._drawn = False

    def show(self, progress) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        epoch_end = progress.epoch_step == progress.steps_per_epoch or progress.done
        if self.live and (epoch_end or now - self._last_draw >= 0.1):
            self._last_draw = now
            self.stream.write("\r" + self.line(progress) + "\033[K")
            self._drawn = True
        if epoch_end:
            if self._drawn:
                self.stream.write("\n")
                self._drawn = False
            text = progress.message or ""
            if not self.live and text:
                self.stream.write(text + "\n")
            elif self.live and progress.test_accuracy is not None:
                self.stream.write(f"  test accuracy {progress.test_accuracy:.1%}, "
                                  f"test loss {progress.test_loss:.3f}\n")
            if self.live and progress.warning:  # elsewhere it ends the message
                self.stream.write(f"  {progress.warning}\n")
        self.stream.flush()

    @classmethod
    def line(cls, progress) -> str:
        filled = int(cls.WIDTH * progress.fraction)
        eta = progress.seconds_left
        eta_text = "--" if not math.isfinite(eta) else (f"{eta:.0f}s" if eta < 120 else f"{eta / 60:.0f}min")
        return (f"epoch {progress.epoch}/{progress.epochs} [{'#' * filled}{'-' * (cls.WIDTH - filled)}] "
                f"{progress.fraction:4.0%} loss {progress.loss:.3f} acc {progress.train_accuracy:.1%} "
                f"{progress.samples_per_second:,.0f} samples/s ETA {eta_text}")

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- models: .cnnmodel or .onnx

def load_network_file(path: Path):
    """(network, class names) of a ``.cnnmodel`` or an ``.onnx`` file; ``CommandError`` (one line) for a bad one."""
    from cnnstudio.io.class_names import digit_names

    path = Path(path)
    if path.suffix.lower() == ".onnx":
        from cnnstudio.io.onnx_import import import_onnx

        try:
            network, names = import_onnx(path)
        except ValueError as err:  # OnnxFileError: what is wrong and the fix (also: no onnx package)
            raise CommandError(str(err)) from None
        return network, tuple(names) if names else digit_names(network.num_classes)
    from cnnstudio.io.model_file import ModelFileError, load_model

    try:
        loaded = load_model(path)
    except ModelFileError as err:
        raise CommandError(str(err)) from None
    names = getattr(loaded, "class_names", None)  # a stand-in loader (the tests') may give only the network
    return loaded.network, tuple(names) if names else digit_names(loaded.network.num_classes)


def _export(args, ctrl_c: CtrlC) -> int:
    from cnnstudio.io.atomic import SaveError
    from cnnstudio.io.model_file import DEFAULT_MODEL_PATH
    from cnnstudio.io.onnx_export import export_onnx

    model_path = args.model if args.model is not None else DEFAULT_MODEL_PATH
    network, names = load_network_file(model_path)
    ctrl_c.note = f"{args.onnx} is either as it was or completely saved"  # the save is atomic
    try:
        path = export_onnx(network, args.onnx, class_names=names)
    except SaveError as err:  # already one line: the path, what is wrong, the fix
        raise CommandError(str(err)) from None
    except OSError as err:
        raise CommandError(f"cannot write {args.onnx} ({err.strerror or err}). Fix: choose a folder you may "
                           f"write to with --onnx.") from None
    except ValueError as err:  # no onnx package: the message says what to install
        raise CommandError(str(err)) from None
    conv, dense = len(network.conv_specs), len(network.dense_specs)
    layers = f"{conv} conv and {dense} dense layer{'s' if conv + dense != 1 and dense != 1 or conv > 1 else ''}"
    print(f"exported {model_path.name} ({layers}, {network.num_classes} classes) to {path}")
    return 0


# ---------------------------------------------------------------- predict

def _predict(args, ctrl_c: CtrlC) -> int:
    from cnnstudio.io.model_file import DEFAULT_MODEL_PATH

    model_path = args.model if args.model is not None else DEFAULT_MODEL_PATH
    network, names = load_network_file(model_path)  # "0".."9" for a model saved without names
    named = names != tuple(str(k) for k in range(len(names)))
    if network.input_shape != (1, 28, 28):
        raise CommandError(f"{model_path.name} takes {'x'.join(map(str, network.input_shape))} inputs; predict "
                           f"handles 1x28x28 digit models only. Fix: choose a digit model.")
    ctrl_c.note = "the images before were classified"
    failed = []  # the exit code of each image that got no prediction
    for done, path in enumerate(args.images):
        if ctrl_c.pressed:  # between two images: no kernel is running
            raise CommandError(f"interrupted after {done} of {len(args.images)} images.", EXIT_INTERRUPTED)
        try:
            probabilities = _classify(path, network, model_path, args.framing)
        except CommandError as err:
            print(f"error: {err}", file=sys.stderr)
            failed.append(err.code)
            continue
        label = int(np.argmax(probabilities))
        if args.json:
            print(json.dumps({"file": str(path), "class": label, "name": names[label],
                              "probabilities": [round(float(p), 6) for p in probabilities]}))
        else:
            shown = " ".join(f"{k}:{p:.3f}" for k, p in enumerate(probabilities))
            answer = f"{names[label]} (class {label}, {probabilities[label]:.1%})" if named else \
                f"{label} ({probabilities[label]:.1%})"
            print(f"{path}: {answer}  {shown}")
        sys.stdout.flush()
    return EXIT_ERROR if EXIT_ERROR in failed else EXIT_BLANK if failed else 0


def _classify(path: Path, network, model_path: Path, framing: bool) -> np.ndarray:
    """The ten probabilities (float64) for one image file; ``CommandError`` when it gets none."""
    gray = read_image(path)
    image = prepare_digit(gray, framing=framing)
    blank = blank_reason(gray, image)
    if blank:
        raise CommandError(f"{path} is blank: {blank}, so there is nothing to classify. Fix: choose a picture "
                           f"of a digit, dark on light or light on dark.", EXIT_BLANK)
    with np.errstate(all="ignore"):  # an overflow is reported below, once, in words
        probabilities = network.predict_proba(image[None, None])[0].astype(np.float64)
    if not np.isfinite(probabilities).all():
        largest = max(float(np.abs(p).max(initial=0)) for p in network.params)
        raise CommandError(f"{path}: the model's outputs are not finite numbers (overflow: {model_path.name} "
                           f"holds weights as large as {largest:.3g}). Fix: train the model again or choose "
                           f"another with --model.")
    return probabilities


def blank_reason(gray: np.ndarray, digit: np.ndarray) -> str | None:
    """Why a picture shows the network nothing (``gray`` as read, ``digit`` as prepared), or None.

    A blank page, a fully transparent picture, or a dot that vanishes at 28x28 would
    otherwise get a confident-looking class (the network's answer to a black input).
    """
    if gray.size == 0 or float(gray.max() - gray.min()) < INK_CONTRAST:
        return "nothing is drawn on it (every pixel is the same shade)"
    if float(digit.max()) < INK_CONTRAST:
        return "its marks are too faint or too small to show at 28x28"
    return None


def read_image(path: Path) -> np.ndarray:
    """Decode an image file as the canvas does when it opens one: gray float32 (H, W) in [0, 1].

    The canvas view's decoder (``cnnstudio.imaging.files.read_rgba``, Pillow, no Qt) and
    ``to_gray``: transparent pixels are laid on paper, white under dark ink and black under
    light ink.
    """
    from cnnstudio.imaging.files import ImageFileError, read_rgba
    from cnnstudio.imaging.gray import to_gray

    try:
        # Pillow warns about what it can decode anyway (corrupt EXIF, odd palettes): the pixels are
        # good, and a stray "UserWarning" line would break the command's one-line output.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rgba = read_rgba(path)
    except ImageFileError as err:
        raise CommandError(str(err)) from None
    return to_gray(rgba)


def prepare_digit(gray: np.ndarray, framing: bool = True) -> np.ndarray:
    """What the network sees of a picture: exactly what the drawing canvas makes of it when loaded.

    ``gray`` is what ``read_image`` returns (or any array ``CanvasModel.load_image`` takes).
    Returns float32 (28, 28) in [0, 1], light ink on black.
    """
    from cnnstudio.core.canvas import CanvasModel

    canvas = CanvasModel()
    try:
        canvas.load_image(gray)
    except ValueError as err:
        raise CommandError(f"the image cannot be used ({err})") from None
    canvas.set_mnist_framing(framing)
    return canvas.network_input()
