"""What filters want, in the window: open the tab with the keyboard and a click, switch layers with the
combo's keys, press for the top patches, and see the pictures follow a kernel edit."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from cnnstudio.engine import ConvSpec, DenseSpec, Network
from cnnstudio.qt.inspection.filters_view import CARD_SIZE

SLOW = 90_000  # ms: the machine is shared; an ascent takes 15-100 ms alone


def open_filters(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # View > Inspect panel
    dock = window.inspect_dock
    qtbot.waitUntil(dock.isVisible)
    view = dock.views["filters_view"]
    bar = dock.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(dock.tabs.indexOf(dock.pages["filters_view"])).center())
    qtbot.waitUntil(view.isVisible)
    return view


def shown_pictures(view):
    """Each card's preferred input as grey levels (h, w), read back from the card's QImage."""
    pictures = []
    for card in view.cards:
        assert card.picture is not None and not card.picture.isNull()
        image = card.picture.convertToFormat(card.picture.Format.Format_Grayscale8)
        pictures.append(np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
                        [:, :image.width()].copy())
    return pictures


def test_cards_show_pictures_per_layer_and_top_patches_on_press(qtbot, window):
    view = open_filters(qtbot, window)
    qtbot.waitUntil(lambda: view.ascent_runs >= 1, timeout=SLOW)
    assert view.stage == 0 and len(view.cards) == 8
    result = view.ascents[0][1].ascent
    assert np.isfinite(result.images).all() and result.images.min() >= 0 and result.images.max() <= 1
    pictures = shown_pictures(view)
    # the centre unit's 3x3 field and a pixel around it, outlined on the card
    assert all(p.shape == (5, 5) for p in pictures)
    assert all(card.field == (1, 1, 3, 3) for card in view.cards)
    assert any(p.std() > 10 for p in pictures)  # patterns, not flat grey
    for p in pictures:  # the ring around the field is mid-grey: only the field matters to the unit
        ring = np.concatenate([p[0], p[-1], p[1:-1, 0], p[1:-1, -1]])
        assert np.all(np.abs(ring.astype(int) - int(pictures[0][0, 0])) <= 1) and 100 < ring[0] < 160
    assert "silent" in view.cards[1].caption    # the shipped conv 1 filter 2 can never fire on [0, 1]
    assert "centre" in view.cards[0].caption and "blank" in view.cards[0].caption
    assert "3×3 receptive field" in view.status.text()
    assert "press to compute" in view.findChild(type(view.reason), "filtersPatchesReason").text().lower()

    # the next layer, with the combo's keys
    combo = view.layer_box
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert view.stage == 1
    qtbot.waitUntil(lambda: 1 in view.ascents, timeout=SLOW)
    qtbot.waitUntil(lambda: view.cards[0].picture is not None, timeout=SLOW)
    assert len(view.cards) == 16
    assert all(p.shape == (10, 10) for p in shown_pictures(view))  # conv 2's centre unit sees 8x8 pixels
    assert "8×8 receptive field" in view.status.text()
    assert view.grid.count() == 16  # conv 1's cards left the grid

    # top patches: press, wait, nine per card, finite, from the training digits
    qtbot.mouseClick(view.patches_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: 1 in view.patches, timeout=SLOW)
    top = view.patches[1][1]
    assert top.patches.shape == (16, 9, 1, 8, 8) and np.isfinite(top.patches).all()
    assert all(len(card.patches) == 9 for card in view.cards)
    assert not view.progress.isVisible() and view.patches_button.isEnabled()
    assert "4,000 digits" in view.reason.text()
    assert np.all(np.diff(top.activation, axis=1) <= 0)  # highest first

    # clicking a card selects its filter
    qtbot.mouseClick(view.cards[3], Qt.MouseButton.LeftButton)
    assert view.selected == 3 and view.cards[3].selected and not view.cards[0].selected


def test_a_kernel_edit_reruns_the_pictures_and_marks_patches_stale(qtbot, window):
    view = open_filters(qtbot, window)
    qtbot.waitUntil(lambda: view.ascent_runs >= 1, timeout=SLOW)
    qtbot.mouseClick(view.patches_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: 0 in view.patches, timeout=SLOW)
    before = view.ascents[0][1].ascent.images[0].copy()
    runs = view.ascent_runs
    playground = window.playground
    for value in (-1.0, -1.5, -2.0):  # a burst of edits: coalesced, the newest weights win
        playground.set_kernel_cell(0, 0, 0, 0, 0, value)
        playground.set_kernel_cell(0, 0, 0, 2, 2, -value)
    qtbot.waitUntil(lambda: view.ascents[0][0] == view.version, timeout=SLOW)
    assert view.ascent_runs > runs
    after = view.ascents[0][1].ascent.images[0]
    assert not np.array_equal(before, after)
    # filter 1 now wants ink at the bottom right of its window, none at the top left
    assert view.playground.network.weight(0)[0, 0, 2, 2] == 2.0
    field = view.ascents[0][1].ascent.field
    assert after[0, field.row1, field.col1] > 0.9 and after[0, field.row0, field.col0] < 0.1
    assert "weights changed" in view.reason.text()
    assert np.isfinite(after).all()


def test_hidden_views_wait_and_a_network_without_conv_layers_is_explained(qtbot, window):
    view = window.inspect_dock.views["filters_view"]
    assert not view.isVisible() and view.ascent_runs == 0   # nothing computed while hidden
    window.playground.set_network(Network([DenseSpec(10)], (1, 28, 28)))
    view = open_filters(qtbot, window)
    assert view.stage is None and view.cards == []
    assert "needs a conv layer" in view.status.text()
    assert not view.patches_button.isEnabled() and not view.layer_box.isEnabled()
    qtbot.mouseClick(view.patches_button, Qt.MouseButton.LeftButton)  # disabled: nothing happens, nothing breaks
    assert view.patches == {}


def test_64_filters_scroll_at_full_size(qtbot, window):
    window.playground.set_network(Network([ConvSpec(64, 3, padding=1), DenseSpec(10)], (1, 28, 28)))
    view = open_filters(qtbot, window)
    assert len(view.cards) == 64 and view.grid.count() == 64
    qtbot.waitUntil(lambda: view.ascent_runs >= 1, timeout=SLOW)
    assert all(card.size() == CARD_SIZE for card in view.cards)
    assert view.scroll.verticalScrollBar().maximum() > 0  # scroll, not squeeze
    assert all(card.picture is not None for card in view.cards)
