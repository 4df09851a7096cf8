"""The training loop: it learns, it keeps locked kernels, it survives divergence, it evaluates."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import reference as ref

from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.io.my_digits import MyDigits
from cnnstudio.training import (GRADIENT_SMOOTHING, Evaluation, GradientAverage, Progress, Trainer,
                                      TrainingSettings, evaluate, make_dataset, shift_each, split_digits,
                                      worst_mistakes)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist_5k()


def subset(digits: Digits, n: int, seed: int = 0) -> Digits:
    """A random ``n`` of ``digits`` (the shipped rows are grouped by class)."""
    rows = np.sort(np.random.default_rng(seed).permutation(len(digits))[:n])
    return Digits(digits.images[rows], digits.labels[rows], f"{digits.name} subset")


@pytest.fixture(scope="module")
def small(mnist):
    train, test = mnist
    return subset(train, 500), subset(test, 300)


# ---------------------------------------------------------------- learning

def test_training_lowers_the_loss_and_beats_chance(small):
    train, test = small
    network = Network(seed=0)
    before = evaluate(network, test)
    trainer = Trainer(network, train, test, TrainingSettings(epochs=3, shift_augment=1))
    progresses = list(trainer.train_steps())
    after = evaluate(network, test)

    assert after.loss < 0.6 * before.loss
    assert after.accuracy > 0.6 > before.accuracy + 0.3  # chance is 0.1
    last = progresses[-1]
    assert last.finished and not last.diverged and last.done
    assert last.step == last.total_steps == 3 * 16 and last.steps_per_epoch == 16
    assert last.samples_seen == 3 * 500 and last.fraction == 1.0 and last.seconds_left == 0.0
    assert last.test_accuracy == pytest.approx(after.accuracy) and last.test_fresh
    assert "Finished 3 epochs" in last.message and "test accuracy" in last.message
    assert not any(p.finished or p.diverged for p in progresses[:-1])


def test_progress_counts_steps_epochs_and_fresh_tests(small):
    train, test = small
    trainer = Trainer(Network(seed=1), train, test, TrainingSettings(epochs=2, batch_size=100), eval_every=2)
    progresses = list(trainer.train_steps())
    assert [p.step for p in progresses] == list(range(1, 11))
    assert [p.epoch for p in progresses] == [1] * 5 + [2] * 5
    assert [p.epoch_step for p in progresses] == [1, 2, 3, 4, 5] * 2
    # every 2nd step and each epoch end
    assert [p.test_fresh for p in progresses] == [False, True, False, True, True, True, False, True, False, True]
    assert progresses[0].test_accuracy is None and progresses[0].test_loss is None
    assert all(isinstance(p, Progress) and p.samples_per_second > 0 for p in progresses)
    assert progresses[4].message.startswith("Epoch 1/2: training accuracy")
    history = trainer.history
    assert history["step"] == list(range(1, 11)) and len(history["loss"]) == len(history["train_acc"]) == 10
    assert history["test_step"] == [2, 4, 5, 6, 8, 10] and len(history["test_acc"]) == 6
    assert trainer.last_evaluation.accuracy == history["test_acc"][-1]


def test_speed_ignores_the_time_the_driver_pauses(small, monkeypatch):
    """On a fake clock, so the machine's speed does not matter: every reading inside the trainer
    moves it by 1 ms (its work), and the driver pauses 10 s between steps."""
    import types

    from cnnstudio.training import trainer as trainer_module

    clock = [0.0]

    def perf_counter():
        clock[0] += 0.001
        return clock[0]

    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=perf_counter))
    train, test = small
    steps = Trainer(Network(seed=0), train, test, TrainingSettings(epochs=1)).train_steps()
    for _ in range(4):
        progress = next(steps)
        clock[0] += 10.0  # a paused GUI: counted, it would make the speed about 3 images/s
    assert progress.samples_per_second > 1000
    assert progress.seconds_left < (progress.total_steps - progress.step) * 32 / 1000


def test_same_seeds_give_identical_weights(small):
    train, test = small
    settings = TrainingSettings(epochs=1, shift_augment=2, seed=3)
    runs = []
    for _ in range(2):
        network = Network(seed=4)
        Trainer(network, train, test, settings).run()
        runs.append(network.params)
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_sgd_learns_too(small):
    train, test = small
    network = Network(seed=0)
    Trainer(network, train, test, TrainingSettings(optimizer="sgd", learning_rate=0.05, epochs=2)).run()
    assert evaluate(network, test).accuracy > 0.5


def test_a_run_stuck_at_chance_says_so_with_a_fix(small):
    train, test = small  # 500 digits: 16 steps an epoch
    stuck = list(Trainer(Network(seed=0), train, test,
                         TrainingSettings(optimizer="sgd", learning_rate=1.0, epochs=3)).train_steps())
    assert stuck[-1].finished and not stuck[-1].diverged  # it never blows up: it just stops learning
    ends = [p for p in stuck if p.epoch_step == p.steps_per_epoch]
    assert ends[0].warning == ""  # 16 steps: too early to tell
    for progress in ends[1:]:
        assert progress.warning.startswith("Warning: accuracy is stuck at chance level")
        assert "Fix: lower the learning rate 1 (try 0.05) or switch to Adam" in progress.warning
        assert progress.message.endswith(progress.warning)
    assert all(p.warning == "" for p in stuck if p.epoch_step != p.steps_per_epoch)

    healthy = list(Trainer(Network(seed=0), train, test, TrainingSettings(epochs=2)).train_steps())
    assert all(p.warning == "" for p in healthy)
    assert healthy[-1].message.endswith("%.")

    crawling = Trainer(Network(seed=0), train, test, TrainingSettings(optimizer="sgd", learning_rate=1e-6,
                                                                      momentum=0.0, epochs=2)).run()
    assert "Fix: raise the learning rate 1e-06 (try 0.05)" in crawling.warning


# ---------------------------------------------------------------- locked kernels

def test_locked_kernels_stay_bit_for_bit_while_the_others_learn(small):
    train, test = small
    network = Network(seed=0)
    network.weight(0)[2] = np.arange(9, dtype=np.float32).reshape(1, 3, 3) / 9  # a hand-drawn kernel
    locked = {(0, 2), (1, 5), (2, 7)}
    before = network.get_state()
    trainer = Trainer(network, train, test, TrainingSettings(epochs=1, weight_decay=0.01), locked=locked)
    for _ in itertools.islice(trainer.train_steps(), 20):
        pass
    for layer, filter in locked:
        assert np.array_equal(network.weight(layer)[filter], before[2 * layer][filter])
        assert np.array_equal(network.bias(layer)[filter], before[2 * layer + 1][filter])
    for layer, filter in [(0, 0), (0, 3), (1, 4), (2, 6)]:
        assert not np.array_equal(network.weight(layer)[filter], before[2 * layer][filter])


def test_locks_can_change_between_steps(small):
    train, test = small
    network = Network(seed=0)
    trainer = Trainer(network, train, test, TrainingSettings(epochs=1))
    steps = trainer.train_steps()
    next(steps)
    network.weight(0)[1] = 0.5  # edited by hand mid-run, then locked
    trainer.set_locked({(0, 1)})
    for _ in range(5):
        next(steps)
    assert np.all(network.weight(0)[1] == 0.5)
    with pytest.raises(ValueError, match="no such filter"):
        trainer.set_locked({(0, 8)})


# ---------------------------------------------------------------- divergence

def test_a_huge_learning_rate_diverges_and_reverts_to_the_start(small):
    train, test = small
    network = Network(seed=0)
    start = network.get_state()
    trainer = Trainer(network, train, test, TrainingSettings(optimizer="sgd", learning_rate=1e6, epochs=2))
    progresses = list(trainer.train_steps())
    last = progresses[-1]
    assert last.diverged and not last.finished and last.done
    assert len(progresses) < 10
    assert "learning rate 1e+06 is too high" in last.message
    assert "reverted to step 0" in last.message and "Try a learning rate of 1e+05 or lower" in last.message
    assert all(np.array_equal(a, b) for a, b in zip(network.params, start))
    assert trainer.optimizer.velocity is None  # optimizer state was reset
    assert trainer.last_grads is None and trainer.kernel_gradients() is None  # they led nowhere good


def test_a_nan_weight_reverts_to_the_last_good_checkpoint(small):
    train, test = small
    network = Network(seed=0)
    trainer = Trainer(network, train, test, TrainingSettings(epochs=3))
    steps = trainer.train_steps()
    for progress in steps:
        if progress.epoch_step == progress.steps_per_epoch:  # epoch end: a checkpoint
            good, good_step = network.get_state(), progress.step
            break
    for _ in range(3):
        next(steps)
    network.weight(1)[0, 0, 0, 0] = np.nan
    progress = next(steps)
    assert progress.diverged and progress.step == good_step + 4
    assert "loss became NaN" in progress.message and "learning rate 0.002" in progress.message
    assert f"reverted to step {good_step}" in progress.message
    assert all(np.array_equal(a, b) for a, b in zip(network.params, good))
    assert trainer.optimizer.m is None
    with pytest.raises(StopIteration):
        next(steps)


# ---------------------------------------------------------------- gradients

def close_to(actual, expected, rtol=1e-3):
    """Equal within float32 summation noise: relative to each value and to the array's largest."""
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * float(np.abs(expected).max()))


