"""The canvas model: soft strokes, stroke-wise undo, image loading, MNIST framing, size changes."""
import subprocess
import sys

import numpy as np
import pytest

from cnnstudio.core.canvas import CanvasModel, sample_digit_strokes
from cnnstudio.imaging.framing import mnist_frame
from cnnstudio.imaging.resample import fit_into, resample


class Recorder:
    """Counts each event a model emits."""

    def __init__(self, model):
        self.counts = {}
        for name in ("image_changed", "history_changed", "size_changed", "brush_size_changed",
                     "mnist_framing_changed"):
            getattr(model.events, name).connect(lambda name=name: self._count(name))

    def _count(self, name):
        self.counts[name] = self.counts.get(name, 0) + 1

    def __getitem__(self, name):
        return self.counts.get(name, 0)


def draw(model, points, erase=False):
    model.begin_stroke(*points[0], erase=erase)
    for x, y in points[1:]:
        model.stroke_to(x, y)
    model.end_stroke()


def centre_of_mass(image):
    """(row, col) in continuous coordinates: pixel (i, j) has its centre at (i + 0.5, j + 0.5)."""
    rows, cols = np.indices(image.shape) + 0.5
    return (image * rows).sum() / image.sum(), (image * cols).sum() / image.sum()


def bounding_box(image, threshold=0.0):
    rows, cols = np.nonzero(image > threshold)
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1


def test_a_new_canvas_is_black_float32_in_digit_mode():
    model = CanvasModel()
    assert model.image.shape == (28, 28) and model.image.dtype == np.float32
    assert model.is_empty and model.is_digit_mode
    assert not model.can_undo and not model.can_redo
    assert 2 <= model.brush_size <= 3


def test_a_stroke_paints_soft_light_ink_and_announces_it():
    model = CanvasModel()
    events = Recorder(model)
    draw(model, [(5, 14), (23, 14)])  # horizontal, on the edge between rows 13 and 14
    image = model.image
    assert image.max() == pytest.approx(1.0) and image.min() == 0.0
    assert image[13:15, 8:20].min() == pytest.approx(1.0)  # the core is full ink
    edge = image[:, 14]
    soft = edge[(edge > 0) & (edge < 1)]
    assert len(soft) >= 2, "the brush has an anti-aliased rim"
    assert image[:10].max() == 0 and image[19:].max() == 0  # and stays local
    assert events["image_changed"] >= 2 and events["history_changed"] == 1


def test_the_rim_falls_off_smoothly_across_the_stroke():
    model = CanvasModel(128)
    model.set_brush_size(12)
    draw(model, [(20, 64.5), (100, 64.5)])
    profile = model.image[64:80, 60]
    assert np.all(np.diff(profile) <= 1e-6), "ink decreases away from the stroke"
    assert np.count_nonzero((profile > 0.05) & (profile < 0.95)) >= 3


def test_one_stroke_is_one_undo_step_and_undo_redo_restore_exactly():
    model = CanvasModel()
    draw(model, [(5, 5), (10, 8), (15, 12), (20, 20)])
    after_first = model.image.copy()
    draw(model, [(20, 5), (8, 22)])
    after_second = model.image.copy()

    model.undo()
    np.testing.assert_array_equal(model.image, after_first)
    assert model.can_undo and model.can_redo
    model.undo()
    assert model.is_empty and not model.can_undo
    model.redo()
    np.testing.assert_array_equal(model.image, after_first)
    model.redo()
    np.testing.assert_array_equal(model.image, after_second)
    assert not model.can_redo


def test_a_new_stroke_after_undo_drops_the_redo_steps():
    model = CanvasModel()
    draw(model, [(5, 5), (20, 20)])
    model.undo()
    draw(model, [(5, 20), (20, 5)])
    assert not model.can_redo


def test_the_eraser_removes_ink_and_is_undoable():
    model = CanvasModel()
    draw(model, [(4, 14), (24, 14)])
    drawn = model.image.copy()
    draw(model, [(14, 4), (14, 24)], erase=True)
    assert model.image[13:15, 13:15].max() == 0.0
    assert model.image[13:15, 5:9].min() == pytest.approx(1.0)  # ink away from the eraser stays
    assert model.image.max() <= 1.0 and model.image.min() >= 0.0
    model.undo()
    np.testing.assert_array_equal(model.image, drawn)


def test_a_stroke_that_changes_nothing_adds_no_undo_step():
    model = CanvasModel()
    draw(model, [(5, 5), (20, 20)], erase=True)
    assert not model.can_undo


def test_clear_is_undoable():
    model = CanvasModel()
    model.stamp_sample_digit(7)
    drawn = model.image.copy()
    model.clear()
    assert model.is_empty
    model.undo()
    np.testing.assert_array_equal(model.image, drawn)


