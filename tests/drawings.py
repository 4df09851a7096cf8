"""Inputs the tests draw by hand (no canvas needed)."""
import numpy as np


def a_drawn_seven() -> np.ndarray:
    """A 28x28 "7": a bar across the top and a slanted stroke down, ink 1.0 on 0.0."""
    image = np.zeros((28, 28), np.float32)
    image[5:8, 6:22] = 1.0
    for r in range(8, 24):
        c = 21 - (r - 8) // 2
        image[r, c - 1:c + 2] = 1.0
    return image