def test_the_trainer_keeps_each_steps_gradients_and_their_average(small):
    train = Digits(small[0].images[:64], small[0].labels[:64], "64 digits")
    network = Network(seed=2)
    # one batch holds every digit, so a step's gradient does not depend on the shuffling
    trainer = Trainer(network, train, small[1], TrainingSettings(batch_size=64, epochs=3))
    assert trainer.last_grads is None and trainer.kernel_gradients() is None
    steps, engine = trainer.train_steps(), []
    for _ in range(3):
        start = network.copy()  # the weights this step starts from
        next(steps)
        engine.append(start.loss_and_grads(train.images, train.labels)[1])
        for mine, theirs in zip(trainer.last_grads, engine[-1]):
            close_to(mine, theirs)
    kernels = trainer.kernel_gradients()
    assert sorted(kernels) == [0, 1]  # the conv layers
    for layer, kernel in kernels.items():
        assert kernel.shape == network.weight(layer).shape and kernel.dtype == np.float32
        close_to(kernel, ref.smoothed_gradient([grads[2 * layer] for grads in engine], GRADIENT_SMOOTHING))
    kernels[0][...] = 99  # new arrays each time: the receiver may keep them
    assert not np.any(trainer.kernel_gradients()[0] == 99)


def test_the_gradient_average_starts_at_the_first_gradient_and_follows_the_later_ones():
    rng = np.random.default_rng(0)
    gradients = [[rng.standard_normal((2, 3)).astype(np.float32)] for _ in range(4)]
    average = GradientAverage(0.8)
    assert average.value(0) is None
    average.add(gradients[0])
    close_to(average.value(0), gradients[0][0], rtol=1e-6)
    for g in gradients[1:]:
        average.add(g)
    close_to(average.value(0), ref.smoothed_gradient([g[0] for g in gradients], 0.8), rtol=1e-6)
    average.clear()
    assert average.value(0) is None and average.steps == 0