def test_strokes_off_the_canvas_are_clipped():
    model = CanvasModel()
    draw(model, [(-10, -10), (40, 40)])  # the diagonal, from outside to outside
    assert model.image[14, 14] == pytest.approx(1.0)
    draw(model, [(-50, -50), (-40, -40)])  # wholly outside: nothing happens


def test_brush_size_changes_the_stroke_width():
    widths = []
    for brush in (1.5, 4.0):
        model = CanvasModel()
        model.set_brush_size(brush)
        draw(model, [(4, 14), (24, 14)])
        widths.append(model.image[:, 14].sum())
    assert widths[1] > widths[0] * 2


def test_the_sample_digit_looks_like_mnist():
    model = CanvasModel()
    model.stamp_sample_digit(3)
    strokes = sample_digit_strokes(3)
    assert model.can_undo
    top, bottom, left, right = bounding_box(model.image, 0.05)
    assert 16 <= bottom - top <= 24 and 8 <= right - left <= 18
    framed = mnist_frame(model.image)
    assert 0.07 < framed.mean() < 0.2  # MNIST's mean intensity is 0.13
    assert all(s.shape[1] == 2 for s in strokes)
    for digit in range(10):
        assert sample_digit_strokes(digit, 128)[0].max() < 128


# -- MNIST framing
def test_framing_fits_the_box_into_20_and_centres_the_mass():
    model = CanvasModel()
    draw(model, [(3, 3), (9, 3), (9, 12), (3, 12)])  # a small lopsided hook in the corner
    model.set_mnist_framing(True)
    framed = model.network_input()
    top, bottom, left, right = bounding_box(framed)
    assert max(bottom - top, right - left) == 20
    row, col = centre_of_mass(framed)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    assert framed.dtype == np.float32 and framed.max() <= 1.0


def test_framing_keeps_the_aspect_ratio():
    model = CanvasModel()
    draw(model, [(14, 4), (14, 24)])  # a tall thin "1"
    model.set_mnist_framing(True)
    top, bottom, left, right = bounding_box(model.network_input())
    assert bottom - top == 20 and right - left <= 6


def test_framing_leaves_an_empty_canvas_empty_and_is_off_by_default():
    model = CanvasModel()
    model.set_mnist_framing(True)
    assert not model.network_input().any()
    model.set_mnist_framing(False)
    draw(model, [(3, 3), (9, 9)])
    np.testing.assert_array_equal(model.network_input(), model.image)


def test_switching_framing_announces_a_new_network_input():
    model = CanvasModel()
    model.set_mnist_framing(False)  # on by default
    events = Recorder(model)
    model.set_mnist_framing(True)
    model.set_mnist_framing(True)
    assert events["mnist_framing_changed"] == 1 and events["image_changed"] == 1


def test_framing_applies_only_in_digit_mode():
    model = CanvasModel(64)
    draw(model, [(5, 5), (15, 15)])
    model.set_mnist_framing(True)
    np.testing.assert_array_equal(model.network_input(), model.image)


# -- loading images
def test_load_image_inverts_dark_on_light_digits_and_fits_them():
    photo = np.ones((60, 30), dtype=np.float32) * 0.9  # off-white paper, twice as tall as wide
    photo[10:50, 13:17] = 0.1  # a dark "1"
    model = CanvasModel()
    model.load_image(photo)
    image = model.image
    assert image.shape == (28, 28)
    assert image[14].max() > 0.9  # ink became light (4 px shrunk to 1.9 px: not quite full)
    assert image[2, 14] == pytest.approx(0.0, abs=0.01)  # paper became black
    assert image[:, :6].max() == 0.0 and image[:, 22:].max() == 0.0  # 30 wide -> 14 wide, centred
    assert model.can_undo


def test_load_image_keeps_light_on_dark_and_accepts_uint8_and_colour():
    digit = np.zeros((28, 28, 3), dtype=np.uint8)
    digit[5:23, 12:16] = 255
    model = CanvasModel()
    model.load_image(digit)
    assert model.image[14, 13] == pytest.approx(1.0) and model.image[14, 3] == 0.0


def test_image_mode_loads_photos_as_they_are():
    photo = np.linspace(0.2, 0.9, 100 * 100, dtype=np.float32).reshape(100, 100)
    model = CanvasModel(128)
    model.load_image(photo)
    assert model.image.shape == (128, 128)
    assert model.image.mean() == pytest.approx(photo.mean(), abs=0.02)  # not inverted, not stretched


def test_load_image_rejects_bad_arrays_and_keeps_the_drawing():
    model = CanvasModel()
    model.stamp_sample_digit(3)
    drawn = model.image.copy()
    for bad in (np.zeros((0, 5)), np.full((4, 4), np.nan), np.zeros((2, 2, 2, 2))):
        with pytest.raises(ValueError):
            model.load_image(bad)
    np.testing.assert_array_equal(model.image, drawn)


