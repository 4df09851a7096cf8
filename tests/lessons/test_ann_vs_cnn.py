"""ANN vs CNN: weight counts by formula, and shift curves measured with the engine."""
import numpy as np
import pytest

from cnnstudio.engine import Network
from cnnstudio.lessons import ann_vs_cnn
from cnnstudio.io.datasets import load_mnist_5k
from cnnstudio.lessons.ann_vs_cnn import ANN_LAYERS, cnn_layers, far_shift_mean, run_comparison, weight_growth, weight_rows
from cnnstudio.training import shift_images


@pytest.mark.parametrize("layers", [ANN_LAYERS, cnn_layers()])
@pytest.mark.parametrize("size", [28, 64])
def test_weight_counts_equal_the_layer_formulas(layers, size):
    rows = weight_rows(layers, (1, size, size))
    assert [row.count for row in rows] == Network(layers, (1, size, size)).weight_counts()


def test_the_ann_weight_matrix_grows_with_the_pixels_the_cnn_kernels_do_not():
    ann, cnn = weight_growth(ANN_LAYERS), weight_growth(cnn_layers())
    assert ann[256][0].count == 256 * 256 * 64 + 64
    assert [r.count for r in cnn[256][:2]] == [r.count for r in cnn[28][:2]] == [8 * 9 + 8, 16 * 8 * 9 + 16]
    assert sum(r.count for r in ann[256]) > 5 * sum(r.count for r in cnn[256])


def test_shift_fills_with_zeros_instead_of_wrapping():
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    shifted = shift_images(image, 1, -2)
    assert (shifted[0] == 0).all() and (shifted[:, 2:] == 0).all()
    np.testing.assert_array_equal(shifted[1:, :2], image[:3, 2:])


def test_the_cnn_shift_curve_is_flatter(monkeypatch):
    train, test = load_mnist_5k()
    measured = []
    original = ann_vs_cnn.shift_accuracy
    monkeypatch.setattr(ann_vs_cnn, "shift_accuracy",
                        lambda *args, **kwargs: measured.append(1) or original(*args, **kwargs))
    result = run_comparison(train, test, epochs=1, train_size=1500, test_size=300)
    assert len(measured) == 2  # both curves come from the engine, not from a table
    assert result.ann_accuracy > 0.6 and result.cnn_accuracy > 0.6
    assert far_shift_mean(result.cnn_curves) > far_shift_mean(result.ann_curves) + 0.05
    centre = result.shifts.index(0)
    assert result.ann_curves["horizontal"][centre] > result.ann_curves["horizontal"][0]
