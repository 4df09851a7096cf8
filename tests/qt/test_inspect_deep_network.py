"""Every Inspect view on a 4-conv-stage network (the Deep preset) after real training steps: each shows
results computed from that network, none raises, and Grad-CAM and What filters want offer all 4 stages."""
from __future__ import annotations

import numpy as np

from cnnstudio.core.architectures import layers_for
from cnnstudio.engine import Network
from cnnstudio.io.datasets import Digits, load_mnist_5k
from cnnstudio.training import TrainingSettings

TIMEOUT_MS = 60_000


def test_every_inspect_view_follows_a_four_stage_network(qtbot, window):
    window.playground.set_network(Network(layers_for("Deep"), seed=3), undo_text="architecture change")
    assert len(window.playground.network.conv_specs) == 4
    train, test = load_mnist_5k()
    controller = window.training_controller
    controller.start(TrainingSettings(epochs=1, batch_size=32), Digits(train.images[:64], train.labels[:64], "few"),
                     Digits(test.images[:32], test.labels[:32], "few test"))
    qtbot.waitUntil(lambda: controller.state == "idle", timeout=TIMEOUT_MS)
    assert len(controller.session.replay) >= 2
    window.draw_sample_digit(4)
    window.flush_updates()
    dock, views = window.inspect_dock, window.inspect_dock.views

    dock.show_tab("attribution_view")
    attribution = views["attribution_view"]
    assert attribution.layer_box.count() == 4  # Grad-CAM on any of the 4 conv stages
    qtbot.waitUntil(lambda: len(attribution.results) == 5 and not attribution.computer.busy
                    and not attribution._timer.isActive() and not attribution._stale, timeout=TIMEOUT_MS)
    assert all(not isinstance(result, str) for result in attribution.results.values()), attribution.results
    assert all(np.isfinite(result.map).all() and result.map.shape == (28, 28) for result in attribution.results.values())
    assert attribution.layer_box.currentData() == 3, attribution.layer_box.currentIndex()
    assert attribution.results["grad_cam"].stage == 3  # the last conv stage by default

    dock.show_tab("filters_view")
    filters = views["filters_view"]
    assert filters.layer_box.count() == 4
    filters.layer_box.setCurrentIndex(3)
    qtbot.waitUntil(lambda: 3 in filters.ascents, timeout=TIMEOUT_MS)
    ascent = filters.ascents[3][1].ascent
    assert ascent.images.shape[0] == 32 and np.isfinite(ascent.images).all()
    live = filters.ascents[3][1].bound > 0
    assert (ascent.activation[live] > ascent.blank[live]).all()  # every filter that can fire was raised

    dock.show_tab("replay_view")
    replay = views["replay_view"]
    qtbot.waitUntil(lambda: replay.slider.maximum() == len(controller.session.replay) - 1, timeout=TIMEOUT_MS)
    replay.select(0)
    qtbot.waitUntil(lambda: replay.past_trace is not None, timeout=TIMEOUT_MS)
    assert replay.index == 0 and len(replay.past_trace.stages) == 4

    dock.show_tab("adversarial_view")
    adversarial = views["adversarial_view"]
    qtbot.waitUntil(lambda: adversarial.nudge is not None, timeout=TIMEOUT_MS)
    assert adversarial.nudge.image.shape[-2:] == (28, 28)

    dock.show_tab("space_view")
    space = views["space_view"]
    qtbot.waitUntil(lambda: space.space is not None, timeout=TIMEOUT_MS)
    assert space.space.points.shape == (1000, 2) and np.isfinite(space.space.points).all()
