"""Words and numbers for the training views: durations, the progress line, axis ranges, error sentences."""
from __future__ import annotations

import math


def format_seconds(seconds: float) -> str:
    """'4 s', '2 min 5 s', '1 h 3 min', or '?' when unknown."""
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def progress_text(progress) -> str:
    """'epoch 2/5 · 11,800 samples/s · 4 s left' for the progress bar."""
    parts = [f"epoch {progress.epoch}/{progress.epochs}"]
    if progress.samples_per_second > 0:
        parts.append(f"{progress.samples_per_second:,.0f} samples/s")
    if progress.finished:
        parts.append("done")
    elif progress.samples_per_second > 0:
        parts.append(f"{format_seconds(progress.seconds_left)} left")
    return " · ".join(parts)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, ... (times any power of ten) that is at least ``value`` > 0."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * power >= value * (1 - 1e-9):
            return factor * power
    return 10 * power


def sentence(err: Exception) -> str:
    """An exception's message as a sentence: capital first letter, final full stop."""
    text = str(err).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
