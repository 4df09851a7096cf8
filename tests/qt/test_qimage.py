"""``qimage_rgba``: image data dropped as a ``QImage`` gives the pixels its file gives (same shrink too)."""
import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from cnnstudio.imaging.files import MAX_SIDE, read_rgba
from cnnstudio.qt.widgets.qimage import qimage_rgba


def test_a_null_image_is_empty():
    assert qimage_rgba(QImage()).shape == (0, 0, 4)


def test_a_qimage_gives_what_its_file_gives(tmp_path):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)  # odd width: rows are padded in a QImage
    Image.fromarray(rgba).save(tmp_path / "small.png")
    large = np.zeros((1300, 1100, 4), np.uint8)
    large[..., :3] = 255
    large[100:1200, 200:900, 3] = rng.integers(0, 256, (1100, 700), dtype=np.uint8)
    Image.fromarray(large).save(tmp_path / "large.png")
    for name in ("small.png", "large.png"):
        path = str(tmp_path / name)
        from_qimage = qimage_rgba(QImage(path))
        assert from_qimage.dtype == np.uint8 and max(from_qimage.shape[:2]) <= MAX_SIDE
        np.testing.assert_array_equal(from_qimage, read_rgba(path), err_msg=name)
    np.testing.assert_array_equal(qimage_rgba(QImage(str(tmp_path / "small.png"))), rgba)


def test_gray_and_premultiplied_qimages_come_out_straight():
    gray = QImage(3, 2, QImage.Format.Format_Grayscale8)
    gray.fill(77)
    assert (qimage_rgba(gray) == [77, 77, 77, 255]).all()
    half = QImage(2, 2, QImage.Format.Format_ARGB32_Premultiplied)
    half.fill(0x80800000)  # red at half opacity, premultiplied
    assert tuple(qimage_rgba(half)[0, 0]) == (255, 0, 0, 128)
