"""What the last dense layer sees: each image as one vector of the network's last hidden layer.

The digit space (a 2-D map of many digits) is drawn from these vectors: images the network
finds alike land close together.
"""
from __future__ import annotations

import numpy as np

from .checks import whole_number


def last_hidden_features(network, x, batch_size: int = 256) -> np.ndarray:
    """The input of the network's last dense layer for every image of a batch.

    That is the flattened output maps of the last conv stage, or the output of the last hidden
    dense layer when there is one (or the flattened pixels of a network with no layer below it).

    Parameters
    ----------
    network : Network
    x : (N, C, H, W) float32 batch (or (N, H, W) for a one-channel network), the network's input size
    batch_size : images per forward chunk

    Returns
    -------
    (N, D) float32, D = ``network.layers[-1]``'s number of inputs.
    """
    batch_size = whole_number(batch_size, "batch_size", "last_hidden_features")
    x = network._as_batch(x)
    width = network.weight(-1).shape[1]
    chunks = []
    for start in range(0, x.shape[0], batch_size):
        part = x[start:start + batch_size]
        h, caches = network._forward_stages(part)
        # Dropout is off (no rng), so the last dense layer's cached input is exactly its input.
        _, caches = network._forward_dense(h.reshape(part.shape[0], -1), caches)
        chunks.append(np.ascontiguousarray(caches[-1][0], dtype=np.float32).reshape(part.shape[0], width))
    return np.concatenate(chunks) if chunks else np.zeros((0, width), np.float32)
