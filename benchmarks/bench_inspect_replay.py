"""The training replay: snapshot sizes and times, and how long the replay tab takes per stroke and per step.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_inspect_replay.py

Prints, for the default network and the 'Wide' architecture: bytes per compressed snapshot, the
snapshots a full recorder keeps and their memory, encode/decode times, the largest error against
float32; what the recorder costs the GUI thread per weights report early in a 'Wide' run (now and
with the zlib level it had before) and the model file's size with the replay; then, in the real window (default network, a drawn 7, 100 snapshots of weights drifting
like training's): the median time of the replay tab's update after a stroke (compare off and on,
the target is 50 ms) and after a step change (slider).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cnnstudio.core.architectures import layers_for
from cnnstudio.engine import Network
from cnnstudio.io.replay_file import decode_state, encode_state
from cnnstudio.training.replay import ReplayRecorder


def median_ms(fn, repeats: int = 30) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1e3 * statistics.median(samples)


def drift(network: Network, rng, scale: float = 0.002) -> None:
    """Move every weight a little, as a training step does."""
    for p in network.params:
        p += rng.normal(0, scale, p.shape).astype(np.float32)


def snapshots(name: str) -> None:
    network = Network(layers_for(name), seed=0)
    rng = np.random.default_rng(0)
    recorder = ReplayRecorder()
    for step in range(1000):
        drift(network, rng)
        recorder.add(step, network.params)
    count = sum(p.size for p in network.params)
    kinds, blob = encode_state(network.params)
    shapes = [p.shape for p in network.params]
    back = decode_state(kinds, blob, shapes)
    error = max(float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 2 ** -14))) for a, b in zip(back, network.params))
    print(f"{name:8s} {count:8,} weights: {len(blob) / 1024:6.1f} KB per snapshot ({4 * count / 1024:.0f} KB as "
          f"float32), encode {median_ms(lambda: encode_state(network.params)):5.1f} ms, decode "
          f"{median_ms(lambda: decode_state(kinds, blob, shapes)):5.1f} ms, largest relative error {error:.1e}; "
          f"after 1,000 steps it keeps {len(recorder)} snapshots every {recorder.interval} steps in "
          f"{recorder.nbytes / 1e6:.2f} MB")


def gui_cost_per_update(name: str = "Wide", updates: int = 150) -> None:
    """What ``ReplayRecorder.add`` costs the GUI thread per weights report early in a run (every report an
    anchor, so each one stores the one before), with the stored zlib stream and with the level-1 deflate
    it used before; then what a model file with the full replay takes on disk and to save."""
    import tempfile

    from cnnstudio.io import replay_file
    from cnnstudio.io.model_file import save_model

    network = Network(layers_for(name), seed=0)
    for level in (1, replay_file._ZLIB_LEVEL):
        replay_file._ZLIB_LEVEL = level
        rng, recorder, samples = np.random.default_rng(0), ReplayRecorder(), []
        for update in range(updates):
            drift(network, rng)
            start = time.perf_counter()
            recorder.add(3 * update, network.params)  # ~3 steps per report, 15 reports a second
            samples.append(1e3 * (time.perf_counter() - start))
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            path = save_model(Path(folder) / "m.cnnmodel", network, replay=recorder.to_data())
            save_ms, size = 1e3 * (time.perf_counter() - start), path.stat().st_size
        print(f"{name}: zlib level {level}: the recorder costs the GUI thread {statistics.mean(samples):.1f} ms "
              f"per weights report on average (median {statistics.median(samples):.1f}, 90th percentile "
              f"{np.percentile(samples, 90):.1f}, slowest {max(samples):.1f} ms) over the first {updates}; its "
              f"{len(recorder)} "
              f"snapshots take {recorder.nbytes / 1e6:.1f} MB; saved with them the model file is "
              f"{size / 1e6:.1f} MB ({save_ms:.0f} ms to save)")


def training_report_timings(name: str = "Wide", reports: int = 60) -> None:
    """What one weights report costs the GUI thread with the replay tab shown and following training: the
    playground's own update (set_weights: its forward pass), the recorder, then the tab's refresh."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from drawings import a_drawn_seven

    from cnnstudio.core.playground import Playground
    from cnnstudio.qt import MainWindow

    window = MainWindow(Playground(Network(layers_for(name), seed=1)))
    window.resize(1400, 1000)
    window.show()
    window.flush_updates()
    window.inspect_dock.show_tab("replay_view")
    view = window.inspect_dock.views["replay_view"]
    window.playground.set_input(a_drawn_seven())
    app.processEvents()
    copy, rng = window.playground.network.copy(), np.random.default_rng(1)
    own, recorder_ms, tab_ms = [], [], []
    for report in range(reports):
        drift(copy, rng, 0.01)
        state = copy.get_state()
        start = time.perf_counter()
        window.playground.set_weights(state)
        middle = time.perf_counter()
        view.recorder.add(3 * report, state, loss=2.0)
        end = time.perf_counter()
        view.refresh()
        own.append(middle - start)
        recorder_ms.append(end - middle)
        tab_ms.append(time.perf_counter() - end)
    print(f"{name}, per weights report while training (replay tab shown, following): the playground "
          f"{1e3 * statistics.median(own):.1f} ms, the recorder {1e3 * statistics.median(recorder_ms):.1f} ms, the "
          f"replay tab {1e3 * statistics.median(tab_ms):.1f} ms (medians; slowest tab "
          f"{1e3 * max(tab_ms[5:]):.1f} ms)")
    window.training.panel.controller.shutdown()
    window.close()


def window_timings() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from drawings import a_drawn_seven

    from cnnstudio.core.playground import Playground
    from cnnstudio.qt import MainWindow

    window = MainWindow(Playground(Network(seed=1)))
    window.resize(1400, 1000)
    window.show()
    window.flush_updates()
    window.inspect_dock.show_tab("replay_view")
    view = window.inspect_dock.views["replay_view"]
    recorder = view.recorder
    copy, rng = window.playground.network.copy(), np.random.default_rng(1)
    for step in range(100):
        recorder.add(step, copy.params, loss=2.3 - step / 50)
        drift(copy, rng, 0.01)
    app.processEvents()
    view.select(10)
    seven = a_drawn_seven()
    images = [np.roll(seven, shift, axis=1) for shift in (-2, -1, 0, 1, 2)]
    counter = iter(range(10 ** 9))

    def stroke_update():  # what a stroke costs the replay tab: the playground's new maps, then the tab's update
        window.playground.set_input(images[next(counter) % len(images)])
        view.refresh()

    def engine_only():
        window.playground.set_input(images[next(counter) % len(images)])

    past = window.playground.network.copy()
    forward = median_ms(lambda: past.forward_maps(window.playground.input), 200)
    base = median_ms(engine_only, 60)
    alone = median_ms(stroke_update, 60)
    view.compare_button.setChecked(True)
    compared = median_ms(stroke_update, 60)
    steps = iter(range(10 ** 9))
    step_change = median_ms(lambda: view.select(next(steps) % 99), 60)
    print(f"replay tab, default network: one forward pass on the copy {forward:.2f} ms; per stroke (playground "
          f"{base:.1f} ms +) the tab {alone - base:.1f} ms, with Compare {compared - base:.1f} ms "
          f"(target 50 ms); per step change (decode, set_state, forward, paint) {step_change:.1f} ms")
    window.training.panel.controller.shutdown()
    window.close()


if __name__ == "__main__":
    for name in ("Default", "Wide"):
        snapshots(name)
    gui_cost_per_update("Wide")
    training_report_timings("Wide")
    window_timings()
