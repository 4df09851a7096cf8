"""The trainer: the ONE training loop of the app, a step-by-step generator.

Every network the app trains (the playground's, the command line's, the ANN and CNN of the
ANN-vs-CNN lesson, the X-or-O network) goes through ``Trainer``, so divergence handling
and locked kernels work the same everywhere.

Qt-free and thread-free.  ``Trainer.train_steps()`` is a plain generator: every
``next()`` runs ONE minibatch step on the network (in place) and yields a
``Progress``.  Whoever drives it decides how: a worker thread that ships copies
of the weights to the GUI, the command line's progress bar, or a test.  To stop,
simply stop asking (or ``close()`` the generator); the network keeps the weights
of the last step.

A run ends with a ``Progress`` whose ``finished`` (all epochs done) or
``diverged`` (the loss or a weight became NaN/inf, or the loss exploded; the
weights were reverted to the last good checkpoint) flag is set.

Locked kernels: ``locked`` holds ``(layer, filter)`` pairs whose weights and bias
must not change (a kernel the learner drew by hand).  Their gradients are zeroed
and, after every optimizer step, their values are restored bit for bit (so weight
decay cannot move them either).
"""
from __future__ import annotations

import math
import time
from typing import Iterator

import numpy as np

from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits

from .data import shift_each
from .evaluate import Evaluation, evaluate
from .progress import Progress
from .settings import TrainingSettings, make_optimizer

# A batch loss this many times the chance loss ln(classes) means the logits have blown up.
EXPLODED_LOSS_FACTOR = 100.0
DEFAULT_EVAL_EVERY = 500  # steps between mid-epoch test evaluations (every epoch end is evaluated too)
# NOTE: Adam's beta1 and SGD's usual momentum: the smoothed gradient is then Adam's first moment (and SGD's
# velocity, scaled), so without weight decay "minus the smoothed gradient" is the way each weight really moves.
GRADIENT_SMOOTHING = 0.9
# A run whose accuracy is still within this margin of chance (1 / classes) at an epoch end, after at least
# STALL_MIN_STEPS steps, is not learning: most often a learning rate so high that every ReLU died (SGD at 1
# settles at a flat 10% without ever diverging).  Healthy runs of the default network pass 40% within 20 steps.
STALL_MARGIN = 0.05
STALL_MIN_STEPS = 20
# Below the first of these learning rates a stalled run is more likely too slow than broken.
TYPICAL_LEARNING_RATES = {"adam": (1e-4, 2e-3), "sgd": (1e-3, 0.05)}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _round(value: float) -> float:
    """Five significant digits: plenty for a curve, and keeps saved histories small."""
    return float(f"{value:.5g}")


# ---------------------------------------------------------------- gradients

class GradientAverage:
    """The exponential moving average of a run's gradients, bias-corrected as Adam's first moment is.

    After steps with gradients ``g_1 .. g_t`` (each a list of arrays)::

        m_t = s * m_(t-1) + (1 - s) * g_t,   m_0 = 0,   value = m_t / (1 - s**t)

    so after one step the value is ``g_1`` exactly, and later steps weigh more than earlier ones.
    """

    def __init__(self, smoothing: float = GRADIENT_SMOOTHING):
        self.smoothing = float(smoothing)
        self.steps = 0
        self._moment: list[np.ndarray] | None = None

    def add(self, grads) -> None:
        s = np.float32(self.smoothing)
        if self._moment is None:
            self._moment = [np.zeros_like(g, dtype=np.float32) for g in grads]
        for m, g in zip(self._moment, grads):
            m *= s
            m += (1 - s) * g
        self.steps += 1

    def value(self, index: int) -> np.ndarray | None:
        """A new array: the average of the gradients of parameter ``index``; None before the first step."""
        if self._moment is None:
            return None
        return (self._moment[index] / (1.0 - self.smoothing ** self.steps)).astype(np.float32)

    def clear(self) -> None:
        self.steps = 0
        self._moment = None


# ---------------------------------------------------------------- the trainer