def test_locked_kernels_get_no_push(small):
    train, test = small
    trainer = Trainer(Network(seed=0), train, test, TrainingSettings(epochs=1), locked={(0, 2)})
    steps = trainer.train_steps()
    for _ in range(3):
        next(steps)
    kernels = trainer.kernel_gradients()
    assert np.all(trainer.last_grads[0][2] == 0) and np.all(kernels[0][2] == 0)
    assert np.any(kernels[0][3] != 0)
    trainer.set_locked({(0, 2), (1, 4)})  # locked mid-run: its past pushes stop at once
    assert np.all(trainer.kernel_gradients()[1][4] == 0)


# ---------------------------------------------------------------- evaluation

def test_evaluate_and_worst_mistakes(small):
    train, test = small
    network = Network(seed=0)
    Trainer(network, train, test, TrainingSettings(epochs=1)).run()
    result = evaluate(network, test)
    assert isinstance(result, Evaluation)
    assert result.confusion.shape == (10, 10) and result.confusion.sum() == len(test)
    assert np.array_equal(result.confusion.sum(axis=1), test.class_counts())
    assert np.trace(result.confusion) == np.sum(result.predictions == test.labels)
    assert result.accuracy == pytest.approx(np.trace(result.confusion) / len(test))
    assert np.allclose(result.probabilities.sum(axis=1), 1, atol=1e-5)
    expected_loss = -np.mean(np.log(result.probabilities[np.arange(len(test)), test.labels]))
    assert result.loss == pytest.approx(expected_loss, rel=1e-4)

    worst = worst_mistakes(result, test, k=5)
    wrong = result.predictions != test.labels
    assert 0 < len(worst) <= 5 and wrong[worst].all()
    confidence = result.probabilities[worst, result.predictions[worst]]
    assert np.all(np.diff(confidence) <= 0)
    others = np.setdiff1d(np.flatnonzero(wrong), worst)
    if len(others):
        assert confidence[-1] >= result.probabilities[others, result.predictions[others]].max()
    assert len(worst_mistakes(result, test, k=10_000)) == wrong.sum()


