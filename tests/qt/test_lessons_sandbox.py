"""Lessons run in a sandbox: the learner's network comes back exactly unless they keep the lesson's change."""
import numpy as np

from cnnstudio.lessons.guided import LESSONS, LESSONS_BY_KEY


def predictions(window) -> list[np.ndarray]:
    """The probabilities the window shows for the sample digits 0-9, drawn on the canvas."""
    shown = []
    for digit in range(10):
        window.canvas_model.clear()
        window.draw_sample_digit(digit)
        window.flush_updates()
        shown.append(window.playground.trace.probabilities.copy())
    return shown


def same_state(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def test_every_lesson_in_order_leaves_the_predictions_and_weights_as_they_were(qtbot, window):
    playground = window.playground
    network, reference = playground.network, playground.reference_state
    weights, undo_depth = network.get_state(), len(playground.undo_stack)
    before = predictions(window)
    for lesson in LESSONS:
        window.run_lesson(lesson)   # each lesson ends the one before
        window.flush_updates()
        assert window.explain_panel.lesson is lesson
    window.explain_dock.end_lesson()
    assert window.explain_panel.banner_box.isHidden()
    assert playground.network is network and playground.reference_state is reference
    assert same_state(network.get_state(), weights) and len(playground.undo_stack) == undo_depth
    assert all(np.array_equal(a, b) for a, b in zip(predictions(window), before))


def test_closing_the_explain_dock_ends_the_lesson(qtbot, window):
    playground = window.playground
    network, weights = playground.network, playground.network.get_state()
    window.run_lesson(LESSONS_BY_KEY["stride"])
    assert playground.network is not network and playground.network.conv_specs[0].stride == 2
    window.explain_dock.close()
    assert playground.network is network and same_state(network.get_state(), weights)
    assert window.explain_panel.lesson is None


def test_keep_this_change_keeps_it_and_undo_takes_it_back(qtbot, window):
    playground = window.playground
    network, reference, weights = playground.network, playground.reference_state, playground.network.get_state()
    window.run_lesson(LESSONS_BY_KEY["sobel"])
    panel = window.explain_panel
    assert panel.keep_button.isVisible() and panel.end_button.isVisible()
    panel.keep_button.click()
    kept = playground.network
    assert kept is not network and panel.lesson is None
    window.run_lesson(LESSONS_BY_KEY["pooling_shift"])   # another lesson: the kept change stays
    window.explain_dock.end_lesson()
    assert playground.network is kept
    assert playground.undo_stack.undo_text == "lesson 'Edge detection with Sobel'"
    playground.undo()   # Edit > Undo
    assert playground.network is network and playground.reference_state is reference
    assert same_state(network.get_state(), weights)


def test_changes_the_learner_makes_during_a_lesson_are_one_undo_away_after_it(qtbot, window):
    playground = window.playground
    network, weights = playground.network, playground.network.get_state()
    window.run_lesson(LESSONS_BY_KEY["padding"])
    playground.set_conv_settings(0, padding=0)   # the lesson asks for this
    playground.set_kernel_cell(0, 1, 0, 1, 1, 2.5)
    edited = playground.network
    window.explain_panel.end_button.click()
    assert playground.network is network and same_state(network.get_state(), weights)
    assert playground.undo_stack.undo_text == "end of lesson"
    playground.undo()
    assert playground.network is edited and playground.network.weight(0)[1, 0, 1, 1] == 2.5


def test_undoing_the_lesson_while_it_runs_ends_its_sandbox(qtbot, window):
    playground = window.playground
    network = playground.network
    window.run_lesson(LESSONS_BY_KEY["blur_sharpen"])
    playground.undo()
    assert playground.network is network
    depth = len(playground.undo_stack)
    window.explain_dock.end_lesson()   # nothing more to put back, nothing of the learner's undone
    assert playground.network is network and len(playground.undo_stack) == depth


def test_a_lesson_shows_the_layer_and_the_picture_it_talks_about(qtbot, window):
    panel = window.explain_panel
    step = panel.view("step")
    step.stage_box.setCurrentIndex(1)   # the learner looked at conv 2 before
    window.run_lesson(LESSONS_BY_KEY["padding"])
    assert step.model.stage == 0 and step.stage_box.currentIndex() == 0 and step.model.filter == 0
    assert step.model.step().stage == 0 and step.model.phase == "conv"
    xo = panel.view("xo")
    xo.lesson.draw("O")
    xo.lesson.shift(0, 1)
    window.run_lesson(LESSONS_BY_KEY["pooling_shift"])
    assert xo.lesson.prediction[0] == "X"
    from cnnstudio.lessons.xo import X_IMAGE
    assert np.array_equal(xo.lesson.image, X_IMAGE)