class Trainer:
    """Trains ``network`` in place on ``train``, testing on ``test``.

    Parameters
    ----------
    network : the network to train (give it a copy if others read the original meanwhile)
    train, test : ``Digits`` whose images fit ``network.input_shape``
    settings : ``TrainingSettings`` (validated here)
    locked : ``(layer, filter)`` pairs whose weights and bias stay exactly as they are
    eval_every : steps between test evaluations within an epoch (each epoch end is evaluated too)

    ``history`` holds the run's curves: ``step``, ``loss`` (batch loss), ``train_acc``
    (running epoch accuracy) per step, and ``test_step``, ``test_loss``, ``test_acc`` per
    test evaluation.  Values are rounded to 5 significant digits.

    ``last_grads`` is the gradient of every parameter at the last step (matching
    ``network.params``; locked kernels' are zero), None before the first step and after a
    divergence; ``gradient_average`` smooths them over the run (``kernel_gradients()``).
    """

    def __init__(self, network: Network, train: Digits, test: Digits, settings: TrainingSettings | None = None,
                 locked=frozenset(), eval_every: int = DEFAULT_EVAL_EVERY):
        self.network = network
        self.settings = settings = (settings or TrainingSettings()).validate()
        for role, digits in (("training", train), ("test", test)):
            if len(digits) and digits.images.shape[1:] != network.input_shape:
                raise ValueError(f"the {role} images are {'x'.join(map(str, digits.images.shape[1:]))} but the "
                                 f"network takes {'x'.join(map(str, network.input_shape))}. Fix: choose a data "
                                 f"set of {network.input_shape[1]}x{network.input_shape[2]} images.")
            if len(digits) and (digits.labels.min() < 0 or digits.labels.max() >= network.num_classes):
                raise ValueError(f"the {role} labels go up to {digits.labels.max()} but the network has "
                                 f"{network.num_classes} classes. Fix: use labels 0..{network.num_classes - 1}.")
        if len(train) == 0:
            raise ValueError("there are no training images. Fix: choose a data set with at least one digit.")
        for k, p in enumerate(network.params):
            if not np.isfinite(p).all():  # the first "good" checkpoint would be broken: nothing to revert to
                raise ValueError(f"layer {k // 2 + 1} has NaN or infinite weights. "
                                 f"Fix: reset the weights or load a model before training.")
        self.train, self.test = train, test
        self.set_locked(locked)
        self.eval_every = max(1, int(eval_every))
        self.optimizer = make_optimizer(settings)
        self.steps_per_epoch = math.ceil(len(train) / settings.batch_size)
        self.total_steps = self.steps_per_epoch * settings.epochs
        self.history: dict[str, list] = {"step": [], "loss": [], "train_acc": [],
                                         "test_step": [], "test_loss": [], "test_acc": []}
        self.last_evaluation: Evaluation | None = None
        self.last_grads: list[np.ndarray] | None = None
        self.gradient_average = GradientAverage()

    def set_locked(self, locked) -> None:
        """Keep the ``(layer, filter)`` kernels in ``locked`` exactly as the network holds them now.

        May be called between two steps (a kernel locked, unlocked or edited by hand mid-run).
        """
        network = self.network
        pairs = frozenset((int(layer), int(filter)) for layer, filter in locked)
        for layer, filter in sorted(pairs):
            if not 0 <= layer < len(network.layers) or not 0 <= filter < network.weight(layer).shape[0]:
                raise ValueError(f"cannot lock filter {filter} of layer {layer}: the network has no such filter.")
        self.locked = pairs
        self._locked_values = {(layer, filter): (network.weight(layer)[filter].copy(),
                                                 network.bias(layer)[filter].copy())
                               for layer, filter in pairs}

    # -- the generator
    def train_steps(self) -> Iterator[Progress]:
        """Run the training, one minibatch step per ``next()``; yields a ``Progress`` after each."""
        settings, network = self.settings, self.network
        rng = np.random.default_rng(settings.seed)
        # dropout draws from its own stream, so a network without dropout trains exactly as before
        dropout_rng = np.random.default_rng([settings.seed, 1]) if any(
            getattr(spec, "dropout", 0) for spec in network.layers) else None
        n = len(self.train)
        chance_loss = math.log(network.num_classes)
        checkpoint, checkpoint_step = network.get_state(), 0
        test_loss = test_accuracy = None
        step = samples = 0
        # Speed counts only the time spent inside this generator (not while its driver pauses), and
        # leaves out step 1, which may include compiling the kernels.
        busy, first_step_samples = 0.0, 0
        resumed = time.perf_counter()
        for epoch in range(1, settings.epochs + 1):
            order = rng.permutation(n)
            loss_sum = 0.0
            correct = seen = 0
            for first in range(0, n, settings.batch_size):
                rows = order[first:first + settings.batch_size]
                images, labels = self.train.images[rows], self.train.labels[rows]
                if settings.shift_augment:
                    shifts = rng.integers(-settings.shift_augment, settings.shift_augment + 1, (len(rows), 2))
                    images = shift_each(images, shifts)
                batch_loss, grads, logits = network.loss_and_grads(images, labels, dropout_rng)
                step += 1
                samples += len(rows)
                sane = math.isfinite(batch_loss) and batch_loss <= EXPLODED_LOSS_FACTOR * chance_loss
                if sane:
                    self._zero_locked(grads)
                    self.last_grads = grads
                    self.gradient_average.add(grads)
                    self.optimizer.step(network.params, grads)
                    self._restore_locked()
                if not (sane and all(np.isfinite(p).all() for p in network.params)):
                    network.set_state(checkpoint)
                    self.optimizer = make_optimizer(settings)
                    self.last_grads = None  # they led to weights that were thrown away
                    self.gradient_average.clear()
                    yield self._progress(epoch, step, samples, batch_loss, batch_loss, correct / max(seen, 1),
                                         test_loss, test_accuracy, False, 0.0, 0.0, diverged=True,
                                         message=self._divergence_message(batch_loss, step, checkpoint_step))
                    return
                loss_sum += batch_loss * len(rows)
                correct += int(np.count_nonzero(logits.argmax(axis=1) == labels))
                seen += len(rows)
                self.history["step"].append(step)
                self.history["loss"].append(_round(batch_loss))
                self.history["train_acc"].append(_round(correct / seen))

                end_of_epoch = first + settings.batch_size >= n
                fresh = end_of_epoch or step % self.eval_every == 0
                if fresh and len(self.test):
                    self.last_evaluation = evaluation = evaluate(network, self.test)
                    test_loss, test_accuracy = evaluation.loss, evaluation.accuracy
                    self.history["test_step"].append(step)
                    self.history["test_loss"].append(_round(test_loss))
                    self.history["test_acc"].append(_round(test_accuracy))
                    if math.isfinite(test_loss) and test_loss <= EXPLODED_LOSS_FACTOR * chance_loss:
                        checkpoint, checkpoint_step = network.get_state(), step
                elif end_of_epoch:
                    checkpoint, checkpoint_step = network.get_state(), step

                now = time.perf_counter()
                if step == 1:
                    first_step_samples = samples
                    speed = samples / max(now - resumed, 1e-9)
                else:
                    busy += now - resumed
                    speed = (samples - first_step_samples) / max(busy, 1e-9)
                remaining = (self.total_steps - step) * settings.batch_size
                seconds_left = remaining / speed if speed > 0 else math.inf
                finished = end_of_epoch and epoch == settings.epochs
                message = warning = ""
                if end_of_epoch:
                    message = f"training accuracy {correct / seen:.1%}"
                    if test_accuracy is not None:
                        message += f", test accuracy {test_accuracy:.1%}"
                    message = (f"Finished {_plural(settings.epochs, 'epoch')} ({step} steps): {message}." if finished
                               else f"Epoch {epoch}/{settings.epochs}: {message}.")
                    warning = self._stall_warning(step, correct / seen, test_accuracy)
                    if warning:
                        message += " " + warning
                yield self._progress(epoch, step, samples, loss_sum / seen, batch_loss, correct / seen, test_loss,
                                     test_accuracy, fresh and len(self.test) > 0, speed,
                                     0.0 if finished else seconds_left, finished=finished, message=message,
                                     warning=warning)
                resumed = time.perf_counter()

    def run(self) -> Progress:
        """Train to the end without pausing; returns the last progress."""
        last = None
        for last in self.train_steps():
            pass
        return last

    def kernel_gradients(self) -> dict[int, np.ndarray] | None:
        """The smoothed gradient of every conv layer's kernels: ``{layer: (filters, channels, K, K)}`` float32.

        New arrays (safe to hand to another thread); locked kernels' are zero.  None before
        the first step and after a divergence.
        """
        if self.gradient_average.steps == 0:
            return None
        kernels = {layer: self.gradient_average.value(2 * layer) for layer in range(len(self.network.conv_specs))}
        for layer, filter in self.locked:
            if layer in kernels:  # locked mid-run: its past pushes no longer apply
                kernels[layer][filter] = 0
        return kernels

    # -- helpers
    def _progress(self, epoch, step, samples, loss, batch_loss, accuracy, test_loss, test_accuracy, fresh, speed,
                  seconds_left, finished=False, diverged=False, message="", warning="") -> Progress:
        return Progress(epoch=epoch, epochs=self.settings.epochs, step=step, steps_per_epoch=self.steps_per_epoch,
                        total_steps=self.total_steps, samples_seen=samples, loss=float(loss),
                        batch_loss=float(batch_loss), train_accuracy=float(accuracy), test_loss=test_loss,
                        test_accuracy=test_accuracy, test_fresh=fresh, samples_per_second=float(speed),
                        seconds_left=float(seconds_left), finished=finished, diverged=diverged, message=message,
                        warning=warning)

    def _zero_locked(self, grads) -> None:
        for layer, filter in self.locked:
            grads[2 * layer][filter] = 0
            grads[2 * layer + 1][filter] = 0

    def _restore_locked(self) -> None:
        for (layer, filter), (weight, bias) in self._locked_values.items():
            self.network.weight(layer)[filter] = weight
            self.network.bias(layer)[filter] = bias

    def _stall_warning(self, step: int, train_accuracy: float, test_accuracy: float | None) -> str:
        """A sentence with a fix when, at an epoch end, neither accuracy is clearly above chance; else ""."""
        chance = 1.0 / self.network.num_classes
        best = max(train_accuracy, test_accuracy if test_accuracy is not None else 0.0)
        if step < STALL_MIN_STEPS or best > chance + STALL_MARGIN:
            return ""
        settings = self.settings
        lr, (low, usual) = settings.learning_rate, TYPICAL_LEARNING_RATES[settings.optimizer]
        if lr < low:
            fix = f"raise the learning rate {lr:g} (try {usual:g})"
        elif settings.optimizer == "sgd":
            fix = f"lower the learning rate {lr:g} (try {min(usual, lr / 10):.2g}) or switch to Adam"
        else:
            fix = f"lower the learning rate {lr:g} (try {min(usual, lr / 10):.2g})"
        return (f"Warning: accuracy is stuck at chance level ({best:.1%}, chance {chance:.0%}) after {step} "
                f"steps: the network is not learning. Fix: {fix}, then train again from reset weights.")

    def _divergence_message(self, loss: float, step: int, checkpoint_step: int) -> str:
        lr = self.settings.learning_rate
        what = "NaN" if math.isnan(loss) else ("infinite" if math.isinf(loss) else None)
        cause = (f"loss became {what}" if what else
                 f"loss exploded to {loss:.3g}" if loss > EXPLODED_LOSS_FACTOR * math.log(self.network.num_classes)
                 else "a weight became NaN or infinite")
        back = "step 0 (before training)" if checkpoint_step == 0 else f"step {checkpoint_step}"
        return (f"Training diverged ({cause}) at step {step}: the learning rate {lr:g} is too high. "
                f"Weights were reverted to {back}. Try a learning rate of {lr / 10:.2g} or lower.")