def test_evaluate_an_empty_set():
    result = evaluate(Network(seed=0), Digits(np.zeros((0, 1, 28, 28), np.float32), np.zeros(0, np.int64)))
    assert np.isnan(result.accuracy) and result.confusion.sum() == 0


# ---------------------------------------------------------------- pieces

def test_shift_each_moves_with_zero_fill():
    rng = np.random.default_rng(0)
    images = rng.random((20, 2, 9, 7), dtype=np.float32)
    shifts = rng.integers(-3, 4, (20, 2))
    shifted = shift_each(images, shifts)
    for image, (dy, dx), out in zip(images, shifts, shifted):
        padded = np.pad(image, ((0, 0), (3, 3), (3, 3)))
        expected = np.roll(padded, (dy, dx), axis=(1, 2))[:, 3:-3, 3:-3]
        assert np.array_equal(out, expected)


@pytest.mark.parametrize("change, fragment", [
    (dict(optimizer="rmsprop"), "optimizer 'rmsprop' is unknown"),
    (dict(learning_rate=0), "learning rate 0"),
    (dict(learning_rate=float("nan")), "learning rate nan"),
    (dict(momentum=1.0), "momentum"),
    (dict(batch_size=0), "batch size 0"),
    (dict(batch_size=2.5), "batch size 2.5"),
    (dict(epochs=0), "epochs 0"),
    (dict(weight_decay=-1), "weight decay"),
    (dict(shift_augment=-1), "shift"),
    (dict(seed=-1), "seed"),
    (dict(data="cifar"), "data 'cifar'"),
])
def test_settings_explain_what_is_wrong(change, fragment):
    with pytest.raises(ValueError, match="Fix:") as error:
        TrainingSettings(**change).validate()
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_settings_round_trip_through_a_dict():
    settings = TrainingSettings(optimizer="sgd", learning_rate=0.1, shift_augment=2, data="mix")
    assert TrainingSettings.from_dict({**settings.to_dict(), "from_the_future": 1}) == settings


def test_trainer_refuses_data_that_does_not_fit():
    network = Network(seed=0)
    wrong = Digits(np.zeros((4, 1, 14, 14), np.float32), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="14x14"):
        Trainer(network, wrong, wrong)
    empty = Digits(np.zeros((0, 1, 28, 28), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="no training images"):
        Trainer(network, empty, empty)
    ok = Digits(np.zeros((4, 1, 28, 28), np.float32), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="no such filter"):
        Trainer(network, ok, ok, locked={(0, 99)})


def test_make_dataset_sources(mnist, tmp_path):
    train, test = make_dataset(TrainingSettings(data="mnist"))
    assert (len(train), len(test)) == (4000, 1000)

    mine = MyDigits(tmp_path / "mine.npz")
    with pytest.raises(ValueError, match="no drawings"):
        make_dataset(TrainingSettings(data="mine"), my_digits=mine)
    ink = np.zeros((28, 28), np.float32)
    ink[8:20, 13:15] = 1
    mine.add(ink, 1, "train")
    mine.add(ink, 1, "both")
    mine_train, mine_test = make_dataset(TrainingSettings(data="mine"), my_digits=mine)
    assert (len(mine_train), len(mine_test)) == (2, 1)
    mix_train, mix_test = make_dataset(TrainingSettings(data="mix"), my_digits=mine)
    assert (len(mix_train), len(mix_test)) == (4002, 1001)
    assert np.array_equal(mix_train.images[-1, 0], ink)

    with pytest.raises(ValueError, match="no IDX"):
        make_dataset(TrainingSettings(data="idx"))
    idx_train, idx_test = make_dataset(TrainingSettings(data="idx"), idx=mnist[1])
    assert (len(idx_train), len(idx_test)) == (833, 167)
    assert make_dataset(TrainingSettings(data="idx"), idx=mnist)[0] is mnist[0]


def test_split_digits_is_seeded_and_disjoint(mnist):
    a_train, a_test = split_digits(mnist[1], 0.2, seed=5)
    b_train, b_test = split_digits(mnist[1], 0.2, seed=5)
    assert np.array_equal(a_test.images, b_test.images) and len(a_test) == 200 and len(a_train) == 800


def test_a_network_with_infinite_weights_is_refused_before_training(small):
    train, test = small
    network = Network(seed=0)
    network.weight(0)[0, 0, 1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite weights.*Fix"):
        Trainer(network, train, test, TrainingSettings(epochs=1))
