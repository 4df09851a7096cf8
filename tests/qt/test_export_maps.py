"""Right-click on a feature map: its picture and its numbers saved to files that read back."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog

from cnnstudio.qt.panels.feature_maps import QtFeatureMaps


def test_export_a_map_as_png_csv_and_npy(qtbot, playground, tmp_path, monkeypatch):
    maps = QtFeatureMaps(playground)
    qtbot.addWidget(maps)
    maps.resize(700, 500)
    maps.show()
    QApplication.processEvents()
    maps.fit()
    scene_pos = maps.map_cell_scene_pos(0, "activation", 2, 5, 5)
    assert maps.map_at(scene_pos) == (0, "activation", 2)
    menu = maps.map_export_menu(0, "activation", 2)
    actions = {a.text().replace("&", ""): a for a in menu.actions()}
    expected = playground.trace.stages[0].activation[2]
    for name, suffix in (("Save as PNG...", ".png"), ("Save values as CSV...", ".csv"),
                         ("Save values as .npy...", ".npy")):
        path = tmp_path / f"map{suffix}"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, p=path: (str(p), ""))
        actions[name].trigger()
        assert path.is_file()
    picture = QImage(str(tmp_path / "map.png"))
    assert not picture.isNull() and picture.width() >= expected.shape[1]
    assert np.array_equal(np.load(tmp_path / "map.npy"), expected)
    csv = np.loadtxt(tmp_path / "map.csv", delimiter=",")
    assert np.allclose(csv, expected, atol=1e-5)
