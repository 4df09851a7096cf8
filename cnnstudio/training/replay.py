"""The training replay, Qt-free: a bounded set of weight snapshots spread evenly over a run.

``ReplayRecorder`` keeps at most ``budget`` snapshots (and at most ``max_bytes``).  Snapshots
are *anchors* at steps that are multiples of ``interval`` (the first report at or after each
multiple), plus the newest, always kept.  When the recorder is full, the anchors are thinned
to one per ``2 * interval`` steps (every other one) and the interval doubles, so at any time
the anchors are evenly spaced over the steps so far.  Every snapshot but the newest is stored
compressed (io/replay_file.py: float16, a stated maximum error); the newest is exact.

The recorder runs on the GUI thread (the session's weights reports): storing a snapshot costs
about 0.1 ms for the default network and 1 to 2 ms for the 'Wide' architecture, and only anchors
are stored, so most reports cost a copy of the weights and nothing more.  Sizes measured
(``benchmarks/bench_inspect_replay.py``): the default network (9,098 weights) takes about 18 KB
per snapshot (100 snapshots: about 1.8 MB); the 'Wide' architecture (220,234 weights) about
430 KB, so ``max_bytes`` (16 MB) holds 18 to 37 of its snapshots.
"""
from __future__ import annotations

import numpy as np

from cnnstudio.base.events import EventGroup
from cnnstudio.io.replay_file import ReplayData, Snapshot

DEFAULT_BUDGET = 100
DEFAULT_MAX_BYTES = 16_000_000


class ReplayRecorder:
    """At most ``budget`` snapshots of a network's weights, evenly spaced over the training steps so far.

    Parameters
    ----------
    budget : most snapshots kept (at least 2: the first and the newest)
    max_bytes : most memory the snapshots take; a large network keeps fewer than ``budget``

    Events: ``changed()`` after every change (a snapshot added, cleared, loaded, restored).
    ``problem`` is "" or a line saying why a saved replay could not be loaded.
    """

    def __init__(self, budget: int = DEFAULT_BUDGET, max_bytes: int = DEFAULT_MAX_BYTES):
        if int(budget) < 2:
            raise ValueError(f"ReplayRecorder: budget = {budget!r} keeps too few snapshots. Fix: keep at least 2 "
                             f"(the first and the newest).")
        self.events = EventGroup("changed")
        self.budget = int(budget)
        self.max_bytes = int(max_bytes)
        self.interval = 1
        self.problem = ""
        self._snapshots: list[Snapshot] = []
        self._shapes: tuple = ()

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._snapshots)

    @property
    def steps(self) -> list[int]:
        """The step of each snapshot, oldest first."""
        return [s.step for s in self._snapshots]

    @property
    def losses(self) -> list[float | None]:
        """The batch loss recorded with each snapshot (None at a run's start)."""
        return [s.loss for s in self._snapshots]

    @property
    def shapes(self) -> tuple:
        """The shapes of the recorded parameter arrays (``Network.params`` order); () when empty."""
        return self._shapes

    @property
    def nbytes(self) -> int:
        """Memory the snapshots' weights take, in bytes."""
        return sum(s.nbytes for s in self._snapshots)

    def state_at(self, index: int) -> list[np.ndarray]:
        """The weights of snapshot ``index`` as new float32 arrays, like ``Network.params``."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"ReplayRecorder.state_at: index {index} is outside 0..{len(self) - 1}. "
                             f"Fix: pick one of the {len(self)} snapshots.")
        return self._snapshots[index].weights(self._shapes)

    def nearest(self, step: float) -> int:
        """The index of the snapshot whose step is closest to ``step`` (the earlier one on a tie); -1 when empty."""
        if not self._snapshots:
            return -1
        steps = np.asarray(self.steps)
        return int(np.argmin(np.abs(steps - float(step))))

    # ------------------------------------------------------------------ recording
    def add(self, step: int, state, loss: float | None = None) -> None:
        """Record the weights ``state`` (list of arrays, copied) at training ``step``.

        A step at or before the newest one replaces the snapshots from that step on (the same
        step reported twice, or curves that were reset).  Another architecture starts afresh.
        """
        step = int(step)
        state = tuple(np.array(a, dtype=np.float32) for a in state)
        shapes = tuple(a.shape for a in state)
        if shapes != self._shapes:
            self._snapshots, self.interval, self._shapes = [], 1, shapes
        while self._snapshots and self._snapshots[-1].step >= step:
            self._snapshots.pop()
        if self._snapshots:
            newest = self._snapshots.pop()
            if newest.anchor:  # it stays, compressed, as an evenly spaced one
                self._snapshots.append(newest.compressed())
        anchors = [s.step for s in self._snapshots if s.anchor]
        due = not anchors or step >= (anchors[-1] // self.interval + 1) * self.interval
        self._snapshots.append(Snapshot(step, None if loss is None else float(loss), due, state=state))
        while (len(self._snapshots) > self.budget or self.nbytes > self.max_bytes) and len(self._snapshots) > 2:
            self._thin()
        self.problem = ""
        self.events.changed.emit()

    def _thin(self) -> None:
        """Keep the first anchor of every ``2 * interval`` steps (and the newest); the interval doubles."""
        self.interval *= 2
        kept, buckets = [], set()
        *older, newest = self._snapshots
        for snapshot in older:
            bucket = snapshot.step // self.interval
            if snapshot.anchor and bucket not in buckets:
                buckets.add(bucket)
                kept.append(snapshot)
        if newest.anchor and newest.step // self.interval in buckets:
            newest = Snapshot(newest.step, newest.loss, False, newest.kinds, newest.blob, newest.state)
        self._snapshots = kept + [newest]

    def clear(self) -> None:
        """Forget every snapshot (a reset, another architecture)."""
        if self._snapshots or self.problem:
            self._snapshots, self.interval, self._shapes, self.problem = [], 1, (), ""
            self.events.changed.emit()

    # ------------------------------------------------------------------ saving, loading, undo
    def to_data(self) -> ReplayData:
        """The snapshots to save in a model file (``io.replay_file.replay_entry``)."""
        return ReplayData(self.interval, tuple(self._snapshots))

    def load(self, data: ReplayData | None, shapes, problem: str = "") -> None:
        """Take a saved replay of a network with parameter ``shapes`` (None: none was saved; ``problem``: why)."""
        self._snapshots = list(data.snapshots) if data is not None else []
        self.interval = data.interval if data is not None else 1
        self._shapes = tuple(tuple(shape) for shape in shapes) if self._snapshots else ()
        self.problem = problem
        self.events.changed.emit()

    def memento(self) -> tuple:
        """What ``restore`` needs to bring back the snapshots as they are now (cheap: snapshots never change)."""
        return self.interval, tuple(self._snapshots), self._shapes, self.problem

    def restore(self, memento: tuple) -> None:
        self.interval, snapshots, self._shapes, self.problem = memento
        self._snapshots = list(snapshots)
        self.events.changed.emit()
