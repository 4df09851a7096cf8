"""The Inspect dock as a whole: Ctrl+I shows it beside Explain, one tab per view, each tab reachable by a
click, its help text, and every view's background work stopped with the window."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabBar

from cnnstudio.qt.inspection.dock import TABS
from cnnstudio.qt.panels.kernel_editor.editor import FOOTER_FROM_HEIGHT
from cnnstudio.qt.window_help import PANEL_HELP


def test_ctrl_i_shows_the_dock_with_a_tab_per_view(qtbot, window):
    dock = window.inspect_dock
    assert not dock.isVisible() and dock.objectName() == "inspectDock"
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(dock.isVisible)
    assert [dock.tabs.tabText(k) for k in range(dock.tabs.count())] == [title for title, *_ in TABS]
    view_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&View")
    assert dock.toggle_action in view_menu.actions()
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not dock.isVisible())


def test_every_tab_is_one_click_away_and_shows_its_view(qtbot, window):
    dock = window.inspect_dock
    dock.show()
    bar = dock.tabs.findChild(QTabBar)
    for index, (title, module, _, object_name) in enumerate(TABS):
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
        view = dock.views[module]
        qtbot.waitUntil(view.isVisible)
        assert dock.tabs.currentWidget() is dock.pages[module] and dock.pages[module].widget() is view
        assert view.objectName() == object_name
        assert window.findChild(type(view), object_name) is view


def test_the_dock_has_its_help_and_shares_the_bottom_with_the_other_docks(window):
    assert "Grad-CAM" in PANEL_HELP["inspect"][1] and "Ctrl+I" in PANEL_HELP["inspect"][1]
    assert "Grad-CAM" in window.inspect_dock.whatsThis()
    assert window.dockWidgetArea(window.inspect_dock) == window.dockWidgetArea(window.explain_dock)


def test_stop_ends_every_views_background_thread(qtbot, window):
    dock = window.inspect_dock
    for module in ("attribution_view", "filters_view", "space_view"):  # the views with a worker thread
        dock.show_tab(module)
    qtbot.wait(50)
    threads = {module: dock.views[module].computer._thread for module in ("attribution_view", "filters_view",
                                                                           "space_view")}
    assert any(thread.isRunning() for thread in threads.values())
    dock.stop()
    assert [module for module, thread in threads.items() if thread.isRunning()] == []


def test_the_digit_space_follows_the_data_chosen_in_the_training_dock(qtbot, window):
    """Choosing full MNIST while the digit space is shown: it says the set is loading, then shows its test digits
    once the Training dock's loader has read it (off the GUI thread)."""
    space = window.inspect_dock.views["space_view"]
    window.inspect_dock.show_tab("space_view")
    qtbot.waitUntil(lambda: space.digits is not None, timeout=20000)
    assert len(space.digits) == 1000  # MNIST 5k's test digits
    combo = window.training.panel.form.data_combo
    combo.setCurrentIndex(combo.findData("mnist-full"))
    qtbot.waitUntil(lambda: space.digits is not None and len(space.digits) == 10000, timeout=30000)
    assert len(space.indices) == 1000


def test_on_a_laptop_screen_the_dock_keeps_to_its_share_and_its_views_scroll(qtbot, window):
    window.resize(1366, 768)
    qtbot.waitUntil(lambda: window.height() == 768)
    qtbot.wait(100)  # the window's layout settles at its new size
    window.inspect_dock.show_tab("adversarial_view")
    qtbot.waitUntil(lambda: window.inspect_dock.height() > 0)
    qtbot.wait(100)
    assert window.inspect_dock.minimumSizeHint().height() < 200  # no view sets the dock's least height
    assert window.inspect_dock.height() <= 0.45 * window.height()
    canvas_part, kernels_part = window._left.sizes()
    assert canvas_part >= 0.65 * (canvas_part + kernels_part)  # the drawing keeps room to draw in
    editor = window.kernel_editor  # squeezed, it drops its legend and hints rather than drawing them over each other
    assert editor.footer.isHidden() == (editor.height() < FOOTER_FROM_HEIGHT)
    assert editor.footer.isHidden() or editor.footer.geometry().top() >= editor.scroll.geometry().bottom()
    window.inspect_dock.hide()
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: editor.height() >= FOOTER_FROM_HEIGHT)
    qtbot.waitUntil(lambda: not editor.footer.isHidden())  # room again: the legend comes back
