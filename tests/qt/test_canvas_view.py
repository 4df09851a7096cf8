"""The canvas view, driven as a user: mouse, pen, keys, buttons, drops; checked on the model and the pixels."""
import json
import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import (QColor, QDragEnterEvent, QDropEvent, QImage, QInputDevice, QMouseEvent, QPainter,
                           QPen, QPointingDevice, QTabletEvent)
from PySide6.QtWidgets import QApplication, QFileDialog, QHBoxLayout, QMainWindow, QPushButton, QWidget

from cnnstudio import cli
from cnnstudio.core.canvas import CanvasModel
from cnnstudio.imaging.resample import resample
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model
from cnnstudio.qt.panels.canvas_view import QtCanvas


@pytest.fixture
def canvas(qtbot):
    view = QtCanvas(CanvasModel())
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    return view


def widget_point(canvas, row, col) -> QPointF:
    """The widget position of image coordinate (row, col)."""
    rect = canvas.image_rect()
    scale = rect.width() / canvas.model.size
    return QPointF(rect.x() + col * scale, rect.y() + row * scale)


def move_with_buttons(widget, position: QPointF, buttons):
    # QTest's mouseMove cannot hold a button down: send the event ourselves
    event = QMouseEvent(QEvent.MouseMove, position, widget.mapToGlobal(position), Qt.NoButton, buttons,
                        Qt.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(qtbot, canvas, points, button=Qt.LeftButton):
    """Press at the first (row, col), move through the others, release at the last."""
    positions = [widget_point(canvas, row, col) for row, col in points]
    qtbot.mousePress(canvas, button, pos=positions[0].toPoint())
    for position in positions[1:]:
        move_with_buttons(canvas, position, button)
    qtbot.mouseRelease(canvas, button, pos=positions[-1].toPoint())


def shown_gray(canvas, row, col) -> int:
    """The gray level the widget shows at the centre of image pixel (row, col)."""
    image = canvas.grab().toImage()
    return QColor(image.pixel(widget_point(canvas, row + 0.5, col + 0.5).toPoint())).red()


def test_the_canvas_is_named_square_and_large_enough(canvas):
    assert canvas.objectName() == "canvas"
    rect = canvas.image_rect()
    assert rect.width() == rect.height() >= 280
    assert rect.width() % 28 == 0, "every image pixel is the same number of screen pixels"


def test_dragging_with_the_left_button_draws_and_shows_the_pixels(qtbot, canvas):
    before = canvas.grab().toImage()
    drag(qtbot, canvas, [(14, 4), (14, 12), (14, 24)])
    model = canvas.model
    assert model.image[13:15, 6:22].min() == pytest.approx(1.0)
    assert model.can_undo and canvas.undo_button.isEnabled()
    assert canvas.grab().toImage() != before
    # what is shown is exactly the model's pixels: full ink, a soft rim pixel, and black
    rim_row = next(r for r in range(28) if 0.1 < model.image[r, 14] < 0.9)
    for row, col in ((14, 14), (rim_row, 14), (3, 3)):
        assert shown_gray(canvas, row, col) == pytest.approx(round(model.image[row, col] * 255), abs=1)


def test_one_drag_is_one_undo_step(qtbot, canvas):
    drag(qtbot, canvas, [(5, 5), (10, 10), (20, 12), (22, 22)])
    canvas.undo_button.click()
    assert canvas.model.is_empty and not canvas.undo_button.isEnabled()
    canvas.redo_button.click()
    assert not canvas.model.is_empty


def test_the_right_button_erases(qtbot, canvas):
    drag(qtbot, canvas, [(14, 4), (14, 24)])
    drag(qtbot, canvas, [(4, 14), (24, 14)], button=Qt.RightButton)
    image = canvas.model.image
    assert image[13:15, 13:15].max() == 0.0 and image[13:15, 6:9].min() == pytest.approx(1.0)
    assert shown_gray(canvas, 14, 14) == 0


def test_the_eraser_toggle_makes_the_left_button_erase(qtbot, canvas):
    drag(qtbot, canvas, [(14, 4), (14, 24)])
    qtbot.mouseClick(canvas.eraser_button, Qt.LeftButton)
    drag(qtbot, canvas, [(4, 14), (24, 14)])
    assert canvas.model.image[13:15, 13:15].max() == 0.0


def test_a_pen_draws_like_the_mouse(canvas):
    pen = QPointingDevice("test pen", 1, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                          QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 2)
    for kind, (row, col), buttons in ((QEvent.TabletPress, (14, 4), Qt.LeftButton),
                                      (QEvent.TabletMove, (14, 24), Qt.LeftButton),
                                      (QEvent.TabletRelease, (14, 24), Qt.NoButton)):
        position = widget_point(canvas, row, col)
        event = QTabletEvent(kind, pen, position, canvas.mapToGlobal(position), 0.5, 0, 0, 0, 0, 0,
                             Qt.NoModifier, Qt.LeftButton, buttons)
        QApplication.sendEvent(canvas, event)
    assert canvas.model.image[13:15, 6:22].min() == pytest.approx(1.0)
    assert canvas.model.can_undo and not canvas.model.is_drawing


def test_ctrl_z_undoes_and_ctrl_shift_z_redoes_anywhere_in_the_main_window(qtbot):
    window = QMainWindow()
    central = QWidget()
    layout = QHBoxLayout(central)
    other = QPushButton("elsewhere")
    canvas = QtCanvas(CanvasModel())
    layout.addWidget(other)
    layout.addWidget(canvas)
    window.setCentralWidget(central)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    drag(qtbot, canvas, [(14, 4), (14, 24)])
    other.setFocus()
    qtbot.keyClick(other, Qt.Key_Z, Qt.ControlModifier)
    assert canvas.model.is_empty
    qtbot.keyClick(other, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert not canvas.model.is_empty


def test_clear_button_clears_and_is_undoable(qtbot, canvas):
    canvas.model.stamp_sample_digit(3)
    qtbot.mouseClick(canvas.clear_button, Qt.LeftButton)
    assert canvas.model.is_empty
    qtbot.mouseClick(canvas.undo_button, Qt.LeftButton)
    assert not canvas.model.is_empty


def test_the_brush_slider_sets_the_brush_size(canvas):
    canvas.brush_slider.setValue(50)
    assert canvas.model.brush_size == pytest.approx(5.0)
    assert canvas.brush_value.text() == "5.0 px"
    canvas.model.set_brush_size(2.0)  # and the model moves the slider
    assert canvas.brush_slider.value() == 20


def test_the_size_selector_switches_to_image_mode_and_back(qtbot, canvas):
    canvas.model.stamp_sample_digit(3)
    canvas.size_combo.setCurrentIndex(canvas.size_combo.findData(128))
    assert canvas.model.size == 128
    assert not canvas.framing_check.isEnabled()
    rect = canvas.image_rect()
    assert rect.width() % 128 == 0  # whole screen pixels per image pixel
    drag(qtbot, canvas, [(10, 10), (100, 100)])  # draws in image pixels of the new size
    assert canvas.model.image[55, 55] == pytest.approx(1.0)
    canvas.model.undo()
    canvas.model.undo()
    assert canvas.model.size == 28 and canvas.size_combo.currentData() == 28
    assert canvas.framing_check.isEnabled()


def test_mnist_framing_shows_what_the_network_sees(qtbot, canvas):
    canvas.model.set_mnist_framing(False)  # on by default
    canvas.model.stamp_sample_digit(7)
    assert not canvas.preview.isVisible()
    qtbot.mouseClick(canvas.framing_check, Qt.LeftButton)
    assert canvas.model.mnist_framing and canvas.preview.isVisible()
    shown = canvas.preview.grab().toImage()
    framed = canvas.model.network_input()
    row, col = np.unravel_index(np.argmax(framed), framed.shape)
    scale = canvas.preview.SCALE
    assert QColor(shown.pixel(1 + col * scale + 1, 1 + row * scale + 1)).red() == round(framed[row, col] * 255)
    canvas.model.set_mnist_framing(False)
    assert not canvas.framing_check.isChecked() and not canvas.preview.isVisible()


def digit_png(path, width=40, height=60):
    """A dark vertical bar on white paper, saved as PNG."""
    image = QImage(width, height, QImage.Format_RGB32)
    image.fill(Qt.white)
    painter = QPainter(image)
    painter.setPen(QPen(Qt.black, 6))
    painter.drawLine(width // 2, 8, width // 2, height - 8)
    painter.end()
    assert image.save(str(path))
    return path


def drop(canvas, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    position = canvas.image_rect().center()
    enter = QDragEnterEvent(position, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(canvas, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(position), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(canvas, event)


def test_dropping_a_png_loads_it_inverted_and_fitted(canvas, tmp_path):
    drop(canvas, digit_png(tmp_path / "one.png"))
    image = canvas.model.image
    assert image[14].max() > 0.9 and image[2, 2] == 0.0  # light bar on black, as MNIST
    assert image[:, :5].max() == 0.0  # 40 x 60 fitted: 19 columns wide, centred
    assert shown_gray(canvas, 14, int(np.argmax(image[14]))) > 220
    assert canvas.model.can_undo


def test_a_bad_file_shows_a_message_and_keeps_the_drawing(canvas, tmp_path):
    canvas.model.stamp_sample_digit(3)
    drawn = canvas.model.image.copy()
    bad = tmp_path / "broken.png"
    bad.write_bytes(np.random.default_rng(0).bytes(500))
    drop(canvas, bad)
    assert canvas.message_label.isVisible() and "broken.png" in canvas.message_label.text()
    np.testing.assert_array_equal(canvas.model.image, drawn)
    canvas.model.clear()  # the next change of the drawing dismisses the message
    assert not canvas.message_label.isVisible()


def test_the_open_button_loads_the_chosen_file(qtbot, canvas, tmp_path, monkeypatch):
    path = digit_png(tmp_path / "chosen.bmp")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *args, **kwargs: (str(path), ""))
    qtbot.mouseClick(canvas.open_button, Qt.LeftButton)
    assert canvas.model.image.max() > 0.9


# -- the window and ``predict`` prepare a picture alike (one decoder, one to_gray)
def ink_of(digit, size=112) -> np.ndarray:
    """A digit drawn with the canvas's brush: ink strength float (size, size) in [0, 1]."""
    model = CanvasModel(size)
    model.stamp_sample_digit(digit)
    return model.image


def save_array(path, pixels: np.ndarray, image_format) -> str:
    """Save uint8 pixels (gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4)) with QImage."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    image = QImage(pixels.data, width, height, pixels.strides[0], image_format)
    assert image.copy().save(str(path)), f"could not write {path}"
    return str(path)


def to_uint8(values) -> np.ndarray:
    return np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)


def pictures(folder) -> dict[str, tuple[int, str]]:
    """name -> (the digit drawn, a PNG file) in the ways people hand over a digit."""
    files = {}
    ink = ink_of(4)[..., None]  # dark blue ink on yellowish paper, speckled
    paper, blue = np.array([0.96, 0.88, 0.6]), np.array([0.1, 0.2, 0.75])
    speckle = np.random.default_rng(0).normal(0, 0.03, ink.shape[:2] + (3,))
    colour = to_uint8(paper * (1 - ink) + blue * ink + speckle)
    files["opaque colour"] = 4, save_array(folder / "colour.png", colour, QImage.Format_RGB888)
    for name, digit, rgb in (("white on transparent", 7, 255), ("black on transparent", 2, 0)):
        rgba = np.zeros((112, 112, 4), np.uint8)
        rgba[..., :3] = rgb
        rgba[..., 3] = to_uint8(ink_of(digit))
        files[name] = digit, save_array(folder / f"{digit}-transparent.png", rgba, QImage.Format_RGBA8888)
    files["dark on white"] = 3, save_array(folder / "dark.png", to_uint8(1 - ink_of(3)), QImage.Format_Grayscale8)
    files["grayscale, light on dark"] = 5, save_array(folder / "light.png", to_uint8(0.1 + 0.8 * ink_of(5)),
                                                      QImage.Format_Grayscale8)
    big = np.zeros((1300, 1100, 4), np.uint8)  # larger than the decoder's shrink limit (MAX_SIDE), not square
    big[..., :3] = 255
    big[100:1200, :, 3] = to_uint8(resample(ink_of(9, 256), (1100, 1100)))
    files["large white on transparent"] = 9, save_array(folder / "large.png", big, QImage.Format_RGBA8888)
    return files


@pytest.fixture(scope="module")
def shipped_network():
    return load_model(DEFAULT_MODEL_PATH).network


def predicted_class(network, network_input) -> int:
    return int(np.argmax(network.predict_proba(network_input[None, None])[0]))


def test_a_dropped_file_gives_the_network_what_predict_gives_it(canvas, tmp_path, shipped_network, capsys):
    files = pictures(tmp_path)
    for name, (digit, path) in files.items():
        for framing in (True, False):
            canvas.model.set_mnist_framing(framing)
            drop(canvas, path)
            shown = canvas.model.network_input()
            headless = cli.prepare_digit(cli.read_image(path), framing=framing)
            assert np.array_equal(shown, headless), f"{name}, framing {framing}"
        assert shown.sum() > 20, f"{name}: the digit is lost"
        assert predicted_class(shipped_network, canvas.model.network_input()) == digit, name
    # and predict itself says so: the same class for every picture
    assert cli.main(["predict", "--json", *(path for _, path in files.values())]) == 0
    classes = [json.loads(line)["class"] for line in capsys.readouterr().out.splitlines()]
    assert classes == [digit for digit, _ in files.values()]


def test_dropped_image_data_is_prepared_as_its_file(canvas, tmp_path):
    _, path = pictures(tmp_path)["white on transparent"]
    canvas.load_image_file(path)
    from_file = canvas.model.network_input()
    mime = QMimeData()
    mime.setImageData(QImage(path))
    position = canvas.image_rect().center()
    QApplication.sendEvent(canvas, QDropEvent(QPointF(position), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert canvas.model.can_undo and canvas.model.network_input().sum() > 20
    np.testing.assert_array_equal(canvas.model.network_input(), from_file)


def test_hovering_reports_image_coordinates_and_leaving(qtbot, canvas):
    with qtbot.waitSignal(canvas.hovered) as hovered:
        move_with_buttons(canvas, widget_point(canvas, 7.5, 20.25), Qt.NoButton)
    row, col = hovered.args
    assert row == pytest.approx(7.5) and col == pytest.approx(20.25)
    assert canvas.model.is_empty  # hovering draws nothing
    with qtbot.waitSignal(canvas.left):
        move_with_buttons(canvas, QPointF(2, 2), Qt.NoButton)  # over the margin
    with qtbot.waitSignal(canvas.hovered):
        qtbot.mouseMove(canvas, widget_point(canvas, 3, 3).toPoint())
    with qtbot.waitSignal(canvas.left):
        QApplication.sendEvent(canvas, QEvent(QEvent.Leave))
    move_with_buttons(canvas, widget_point(canvas, 3, 3), Qt.NoButton)
    with qtbot.waitSignal(canvas.left):  # straight into the toolbar: Qt sends a parent no Leave then
        QApplication.sendEvent(canvas.findChild(QWidget, "canvas_toolbar"), QEvent(QEvent.Enter))


def test_highlights_outline_image_regions(canvas):
    canvas.set_highlight([(4, 4, 9, 9, (255, 0, 0)), (10, 10, 11, 11, QColor("lime"))])
    image = canvas.grab().toImage()
    red = QColor(image.pixel(widget_point(canvas, 6.5, 4).toPoint()))
    assert (red.red(), red.green()) == (255, 0)
    assert QColor(image.pixel(widget_point(canvas, 6.5, 6.5).toPoint())).red() == 0  # inside: the image
    canvas.set_highlight([])
    assert QColor(canvas.grab().toImage().pixel(widget_point(canvas, 6.5, 4).toPoint())).red() < 60


def test_an_image_update_is_fast(canvas):
    model = canvas.model
    model.set_size(256)
    model.stamp_sample_digit(3)
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        model.events.image_changed.emit()
        timings.append(time.perf_counter() - start)
    assert min(timings) < 1e-3


def test_a_deleted_view_stops_listening(qtbot):
    import shiboken6

    model = CanvasModel()
    view = QtCanvas(model)
    shiboken6.delete(view)
    model.stamp_sample_digit(1)  # would raise if the dead view were still connected
    assert not model.is_empty
