"""The window's chrome colours by role, derived from the application palette, so a dark palette works.

Only chrome lives here (text, panels, borders, banners, error and accent). Colours that
carry a meaning (the colormaps in ``cnnstudio.render``, the receptive-field green, the
training and test curve colours, the kernel values) stay where they are. Widgets read
these when they are built; a palette change while running is not followed.
"""
from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette

Role = QPalette.ColorRole

# NOTE: the two reds, ambers and blues are picked to reach ~4.5:1 against a white and against a ~#2b2b2b
# background respectively; the palette gives no such colours
_ERROR = ("#d32f2f", "#ff7b72")
LIGHT_ERROR = _ERROR[0]   # what ``error()`` gives on a light palette
_WARNING = ("#8a5a00", "#e3b341")
_ACCENT = ("#1a73e8", "#6ea8fe")


def _palette() -> QPalette:
    return QGuiApplication.palette()


def is_dark() -> bool:
    """True when the window colour is dark (lightness below 128)."""
    return _palette().color(Role.Window).lightness() < 128


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved a share ``t`` (0..1) of the way toward ``b``, opaque."""
    a, b = QColor(a), QColor(b)
    return QColor(*(round(x + (y - x) * t) for x, y in ((a.red(), b.red()), (a.green(), b.green()),
                                                        (a.blue(), b.blue()))))


def window() -> QColor:
    """Behind panels and labels."""
    return _palette().color(Role.Window)


def text() -> QColor:
    """Text on the window colour."""
    return _palette().color(Role.WindowText)


def muted() -> QColor:
    """Secondary text: the text colour blended toward the window, still ~5:1 against it."""
    return blend(text(), window(), 0.4)


def panel() -> QColor:
    """The background of plots, bars and explanation boxes (the palette's Base)."""
    return _palette().color(Role.Base)


def panel_text() -> QColor:
    """Text on ``panel()``."""
    return _palette().color(Role.Text)


def panel_muted() -> QColor:
    """Secondary text on ``panel()``."""
    return blend(panel_text(), panel(), 0.4)


def track() -> QColor:
    """A faint band on ``panel()``: an empty bar, a note's box."""
    return blend(panel(), panel_text(), 0.08)


def view_background() -> QColor:
    """Behind the feature maps: darker than the window on a light palette, lighter on a dark one."""
    return blend(window(), text(), 0.12)


def border() -> QColor:
    """A thin line between chrome areas."""
    return blend(window(), text(), 0.22)


def banner_background() -> QColor:
    """An information banner: the panel tinted with the highlight colour."""
    return blend(panel(), _palette().color(Role.Highlight), 0.12)


def banner_border() -> QColor:
    return blend(panel(), _palette().color(Role.Highlight), 0.4)


def error() -> QColor:
    """An error message's colour, readable on the window and on ``panel()``."""
    return QColor(_ERROR[is_dark()])


def error_background() -> QColor:
    """A field whose last edit was refused."""
    return blend(panel(), QColor(_ERROR[0]), 0.15 if not is_dark() else 0.3)


def warning() -> QColor:
    """A warning's colour (amber), readable on the window and on ``warning_background()``."""
    return QColor(_WARNING[is_dark()])


def warning_background() -> QColor:
    return blend(panel(), QColor("#f0a000"), 0.15)


def warning_border() -> QColor:
    return blend(panel(), QColor("#f0a000"), 0.5)


def marked_background() -> QColor:
    """A toggled-on marker (a locked kernel): a strong amber that ``panel_text()`` still reads on."""
    return blend(panel(), QColor("#f0a000"), 0.45)


def accent() -> QColor:
    """A blue for links and highlighted words in text."""
    return QColor(_ACCENT[is_dark()])


def css(colour: QColor) -> str:
    """``colour`` as a style-sheet value ("#rrggbb")."""
    return QColor(colour).name()
