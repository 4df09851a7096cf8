"""The window stays readable with a dark palette (and with the default light one): text contrasts with its background.

Colours are checked on the pixels shown: for each piece of text, the commonest colour of its
rectangle (its background) against the pixel that stands out most from it (the glyphs).
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from cnnstudio.qt.main_window import MainWindow
from cnnstudio.qt.widgets import theme
from cnnstudio.qt.window_layout import Section

Role = QPalette.ColorRole
DARK = {Role.Window: "#2b2b2b", Role.WindowText: "#e6e6e6", Role.Base: "#1e1e1e", Role.AlternateBase: "#262626",
        Role.Text: "#e6e6e6", Role.Button: "#353535", Role.ButtonText: "#e6e6e6", Role.BrightText: "#ffffff",
        Role.Highlight: "#2f65ca", Role.HighlightedText: "#ffffff", Role.Link: "#6ea8fe",
        Role.PlaceholderText: "#9a9a9a", Role.ToolTipBase: "#353535", Role.ToolTipText: "#e6e6e6",
        Role.Light: "#505050", Role.Midlight: "#404040", Role.Mid: "#303030", Role.Dark: "#1a1a1a",
        Role.Shadow: "#000000"}
MIN_CONTRAST = 4.5   # WCAG AA for body text


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in DARK.items():
        palette.setColor(role, QColor(colour))
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7f7f7f"))
    return palette


@pytest.fixture(params=["dark", "light"])
def palette_name(request, qapp):
    """The application in Fusion with a dark (or its default) palette; the old palette and style come back after."""
    old_palette, old_style = qapp.palette(), qapp.style().name()
    qapp.setStyle(QStyleFactory.create("Fusion"))
    if request.param == "dark":
        qapp.setPalette(dark_palette())
    yield request.param
    qapp.setPalette(old_palette)
    qapp.setStyle(QStyleFactory.create(old_style))


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, palette_name):
    monkeypatch.setenv("CNNSTUDIO_SETTINGS", str(tmp_path / "settings.ini"))
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.reset_layout()
    window.draw_sample_digit()
    window.training.show()
    window.training.raise_()
    QApplication.processEvents()
    window.flush_updates()
    QApplication.processEvents()
    return window


def luminance(colour: QColor) -> float:
    """WCAG relative luminance, 0 (black) .. 1 (white)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio, 1 .. 21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def shown_contrast(image: QImage, rect: QRect) -> tuple[float, QColor, QColor]:
    """(contrast, text, background) of the text shown in ``rect`` of ``image``."""
    part = image.copy(rect).convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(part.constBits(), np.uint32, part.bytesPerLine() * part.height() // 4)
    pixels = pixels.reshape(part.height(), -1)[:, :part.width()].ravel()
    values, counts = np.unique(pixels, return_counts=True)
    background = QColor.fromRgb(int(values[np.argmax(counts)]))
    ratios = [contrast(QColor.fromRgb(int(v)), background) for v in values]
    text = QColor.fromRgb(int(values[int(np.argmax(ratios))]))
    return max(ratios), text, background


def region(window, widget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def texts_to_check(window) -> dict[str, object]:
    """Name -> widget whose text must be readable."""
    texts = {f"heading {key}": section.heading for key, section in window.sections.items()
             if isinstance(section, Section) and section.heading is not None}
    maps = window.feature_maps
    texts["feature maps title"] = maps._title
    texts["colour scale"] = maps._scale_controls
    texts["prediction"] = window.prediction_bars
    group = window.layer_settings.groups[0]
    texts["layer arithmetic"] = group.arithmetic
    texts["network summary"] = window.layer_settings.summary
    texts["training status"] = window.training.panel.status_label
    texts["loss plot axes"] = window.training.panel.curves.loss_plot
    return texts


def test_text_contrasts_with_its_background(window, palette_name):
    assert theme.is_dark() == (palette_name == "dark")
    explain = window.explain_dock
    explain.show()
    explain.panel.banner.setText("<b>Lesson: edges.</b> A filter with a bright side and a dark side finds edges.")
    explain.panel.banner_box.show()
    texts = {**texts_to_check(window), "explain banner": explain.panel.banner}
    for name, widget in texts.items():
        (explain if name == "explain banner" else window.training).raise_()
        if name in ("layer arithmetic", "network summary"):
            window.layer_settings.scroll.ensureWidgetVisible(widget)
        QApplication.processEvents()
        assert widget.isVisible(), name
        ratio, text, background = shown_contrast(window.grab().toImage(), region(window, widget))
        assert ratio >= MIN_CONTRAST, (palette_name, name, text.name(), background.name(), round(ratio, 2))
    assert len(texts) >= 10


def test_role_colours_follow_the_palette(palette_name):
    dark = palette_name == "dark"
    assert theme.is_dark() == dark
    for foreground, background in ((theme.text(), theme.window()), (theme.muted(), theme.window()),
                                   (theme.panel_text(), theme.panel()), (theme.panel_muted(), theme.panel()),
                                   (theme.error(), theme.window()), (theme.warning(), theme.warning_background()),
                                   (theme.accent(), theme.window()), (theme.panel_text(), theme.banner_background()),
                                   (theme.panel_text(), theme.marked_background())):
        assert contrast(foreground, background) >= 3.0, (foreground.name(), background.name())
    assert (theme.panel().lightness() < 128) == dark
