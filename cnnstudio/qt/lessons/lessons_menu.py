"""The Lessons menu: one entry per guided lesson, knowing nothing of any window."""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from cnnstudio.lessons.guided import LESSONS, Lesson


def build_lessons_menu(parent, on_lesson: Callable[[Lesson], None], title: str = "&Lessons") -> QMenu:
    """A menu with one entry per lesson (its key in the action's ``data()``); choosing one calls ``on_lesson``."""
    menu = QMenu(title, parent)
    menu.setToolTipsVisible(True)
    for k, lesson in enumerate(LESSONS, start=1):
        action = QAction(f"{k}. {lesson.title}", menu)
        action.setToolTip(lesson.text)
        action.setData(lesson.key)
        action.triggered.connect(lambda checked=False, lesson=lesson: on_lesson(lesson))
        menu.addAction(action)
    return menu
