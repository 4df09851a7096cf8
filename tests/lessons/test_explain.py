"""The step-through replays the engine's forward pass, one step at a time."""
import numpy as np
import pytest

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.engine.shapes import symmetric_fixes
from cnnstudio.lessons.step_through import PHASES, StepThrough, axis_slide
from cnnstudio.lessons.guided import sample_digit_image


@pytest.fixture(scope="module")
def digit():
    return sample_digit_image(3)


def replay_conv(step_through):
    """Step through the conv phase as the view does; return the map built from the steps and the visit counts."""
    span = step_through.span("conv")
    built = np.full((step_through.rows.positions, step_through.cols.positions), np.nan)
    visits = np.zeros(built.shape, dtype=int)
    step_through.go_to(span.start)
    while True:
        step = step_through.step()
        if step.phase != "conv":
            break
        built[step.detail.row, step.detail.col] = step.detail.value
        visits[step.detail.row, step.detail.col] += 1
        if not step_through.step_forward():
            break
    return built, visits


@pytest.mark.parametrize("spec", [ConvSpec(4, 3, padding=1), ConvSpec(4, 5, stride=2, padding=2),
                                  ConvSpec(4, 4, stride=3, padding="same", pool="avg")])
def test_stepping_reaches_every_output_pixel_once_and_rebuilds_the_engine_map(spec, digit):
    network = Network([spec, ConvSpec(3, 3, padding=1), DenseSpec(10)], seed=1)
    step_through = StepThrough(network, digit, stage=0, filter=2)
    built, visits = replay_conv(step_through)
    assert (visits == 1).all()
    engine = network.forward_maps(digit).stages[0]
    np.testing.assert_allclose(built, engine.conv[2], atol=1e-5)
    np.testing.assert_allclose(step_through.conv_filled(step_through.span("conv").stop - 1), engine.conv[2], atol=1e-5)
    np.testing.assert_allclose(step_through.activation, engine.activation[2], atol=1e-5)
    np.testing.assert_allclose(step_through.pooled, engine.pooled[2], atol=1e-5)


def test_second_stage_and_the_end_of_the_network_match_the_engine(digit):
    network = Network(seed=0)
    step_through = StepThrough(network, digit, stage=1, filter=5)
    trace = network.forward_maps(digit)
    np.testing.assert_allclose(step_through.conv, trace.stages[1].conv[5], atol=1e-4)
    step_through.go_to(step_through.count - 1)
    np.testing.assert_allclose(step_through.flat_filled(), trace.flat, atol=1e-6)
    np.testing.assert_allclose(step_through.dense_filled(0), trace.logits, atol=1e-4)
    np.testing.assert_allclose(step_through.probabilities_filled(), trace.probabilities, atol=1e-5)
    assert [span.name for span in step_through.spans] == list(PHASES)


def test_filled_maps_grow_one_pixel_per_step(digit):
    step_through = StepThrough(Network(seed=0), digit)
    step_through.go_to(10)
    assert np.isfinite(step_through.conv_filled()).sum() == 11
    assert np.isnan(step_through.activation_filled()).all()
    step_through.go_to_phase("activation")
    assert np.isfinite(step_through.conv_filled()).all()
    assert np.isfinite(step_through.activation_filled()).sum() == 1
    assert step_through.step_back() and step_through.phase == "conv"


def test_relu_steps_flag_the_zeroed_negatives(digit):
    step_through = StepThrough(Network(seed=0), digit)
    span = step_through.span("activation")
    zeroed = [step_through.step(i).detail for i in range(span.start, span.stop)]
    assert sum(d.zeroed for d in zeroed) == int((step_through.conv < 0).sum()) > 0
    assert all(d.after == 0 for d in zeroed if d.zeroed)


def test_max_pool_steps_mark_the_window_maximum(digit):
    step_through = StepThrough(Network(seed=0), digit)
    span = step_through.span("pool")
    for i in range(span.start, span.stop, 17):
        d = step_through.step(i).detail
        assert step_through.activation[d.winner] == d.value == d.window.max()


