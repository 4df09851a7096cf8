"""The training replay's recorder: a bounded, evenly spaced set of snapshots, the newest kept, the error stated."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnstudio.core.architectures import layers_for
from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.io.replay_file import FLOAT16_ABSOLUTE_ERROR, FLOAT16_RELATIVE_ERROR, decode_state, encode_state
from cnnstudio.training import TrainingSession, TrainingSettings
from cnnstudio.training.replay import ReplayRecorder
from cnnstudio.training.runner import InlineDriver


def states(count: int, seed: int = 0, shapes=((4, 1, 3, 3), (4,))):
    rng = np.random.default_rng(seed)
    return [[rng.normal(0, 0.3, shape).astype(np.float32) for shape in shapes] for _ in range(count)]


def within_stated_error(replayed, exact) -> bool:
    bound = np.maximum(FLOAT16_RELATIVE_ERROR * np.abs(exact), FLOAT16_ABSOLUTE_ERROR)
    return bool((np.abs(replayed - exact) <= bound).all())


@pytest.mark.parametrize("budget", [2, 5, 10, 100])
def test_the_budget_is_kept_and_the_snapshots_stay_evenly_spaced(budget):
    recorder = ReplayRecorder(budget=budget)
    for step, state in enumerate(states(1000)):
        recorder.add(step, state)
        assert len(recorder) <= budget
    steps = recorder.steps
    assert steps[0] == 0 and steps[-1] == 999  # the start and the newest are always there
    anchors = steps[:-1] if steps[-1] % recorder.interval else steps
    assert np.all(np.diff(anchors) == recorder.interval)
    assert all(step % recorder.interval == 0 for step in anchors)
    assert 999 - anchors[-1] < recorder.interval  # no gap larger than the spacing at the end either
    if budget >= 10:
        assert len(recorder) > budget // 2  # thinning halves, never more


def test_uneven_reports_still_give_one_snapshot_per_interval():
    recorder = ReplayRecorder(budget=20)
    step = 0
    rng = np.random.default_rng(3)
    for state in states(400, seed=1):
        step += int(rng.integers(1, 7))  # weights arrive ~15 times a second, not every step
        recorder.add(step, state)
    anchors = recorder.steps[:-1]
    buckets = [s // recorder.interval for s in anchors]
    assert len(set(buckets)) == len(buckets)  # at most one per interval
    assert max(np.diff(anchors)) < 2 * recorder.interval + 7
    assert recorder.steps[-1] == step


def test_the_newest_is_exact_and_the_others_are_within_the_stated_error():
    recorder = ReplayRecorder(budget=8)
    kept = {}
    for step, state in enumerate(states(50, seed=2)):
        recorder.add(step, state)
        kept[step] = state
    for index, step in enumerate(recorder.steps):
        replayed = recorder.state_at(index)
        assert [a.dtype for a in replayed] == [np.float32, np.float32]
        for r, exact in zip(replayed, kept[step]):
            if index == len(recorder) - 1:
                np.testing.assert_array_equal(r, exact)
            else:
                assert within_stated_error(r, exact)
                assert not np.array_equal(r, exact)  # really compressed


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-70000, 70000, allow_nan=False, width=32), min_size=1, max_size=60))
def test_encoding_round_trips_any_weights_within_the_stated_error(values):
    exact = np.array(values, dtype=np.float32)
    tiny = exact * np.float32(1e-6)  # values below float16's smallest normal number
    kinds, blob = encode_state([exact, tiny])
    replayed, replayed_tiny = decode_state(kinds, blob, [exact.shape, tiny.shape])
    if np.abs(exact).max() > 65504:
        assert kinds[0] == "f"  # beyond float16: stored exactly
        np.testing.assert_array_equal(replayed, exact)
    assert within_stated_error(replayed, exact) and within_stated_error(replayed_tiny, tiny)


def test_a_step_reported_again_or_earlier_replaces_the_later_snapshots():
    recorder = ReplayRecorder(budget=10)
    a, b, c = states(3, seed=4)
    recorder.add(0, a)
    recorder.add(5, b)
    recorder.add(5, c)
    assert recorder.steps == [0, 5]
    np.testing.assert_array_equal(recorder.state_at(-1)[0], c[0])
    recorder.add(3, a)
    assert recorder.steps == [0, 3]


def test_nearest_and_state_at_refuse_nothing_quietly():
    recorder = ReplayRecorder(budget=10)
    assert recorder.nearest(4) == -1
    for step, state in zip((0, 10, 20), states(3)):
        recorder.add(step, state)
    assert [recorder.nearest(s) for s in (-3, 4, 5, 6, 14, 99)] == [0, 0, 0, 1, 1, 2]
    with pytest.raises(IndexError, match="Fix:"):
        recorder.state_at(3)
    with pytest.raises(ValueError, match="Fix:"):
        ReplayRecorder(budget=1)


def test_another_architecture_starts_afresh_and_clear_empties():
    recorder = ReplayRecorder()
    recorder.add(0, states(1)[0])
    recorder.add(1, states(1, shapes=((2, 1, 5, 5), (2,)))[0])
    assert recorder.steps == [1] and recorder.shapes == ((2, 1, 5, 5), (2,))
    heard = []
    recorder.events.changed.connect(lambda: heard.append(True))
    recorder.clear()
    assert len(recorder) == 0 and heard == [True]


@pytest.mark.parametrize("name, most_bytes", [("Default", 2_500_000), ("Wide", 20_000_000)])
def test_memory_stays_bounded_for_real_networks(name, most_bytes):
    network = Network(layers_for(name), seed=0)
    recorder = ReplayRecorder()
    rng = np.random.default_rng(0)
    for step in range(130):
        for p in network.params:  # weights that move like training's
            p += rng.normal(0, 0.002, p.shape).astype(np.float32)
        recorder.add(step, network.params)
    assert recorder.nbytes < most_bytes
    assert len(recorder) <= 100 and recorder.steps[-1] == 129
    if name == "Default":
        assert len(recorder) > 50


def test_memento_brings_back_the_snapshots():
    recorder = ReplayRecorder()
    for step, state in enumerate(states(5)):
        recorder.add(step, state)
    memento = recorder.memento()
    recorder.clear()
    recorder.restore(memento)
    assert recorder.steps == [0, 1, 2, 3, 4]


def test_a_session_records_the_start_and_every_weights_report():
    train, test = load_mnist_5k()
    train, test = Digits(train.images[:96], train.labels[:96], "tiny"), Digits(test.images[:32], test.labels[:32], "t")

    class Playground:  # the session knows the playground only by these
        def __init__(self):
            from cnnstudio.base.events import EventGroup
            self.network = Network(seed=1)
            self.events = EventGroup("kernels_changed", "architecture_changed")

        def set_weights(self, state, kernel_gradients=None):
            self.network.set_state(state)

    playground = Playground()
    start = playground.network.get_state()
    session = TrainingSession(playground, InlineDriver())
    session.start(TrainingSettings(epochs=1, batch_size=32), train, test)
    session.driver.advance(10)
    replay = session.replay
    assert replay.steps[0] == 0 and replay.steps[-1] == session.history.data["step"][-1] == 3
    assert replay.losses[0] is None and replay.losses[-1] == session.history.data["loss"][-1]
    assert within_stated_error(replay.state_at(0)[0], start[0])
    np.testing.assert_array_equal(replay.state_at(-1)[2], playground.network.params[2])
    playground.events.architecture_changed.emit()
    assert len(replay) == 0


def test_undoing_an_architecture_change_brings_the_replay_back():
    from cnnstudio.core.playground import Playground

    train, test = load_mnist_5k()
    train, test = Digits(train.images[:96], train.labels[:96], "tiny"), Digits(test.images[:32], test.labels[:32], "t")
    playground = Playground(Network(seed=1))
    session = TrainingSession(playground, InlineDriver())
    session.start(TrainingSettings(epochs=1, batch_size=32), train, test)
    session.driver.advance(10)
    steps = list(session.replay.steps)
    assert len(steps) >= 2

    playground.set_network(Network(layers_for("Tiny"), seed=2), undo_text="architecture change")
    assert len(session.replay) == 0  # the new network has no past
    playground.undo()
    assert session.replay.steps == steps  # the trained network is back, and so is its past

    playground.set_conv_settings(0, kernel=5, padding=2)
    assert len(session.replay) == 0
    playground.undo()
    assert session.replay.steps == steps
