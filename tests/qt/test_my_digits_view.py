"""My digits: a key or a button labels the drawing, the gallery deletes, every change is saved; damage is survived."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from cnnstudio.io.my_digits import MyDigits, default_path
from cnnstudio.qt.training.my_digits_view import ERROR_COLOUR, QtMyDigits


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    return tmp_path


def a_drawing() -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 13:16] = 1.0  # a one
    return image


@pytest.fixture
def drawing():
    return {"image": a_drawing()}


@pytest.fixture
def view(qtbot, drawing):
    view = QtMyDigits(MyDigits(), lambda: drawing["image"].copy())
    view.load()
    qtbot.addWidget(view)
    return view


def saved() -> MyDigits:
    again = MyDigits()
    again.load()
    return again


def test_a_key_labels_the_drawing_and_saves_it(qtbot, view):
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert [(item.label, item.use) for item in view.my_digits] == [(1, "train")]  # not "both": no testing on training data
    assert default_path().exists()
    np.testing.assert_array_equal(saved()[0].image, a_drawing())
    assert view.gallery.count() == 1 and view.gallery.item(0).text().startswith("1")


def test_buttons_label_the_drawing_with_the_chosen_use(qtbot, view):
    view.use_combo.setCurrentIndex(view.use_combo.findData("test"))
    qtbot.mouseClick(view.add_buttons[7], Qt.MouseButton.LeftButton)
    assert [(item.label, item.use) for item in saved()] == [(7, "test")]
    assert "1 for testing" in view.count_label.text()


def test_keys_typed_into_a_field_do_not_add_drawings(qtbot, view):
    window = QWidget()
    field = QLineEdit()
    QVBoxLayout(window).addWidget(field)
    qtbot.addWidget(window)
    view.install_key_labels(window)
    qtbot.keyClicks(field, "42")
    assert field.text() == "42" and len(view.my_digits) == 0
    qtbot.keyClick(window, Qt.Key.Key_4)  # the window itself (nothing typing) takes the key
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)  # a shortcut, not a label
    assert [item.label for item in view.my_digits] == [4]


def test_delete_removes_the_selected_drawings_and_saves(qtbot, view):
    for digit in (3, 5, 8):
        qtbot.keyClick(view, getattr(Qt.Key, f"Key_{digit}"))
    view.gallery.item(1).setSelected(True)
    qtbot.keyClick(view.gallery, Qt.Key.Key_Delete)
    assert [item.label for item in saved()] == [3, 8]
    view.gallery.item(0).setSelected(True)
    view.gallery.item(1).setSelected(True)
    qtbot.mouseClick(view.delete_button, Qt.MouseButton.LeftButton)
    assert len(saved()) == 0 and view.gallery.count() == 0


def test_an_empty_canvas_is_refused(qtbot, view, drawing):
    drawing["image"] = np.zeros((28, 28), np.float32)
    qtbot.keyClick(view, Qt.Key.Key_2)
    assert len(view.my_digits) == 0 and not default_path().exists()
    assert "empty" in view.status_label.text() and ERROR_COLOUR in view.status_label.styleSheet()


def test_a_photo_sized_canvas_is_refused(qtbot, view, drawing):
    drawing["image"] = np.ones((64, 64), np.float32)
    assert not view.add_current(2)
    assert "digit size" in view.status_label.text()


def test_the_saved_set_is_loaded_at_start(qtbot, drawing):
    earlier = MyDigits()
    earlier.add(a_drawing(), 6, "train")
    earlier.save()
    view = QtMyDigits(MyDigits(), lambda: drawing["image"])
    qtbot.addWidget(view)
    assert view.load()
    assert view.gallery.count() == 1 and "1 for training" in view.count_label.text()


def test_a_damaged_file_is_reported_kept_and_never_overwritten(qtbot, drawing):
    path = default_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 this is not a whole npz")
    view = QtMyDigits(MyDigits(), lambda: drawing["image"])
    qtbot.addWidget(view)
    messages = []
    view.message.connect(messages.append)

    assert not view.load()
    assert len(view.my_digits) == 0 and view.gallery.count() == 0
    assert "could not be read" in view.status_label.text() and messages
    assert path.read_bytes() == b"PK\x03\x04 this is not a whole npz"

    qtbot.keyClick(view, Qt.Key.Key_9)  # the first save moves the damaged file aside, then writes
    kept = list(path.parent.glob("my_digits.damaged-*.npz"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"PK\x03\x04 this is not a whole npz"
    assert [item.label for item in saved()] == [9]


def test_new_drawings_are_for_training_unless_test_is_chosen_and_the_keys_follow(qtbot, view):
    assert view.use_combo.currentData() == "train"
    assert [view.use_combo.itemData(k) for k in range(view.use_combo.count())] == ["train", "test"]
    view.use_combo.setCurrentIndex(view.use_combo.findData("test"))
    qtbot.keyClick(view, Qt.Key.Key_4)
    assert [(item.label, item.use) for item in view.my_digits] == [(4, "test")]


def test_the_gallery_shows_white_ink_on_black_as_the_canvas_does(qtbot, view):
    qtbot.keyClick(view, Qt.Key.Key_2)
    icon = view.gallery.item(0).icon().pixmap(56, 56).toImage()
    ink = a_drawing() > 0.5
    rows, cols = np.nonzero(ink)
    scale = icon.width() / 28
    assert icon.pixelColor(int((cols[0] + 0.5) * scale), int((rows[0] + 0.5) * scale)).lightness() > 200
    assert icon.pixelColor(1, 1).lightness() < 30