def test_asymmetric_slide_marks_the_cells_the_window_never_reaches(digit):
    # (28 - 3 + 2*0) = 25 is odd: with stride 2 the last row and column are never under the window
    network = Network([ConvSpec(2, 3, stride=2, padding=0), DenseSpec(10)], seed=0)
    step_through = StepThrough(network, digit)
    hits = step_through.window_hits()
    np.testing.assert_array_equal(step_through.uncovered, hits == 0)
    assert step_through.uncovered[27].all() and step_through.uncovered[:, 27].all()
    assert step_through.uncovered.sum() == 28 + 28 - 1
    assert len(step_through.slide_warnings) == 1 and "height and the width" in step_through.slide_warnings[0]
    assert "slides across the input symmetrically" in step_through.slide_warnings[0]
    assert "Fix:" in step_through.slide_warnings[0]


def test_symmetric_slide_marks_nothing(digit):
    step_through = StepThrough(Network([ConvSpec(2, 4, stride=2, padding=1), DenseSpec(10)], seed=0), digit)
    assert not step_through.uncovered.any() and step_through.slide_warnings == []
    assert step_through.is_padding.sum() == 30 * 30 - 28 * 28


def test_suggested_fixes_do_slide_symmetrically():
    for fix in symmetric_fixes(28, 3, 2, 1):
        kernel, padding, stride = 3, 1, 2
        words = fix.split()
        for name, value in zip(words[::2], words[1::2]):
            if name == "with":
                continue
            kernel, padding, stride = ((int(value), padding, stride) if name == "kernel" else
                                       (kernel, int(value), stride) if name == "padding" else
                                       (kernel, padding, int(value)))
        if "with padding" in fix:
            padding = int(words[-1])
        assert axis_slide("width", 28, kernel, stride, padding).left_over == 0, fix


def test_a_non_square_input_gets_one_warning_per_uncovered_axis():
    network = Network([ConvSpec(2, 3, stride=2, padding=0), DenseSpec(10)], input_shape=(1, 28, 27), seed=0)
    step_through = StepThrough(network, np.zeros((28, 27), np.float32))
    assert len(step_through.slide_warnings) == 1 and "height" in step_through.slide_warnings[0]
    assert step_through.uncovered[27].all() and not step_through.uncovered[:27].any()


@pytest.mark.parametrize("pool, title", [("max", "Pooling: pick the max value from each window"),
                                         ("avg", "Pooling: average each window")])
def test_the_pool_phase_title_names_the_kind_of_pooling(digit, pool, title):
    network = Network([ConvSpec(2, 3, padding=1, pool=pool), DenseSpec(10)], seed=0)
    step_through = StepThrough(network, digit)
    assert step_through.phase_title("pool") == title
    step_through.go_to_phase("pool")
    assert step_through.phase_title() == title
    assert step_through.phase_title("conv") == "Convolution: the kernel slides over the input"
    assert ("max" in step_through.phase_title()) == (pool == "max")


@pytest.mark.parametrize("spec", [ConvSpec(2, 4, stride=3, padding="same"), ConvSpec(2, 5, stride=2, padding=1)])
def test_the_slides_are_the_networks_geometry(spec):
    """The replay takes its padding and sizes from network.geometry; axis_slide gives the same numbers."""
    network = Network([spec, DenseSpec(10)], input_shape=(1, 20, 17), seed=0)
    step_through = StepThrough(network, np.zeros((20, 17), np.float32))
    g = network.geometry()[0]
    assert step_through.geometry == g
    rows, cols = step_through.rows, step_through.cols
    assert (rows.pad_before, rows.pad_after, rows.positions) == (g.pad_top, g.pad_bottom, g.height)
    assert (cols.pad_before, cols.pad_after, cols.positions) == (g.pad_left, g.pad_right, g.width)
    assert rows == axis_slide("height", 20, spec.kernel, spec.stride, spec.padding)
    assert cols == axis_slide("width", 17, spec.kernel, spec.stride, spec.padding)
    assert step_through.pooled.shape == g.map_shape("pooled")
