"""A worker QObject in its own thread: the one way the views run heavy work off the GUI thread.

The owner keeps its own request logic (newest request wins, merging, cancelling); this module only
starts the thread, wires the two signals and ends it.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QThread


def start_worker_thread(owner, worker, submit, slot, done, on_done, name: str = "") -> QThread:
    """Move ``worker`` into a new running thread (a child of ``owner``, named ``name``) and return it.

    ``submit`` (a signal of the owner) calls ``slot`` (the worker's) in that thread; ``done`` (the
    worker's signal) reaches ``on_done`` (the owner's slot) on the owner's thread.  The owner's
    ``stop()`` (which calls ``end_worker_thread``) also runs when the application quits, so no thread
    is left running at exit.
    """
    thread = QThread(owner)
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.finished.connect(worker.deleteLater)
    submit.connect(slot)
    done.connect(on_done)
    thread.start()
    app = QCoreApplication.instance()
    if app is not None:  # a bound method of a QObject: disconnected when the owner goes
        app.aboutToQuit.connect(owner.stop)
    return thread


def end_worker_thread(thread: QThread) -> None:
    """Ask ``thread`` to finish and wait for the work it is doing (no-op when it has ended)."""
    if thread.isRunning():
        thread.quit()
        thread.wait()