# -- sizes
def test_set_size_resamples_and_undo_restores_the_digit_mode():
    model = CanvasModel()
    model.stamp_sample_digit(3)
    digit = model.image.copy()
    events = Recorder(model)
    model.set_size(128)
    assert model.size == 128 and model.image.shape == (128, 128) and not model.is_digit_mode
    assert model.image.mean() == pytest.approx(digit.mean(), abs=0.01)
    assert model.brush_size == pytest.approx(128 / 28 * CanvasModel().brush_size)
    assert events["size_changed"] == 1
    model.undo()
    assert model.size == 28
    np.testing.assert_array_equal(model.image, digit)
    assert events["size_changed"] == 2
    with pytest.raises(ValueError):
        model.set_size(40)


def test_brush_size_is_clamped_and_announced():
    model = CanvasModel()
    events = Recorder(model)
    model.set_brush_size(100)
    assert model.brush_size == pytest.approx(7.0)
    model.set_brush_size(7.0)
    assert events["brush_size_changed"] == 1


def test_resample_preserves_the_mean_and_fit_into_centres():
    rng = np.random.default_rng(0)
    image = rng.random((50, 70)).astype(np.float32)
    for shape in ((25, 35), (100, 140), (28, 28)):
        assert resample(image, shape).mean() == pytest.approx(image.mean(), abs=0.01)
    np.testing.assert_allclose(resample(image, (50, 70)), image, atol=1e-6)
    wide = fit_into(np.ones((10, 20), np.float32), 28)
    assert bounding_box(wide) == (7, 21, 0, 28)


def test_the_model_does_not_import_qt():
    code = "import sys, cnnstudio.core.canvas; sys.exit('PySide6' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_framing_maps_drawing_and_network_input_both_ways():
    model = CanvasModel()
    model.stamp_sample_digit(7)
    framing = model.framing()
    assert framing is not None
    for point in [(3.0, 4.5), (10.25, 20.0), (27.0, 1.0)]:
        assert framing.to_canvas(*framing.to_network(*point)) == pytest.approx(point)
    # the drawing's ink box lands on the framed input's ink box (within the rounding of the resampling)
    ink = np.argwhere(model.image > 0.1)
    framed_ink = np.argwhere(model.network_input() > 0.1)
    top_left = framing.to_network(*ink.min(axis=0))
    bottom_right = framing.to_network(*(ink.max(axis=0) + 1))
    assert top_left == pytest.approx(framed_ink.min(axis=0), abs=1.5)
    assert bottom_right == pytest.approx(framed_ink.max(axis=0) + 1, abs=1.5)


def test_no_framing_means_no_transform():
    model = CanvasModel()
    assert model.framing() is None  # nothing drawn
    model.stamp_sample_digit(3)
    model.set_mnist_framing(False)
    assert model.framing() is None


# -- brushes thinner than a pixel

def connected(mask) -> bool:
    """Whether the True pixels of ``mask`` form one 8-connected piece."""
    start = tuple(np.argwhere(mask)[0])
    seen, todo = {start}, [start]
    while todo:
        i, j = todo.pop()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                n = (i + di, j + dj)
                if 0 <= n[0] < mask.shape[0] and 0 <= n[1] < mask.shape[1] and mask[n] and n not in seen:
                    seen.add(n)
                    todo.append(n)
    return len(seen) == int(mask.sum())


@pytest.mark.parametrize("points", [[(1.0, 3.0), (27.0, 20.0)],      # a slanted line between pixel centres
                                    [(0.2, 14.0), (27.8, 14.0)],     # along a pixel boundary
                                    [(2.0, 2.0), (26.0, 26.0)]])     # the diagonal
def test_a_half_pixel_brush_draws_a_connected_line(points):
    model = CanvasModel()
    model.set_brush_size(0.5)
    assert model.brush_size == pytest.approx(0.5)
    draw(model, points)
    (x0, _), (x1, _) = points
    ink = model.image > 0.05
    for col in range(int(np.ceil(x0)), int(np.floor(x1))):  # every column the stroke crosses
        assert ink[:, col].any(), col
    assert connected(ink)
    assert ink.sum() < 3 * 28  # still a thin line, not a thick one


def test_a_half_pixel_eraser_removes_ink_along_its_path():
    model = CanvasModel()
    model.set_brush_size(6.0)
    draw(model, [(2.0, 14.0), (26.0, 14.0)])  # a thick horizontal bar
    assert model.image[14, 3:25].min() == pytest.approx(1.0)
    model.set_brush_size(0.5)
    draw(model, [(14.5, 2.0), (14.5, 26.0)], erase=True)  # a thin vertical cut through it
    assert model.image[10:19, 14].max() == pytest.approx(0.0)  # erased where it passed
    assert model.image[14, 3:12].min() == pytest.approx(1.0)  # and nowhere else
    assert model.image[14, 17:25].min() == pytest.approx(1.0)
