"""The Training panel's data: the chosen set at once when it is in memory, else read off the GUI thread first.

``ChosenData`` is a part of ``QtTrainingPanel`` (panel.py), which provides ``settings()``, ``data_combo``,
``my_digits``, ``idx_digits``, ``controller``, ``show_status``, ``_update_buttons``, ``_begin_run`` and the
``data_ready`` signal.  Full MNIST and Fashion-MNIST take 0.5-1.5 s the first time (unzip, checksum,
float32); the panel keeps the (train, test) ``Digits`` of the 5k set and of one large set once read.

- ``datasets()`` waits (a wait cursor) as it always did: for callers that need the data now.
- ``datasets_now()`` never waits: it raises ``DataLoading`` and has the set read in a worker thread
  (``data_ready`` follows); ``datasets_ready()`` says which of the two a call would do.
- Start with data not in memory reads it first (``loading``: the Start button says "Loading MNIST full…");
  a second press, or Step, starts nothing more; changing the data choice meanwhile cancels the start.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication

from cnnstudio.io.datasets import DatasetError, Digits, load_mnist_5k
from cnnstudio.training import make_dataset

from .data_loader import CATALOG_SETS, DataLoader, DataLoading
from .format import sentence


class ChosenData:
    """The (train, test) digits of the data chosen in the panel, now or after a read off the GUI thread."""

    _pending_start = None

    def _init_chosen_data(self, mnist) -> None:
        self._mnist: tuple[Digits, Digits] | None = mnist
        self._named_sets: dict[str, tuple[Digits, Digits]] = {}  # "mnist-full" or "fashion": kept once loaded
        self._load_errors: dict[str, str] = {}  # why a set could not be read (until Start or a new choice)
        self._pending_start: tuple[str, bool, bool] | None = None  # (data, paused, step) of a Start waiting for it
        self.loader = DataLoader(self)
        self.loader.loaded.connect(self._data_loaded)
        self.loader.failed.connect(self._data_failed)
        self.data_combo.currentIndexChanged.connect(self._data_choice_changed)

    @property
    def loading(self) -> str | None:
        """The short name of the data a Start waits for ("MNIST full"), or None."""
        return CATALOG_SETS[self._pending_start[0]] if self._pending_start is not None else None

    def datasets(self) -> tuple[Digits, Digits]:
        """The (train, test) digits of the chosen data (``ValueError``/``DatasetError`` with the reason).

        Waits for a first read (0.5-1.5 s for the large sets); ``datasets_now`` does not.
        """
        settings = self.settings()
        if settings.data == "mnist":
            if self._mnist is None:
                self._mnist = load_mnist_5k()
            return self._mnist
        if settings.data in ("mnist-full", "fashion"):
            if settings.data not in self._named_sets:  # 70,000 images: about a second the first time
                QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
                try:
                    self._named_sets = {settings.data: make_dataset(settings)}  # one large set kept at a time
                finally:
                    QApplication.restoreOverrideCursor()
            return self._named_sets[settings.data]
        return make_dataset(settings, my_digits=self.my_digits, idx=self.idx_digits)

    def datasets_ready(self, data: str | None = None) -> bool:
        """True when ``datasets()`` returns at once for ``data`` (the chosen data if None): no set to read first."""
        data = data if data is not None else self.data_combo.currentData()
        if data == "mnist":
            return self._mnist is not None
        if data in CATALOG_SETS:
            return data in self._named_sets
        return True  # drawings, an opened IDX set: already in memory

    def datasets_now(self) -> tuple[Digits, Digits]:
        """``datasets()`` without waiting: raises ``DataLoading`` (a ``ValueError``) while the chosen set is read in
        the worker thread (``data_ready`` follows), or ``DatasetError`` when that read failed."""
        settings = self.settings()
        if settings.data in self._load_errors:
            raise DatasetError(self._load_errors[settings.data])
        if not self.datasets_ready(settings.data):
            self.loader.request(settings)
            raise DataLoading(CATALOG_SETS[settings.data])
        return self.datasets()

    def test_digits(self) -> Digits | None:
        """The chosen data's test digits, or None when they cannot be had (the reason goes to the status line)."""
        try:
            return self.datasets()[1]
        except ValueError as err:
            self.show_status(sentence(err), error=True)
            return None

    def test_digits_now(self) -> Digits | None:
        """``test_digits()`` without waiting: raises ``DataLoading`` while the chosen set is read (``data_ready``
        follows); None when they cannot be had (the reason goes to the status line)."""
        try:
            return self.datasets_now()[1]
        except DataLoading:
            raise
        except ValueError as err:
            self.show_status(sentence(err), error=True)
            return None

    # ------------------------------------------------------------------ Start with data not in memory yet
    def _load_for_start(self, settings, paused: bool, step: bool) -> None:
        self._load_errors.pop(settings.data, None)  # Start tries again
        self._pending_start = (settings.data, paused, step)
        self.loader.request(settings)
        self._update_buttons()
        self.show_status(f"Loading {CATALOG_SETS[settings.data]} (once per session); training begins when it is in.")

    def _data_loaded(self, data: str, sets, seconds: float) -> None:
        if not self.datasets_ready(data):  # a datasets() call may have read it meanwhile: keep that one
            if data == "mnist":
                self._mnist = sets
            else:
                self._named_sets = {data: sets}
        self._load_errors.pop(data, None)
        pending, self._pending_start = self._pending_start, None
        self._update_buttons()
        if pending is not None:
            wanted, paused, step = pending
            if wanted == data == self.data_combo.currentData() and self.controller.state == "idle":
                if self._begin_run(paused) and step:
                    self.controller.step_once()
            else:
                self.show_status(f"{CATALOG_SETS[wanted]} was not used: the data choice changed or a run began "
                                 f"meanwhile. Press Start to train on the chosen data.")
        self.data_ready.emit()

    def _data_failed(self, data: str, text: str) -> None:
        self._load_errors[data] = text
        pending, self._pending_start = self._pending_start, None
        self._update_buttons()
        if pending is not None:
            self.show_status(sentence(text), error=True)  # the same line a Start that read it itself showed
        self.data_ready.emit()

    def _data_choice_changed(self, *args) -> None:
        self._load_errors.clear()  # a new choice: try every set again
        if self._pending_start is not None and self._pending_start[0] != self.data_combo.currentData():
            name = self.loading
            self._pending_start = None
            self._update_buttons()
            self.show_status(f"Start cancelled: the data choice changed while {name} was loading. "
                             f"Press Start to train on the chosen data.")
