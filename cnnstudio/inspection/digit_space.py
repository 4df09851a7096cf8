"""The digit space: many digits as points on a plane, placed by what the network's last hidden layer sees.

Qt-free.  Each digit becomes one vector (:func:`cnnstudio.engine.last_hidden_features`, the input of
the last dense layer); a PCA of those vectors gives the two directions in which they differ most,
and every digit (and the current drawing) is drawn at its coordinates along them.  Digits the
network finds alike land close together, so as training goes on the classes pull apart.

The PCA's axes have no sign of their own (v and -v are both eigenvectors), so each new fit is
turned to agree with the previous one: the picture does not flip between training steps.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

from cnnstudio.engine import last_hidden_features

DIGITS_SHOWN = 1000
PER_CLASS = 100


@dataclass(frozen=True)
class Pca:
    """A 2-D principal component projection of feature vectors (D,).

    mean      : (D,) the mean feature vector the axes are centred on
    axes      : (2, D) unit vectors, the directions of largest and second-largest variance
    explained : (2,) share of the total variance along each axis (0..1)
    """

    mean: np.ndarray
    axes: np.ndarray
    explained: np.ndarray

    def project(self, features) -> np.ndarray:
        """Coordinates (N, 2) of features (N, D) (or (2,) of one vector (D,)) on the two axes."""
        features = np.asarray(features, np.float64)
        if features.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"features of length {features.shape[-1]} do not fit this projection, made for "
                             f"{self.mean.shape[0]}. Fix: compute them with the network the projection was fit on.")
        return (features - self.mean) @ self.axes.T


def fit_pca(features, previous: Pca | None = None) -> Pca:
    """The two principal axes of ``features`` (N, D) (NumPy SVD of the centred vectors).

    Signs: each axis is turned to point the way of ``previous``'s same axis (when it has the same D),
    else so that its largest component is positive, so refitting on similar data gives a similar picture.
    """
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2 or features.shape[1] < 1:
        raise ValueError(f"a projection needs at least 2 feature vectors (N, D), got shape {features.shape}. "
                         f"Fix: pass more digits.")
    mean = features.mean(axis=0)
    centred = features - mean
    axes = np.zeros((2, features.shape[1]))
    found, variance = _leading_axes(centred, previous.axes if previous is not None
                                    and previous.axes.shape == axes.shape else None)
    axes[:found.shape[0]] = found
    total = float(np.sum(centred * centred))
    explained = np.zeros(2)
    if total > 0:
        explained[:variance.size] = variance / total
    for k in range(2):
        if previous is not None and previous.axes.shape == axes.shape:
            flip = axes[k] @ previous.axes[k] < 0
        else:
            flip = axes[k][np.argmax(np.abs(axes[k]))] < 0
        if flip:
            axes[k] = -axes[k]
    return Pca(mean, axes, explained)


def _leading_axes(centred, start=None, block: int = 8, max_iterations: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """The top two right singular vectors (k, D) of ``centred`` (N, D) and their squared singular values (k,).

    NOTE: a full SVD of 1,000 x 784 features costs about a second, for two axes out of 784: block
    subspace iteration on X^T X (two thin products per round, warm-started from the previous axes
    while training moves them a little) finds them in milliseconds.  Small inputs take the full SVD.
    """
    N, D = centred.shape
    if min(N, D) <= 3 * block:
        _, singular, rows = np.linalg.svd(centred, full_matrices=False)
        return rows[:2], singular[:2] ** 2
    basis = np.random.default_rng(0).standard_normal((D, block))
    if start is not None:
        basis[:, :2] = start.T
    basis = np.linalg.qr(basis)[0]
    axes = None
    for _ in range(max_iterations):
        basis = np.linalg.qr(centred.T @ (centred @ basis))[0]
        # Rayleigh-Ritz: the best two directions inside the block, and how far they still move
        _, singular, turn = np.linalg.svd(centred @ basis, full_matrices=False)
        found = (basis @ turn.T)[:, :2].T
        if axes is not None and np.all(1.0 - np.abs(np.sum(found * axes, axis=1)) < 1e-13):
            axes = found
            break
        axes = found
    return axes, singular[:2] ** 2


def pick_digits(labels, total: int = DIGITS_SHOWN, per_class: int = PER_CLASS, seed: int = 0) -> np.ndarray:
    """Indices of up to ``total`` digits: ``per_class`` of each class when there are that many, the
    rest filled from the classes that have more.  Sorted; the same labels and seed give the same pick."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen, spare = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen.append(members[:per_class])
        spare.append(members[per_class:])
    chosen = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    missing = min(total, labels.size) - chosen.size
    if missing > 0:
        chosen = np.concatenate([chosen, rng.permutation(np.concatenate(spare))[:missing]])
    return np.sort(chosen[:total]).astype(np.int64)


@dataclass
class DigitSpace:
    """Digits placed on the plane of a PCA of their last-hidden-layer features.

    features : (N, D) float32; points : (N, 2) float64 = ``pca.project(features)``
    """

    features: np.ndarray
    pca: Pca
    points: np.ndarray

    def place(self, network, image) -> np.ndarray:
        """(2,) coordinates of one more image (C, H, W) in this space (e.g. the current drawing)."""
        features = last_hidden_features(network, np.asarray(image, np.float32)[None])
        return self.pca.project(features)[0]


def digit_space(network, images, previous: DigitSpace | None = None, batch_size: int = 256) -> DigitSpace:
    """Features of ``images`` (N, C, H, W) with ``network``'s current weights, their PCA (signs turned
    to agree with ``previous``'s) and every digit's point."""
    features = last_hidden_features(network, images, batch_size)
    pca = fit_pca(features, previous.pca if previous is not None else None)
    return DigitSpace(features, pca, pca.project(features))


def embedding_available(name: str) -> tuple[bool, str]:
    """Whether a non-linear map (``"t-SNE"``) can be offered: (True, "") or (False, the reason)."""
    if name == "t-SNE":
        if importlib.util.find_spec("sklearn") is None:
            return False, "t-SNE needs scikit-learn, which is not installed (pip install scikit-learn)"
        return True, ""
    return False, f"unknown map {name!r}"


def tsne_points(features, seed: int = 0) -> np.ndarray:
    """(N, 2) t-SNE map of ``features`` (N, D) with scikit-learn (an optional extra: see ``embedding_available``).

    t-SNE places only the digits it was given: a new drawing cannot be added without refitting.
    """
    available, reason = embedding_available("t-SNE")
    if not available:
        raise ValueError(f"{reason}. Fix: use the PCA map.")
    from sklearn.manifold import TSNE  # optional: imported only when present

    features = np.asarray(features, np.float32)
    perplexity = float(min(30.0, max(2.0, (features.shape[0] - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
