"""The learner's work as one document: the network and its weights and class names, the locks, the curves;
load, save, reset.

Qt-free.  A ``Document`` ties the live ``Playground`` (core/playground.py) to the
``TrainingSession`` (training/session.py) that holds the locked kernels and the training
curves, and reads and writes them as one ``.cnnmodel`` file (io/model_file.py).  Loading
checks everything before anything changes; a model load and a weight reset are undo steps
on the playground's one undo stack, and undoing them brings back the locks and curves too.

Events: ``loaded(LoadedModel)`` after a model was loaded (its ``settings`` are
``TrainingSettings`` or None, for the controls to show).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from cnnstudio.base.events import EventGroup
from cnnstudio.engine import Network
from cnnstudio.io.class_names import check_class_names
from cnnstudio.io.model_file import LoadedModel, ModelFileError, load_model, save_model
from cnnstudio.training import TrainingHistory, TrainingSession, TrainingSettings

_RESAVE = "Fix: save or train the model again, or choose another .cnnmodel file."


def _shape(shape) -> str:
    """'1x28x28' for (1, 28, 28)."""
    return "x".join(str(int(n)) for n in shape)


class Document:
    """The playground's network with the session's locks and curves, as one thing to load, save and reset."""

    def __init__(self, playground, session: TrainingSession):
        self.events = EventGroup("loaded")
        self.playground = playground
        self.session = session

    # ------------------------------------------------------------------ files
    def save(self, path, settings: TrainingSettings | None = None) -> Path:
        """Write the network, the locks, ``settings`` and the curves to ``path`` atomically; returns the path.

        Raises ``ValueError`` (weights that cannot be saved) or ``OSError``; the old file stays whole.
        """
        return save_model(path, self.playground.network, self.session.locked,
                          None if settings is None else settings.to_dict(), self.session.history.as_dict(),
                          class_names=self.playground.class_names, replay=self.session.replay.to_data())

    def read(self, path) -> LoadedModel:
        """Read and check a model file without changing anything; its settings as ``TrainingSettings``.

        Raises ``ModelFileError`` (one line: what is wrong, and the fix) for a bad file or a
        model the playground cannot show (other images, other classes).
        """
        loaded = load_model(path)
        name = Path(path).name
        self._check_fits(name, loaded.network)
        settings = None
        if loaded.settings is not None:
            try:
                settings = TrainingSettings.from_dict(loaded.settings)
            except (TypeError, ValueError) as err:
                raise ModelFileError(f"{name} is damaged: its training settings are invalid ({err}). "
                                     f"{_RESAVE}") from None
        return replace(loaded, settings=settings)

    def load(self, path) -> LoadedModel:
        """Replace the network, the locks and the curves with a saved model's (one undo step).

        Everything is checked first (``read``): a bad file raises ``ModelFileError`` and changes
        nothing, not even a training run.
        """
        loaded = self.read(path)
        history = TrainingHistory(loaded.history)  # the file's history was checked: its curves can be drawn
        self.session.stop()
        self.playground.remember_network("model load", then=self._restorer())
        self.playground.set_network(loaded.network, undo_text=None)
        self.playground.set_class_names(loaded.class_names)  # checked on load: "0".."9" for older files
        self.session.set_lock_set(loaded.locked)
        self.session.set_history(history)
        self.session.replay.load(loaded.replay, [p.shape for p in loaded.network.params], loaded.replay_problem)
        self.events.loaded.emit(loaded)
        return loaded

    def import_network(self, network: Network, class_names=None, source_name: str = "the imported model") -> None:
        """Replace the network with one made elsewhere (an ONNX file, io/onnx_import.py): no locks, no curves.

        One undo step, like a load.  ``ModelFileError`` (reason and fix, naming ``source_name``)
        for a network the playground cannot show or class names that do not fit; nothing changes then.
        """
        self._check_fits(source_name, network)
        if class_names is not None:
            try:
                class_names = check_class_names(list(class_names), network.num_classes)
            except ValueError as err:
                raise ModelFileError(f"{source_name}: the class names {err}. Fix: export the model again with "
                                     f"one short name per class, or none.") from None
        self.session.stop()
        self.playground.remember_network("ONNX import", then=self._restorer())
        self.playground.set_network(network, undo_text=None)
        self.playground.set_class_names(class_names)
        self.session.set_lock_set(frozenset())
        self.session.set_history(TrainingHistory())
        self.session.replay.clear()

    def _check_fits(self, name: str, network: Network) -> None:
        """``ModelFileError`` (reason and fix) unless the playground can show and train ``network``."""
        ours = self.playground.network
        if tuple(network.input_shape) != tuple(ours.input_shape):
            height, width = ours.input_shape[1:]
            raise ModelFileError(
                f"{name}: this model takes {_shape(network.input_shape)} images; CNN Studio draws {height}x{width} "
                f"({_shape(ours.input_shape)}). Fix: choose a model made for {_shape(ours.input_shape)} images, "
                f"or train one here.")
        if network.num_classes != ours.num_classes:
            raise ModelFileError(
                f"{name}: this model sorts images into {network.num_classes} classes; CNN Studio sorts digits into "
                f"{ours.num_classes}. Fix: choose a model whose last layer has {ours.num_classes} units, or "
                f"train one here.")

    # ------------------------------------------------------------------ reset
    def reset_weights(self, seed: int | None = None) -> None:
        """Fresh random weights for every layer (locked kernels too) and empty curves; one undo step."""
        self.session.stop()
        network = self.playground.network
        if seed is None:
            seed = int(np.random.default_rng().integers(2 ** 31))
        fresh = Network(network.layers, network.input_shape, seed=seed)
        self.playground.remember_weights("weight reset", then=self._restorer(locks=False))
        self.playground.set_weights(fresh.get_state())
        self.session.set_history(TrainingHistory())
        self.session.replay.clear()

    def _restorer(self, locks: bool = True):
        """A function that puts the session's locks (if ``locks``) and curves back as they are now."""
        old_locks, old_history = self.session.locked, self.session.history
        old_names = self.playground.class_names
        old_replay = self.session.replay.memento()

        def restore():
            if locks:
                self.session.set_lock_set(old_locks)
            self.session.set_history(old_history)
            self.playground.set_class_names(old_names)
            self.session.replay.restore(old_replay)

        return restore
