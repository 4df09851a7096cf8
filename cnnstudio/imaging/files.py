"""Picture files decoded by Pillow into RGBA arrays: the one decoder of the canvas view and the command line.

Pillow only decodes, turns photos upright and shrinks them; ``to_gray`` turns
the pixels gray (luma, the paper under transparent pixels), so a picture gives
the network the same input whether it is opened, dropped or passed to
``predict``.  Whatever goes wrong becomes an ``ImageFileError`` that names the
file, says what is wrong and how to fix it.
"""
from __future__ import annotations

import contextlib
import os
import stat
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 1024  # pictures are shrunk to this many pixels a side before NumPy fits them
MAX_PIXELS = 10_000 * 10_000  # larger pictures are refused, unless JPEG decodes them smaller (``draft``)

_FORMATS = "PNG, JPEG, BMP, GIF, WebP or TIFF"
# what Pillow's decoders raise on a damaged or cut-off file (zlib's own error escapes from PNG chunks)
_DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_PILLOW_LIMIT_LOCK = threading.Lock()


class ImageFileError(ValueError):
    """A picture that cannot be opened.  ``str()`` is one line: ``"<path> <problem>. Fix: <fix>."``

    ``path``, ``problem`` (a predicate, e.g. "is a folder, not an image") and ``fix``
    (what to do, e.g. "choose an image file") are kept apart for views that word
    the message their own way.
    """

    def __init__(self, path: str | Path, problem: str, fix: str):
        self.path, self.problem, self.fix = Path(path), problem, fix
        super().__init__(f"{path} {problem}. Fix: {fix}.")


def read_rgba(path: str | Path) -> np.ndarray:
    """Decode an image file (PNG, JPEG, BMP, GIF, WebP, TIFF, ...) as uint8 RGBA ``(H, W, 4)``.

    Straight (not premultiplied) alpha.  Photos are turned upright by their EXIF
    orientation and shrunk to at most ``MAX_SIDE`` pixels a side; palette,
    grayscale and 16-bit files come out as the same 8-bit RGBA.

    Raises
    ------
    ImageFileError
        The file is missing, not a regular file, unreadable, not an image,
        damaged or cut off, or would decode to more than ``MAX_PIXELS`` pixels
        (a JPEG decodes at 1/2, 1/4 or 1/8 of its size when that still leaves
        ``MAX_SIDE`` a side, so practically every JPEG opens).
    """
    _check_regular_file(path)
    try:
        # NOTE: Pillow warns about odd but readable files (e.g. corrupt EXIF data); the picture still opens,
        # so the warning would only be noise next to the app's own messages
        with warnings.catch_warnings(), _own_pixel_limit(), Image.open(path) as image:
            warnings.simplefilter("ignore")
            return _decode(image, path)
    except ImageFileError:
        raise
    except FileNotFoundError:  # removed since it was looked at
        raise ImageFileError(path, "does not exist", "check the file name and folder") from None
    except PermissionError:
        raise ImageFileError(path, "cannot be read (permission denied)",
                             "check the file's permissions, or copy it somewhere you may read") from None
    except UnidentifiedImageError:
        kind = _signature_format(path)
        if kind is not None:  # Pillow's plugin refused a file of its own format: a damaged header
            raise ImageFileError(path, f"cannot be read as an image (damaged or incomplete: it starts as a {kind} "
                                       f"file but its header is broken)", "save or download the picture again") from None
        raise ImageFileError(path, f"cannot be read as an image (it is not a {_FORMATS} file)",
                             "save the picture as PNG or JPEG and open that") from None
    except _DECODER_ERRORS as err:
        raise ImageFileError(path, f"cannot be read as an image (damaged or incomplete: {err})",
                             "save or download the picture again") from None


def shrink_rgba(rgba: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """uint8 RGBA ``(H, W, 4)`` shrunk as ``read_rgba`` shrinks a file: at most ``max_side`` a side.

    For pictures that arrive already decoded (a dropped image); a small one is returned as it is.
    """
    if max(rgba.shape[:2]) <= max_side:
        return rgba
    return np.array(_shrink(Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)), max_side))


def _check_regular_file(path: str | Path) -> None:
    """Refuse what is not a regular file before opening it: opening a named pipe would wait forever."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageFileError(path, "does not exist", "check the file name and folder") from None
    except PermissionError:
        raise ImageFileError(path, "cannot be reached (permission denied)",
                             "check the folder's permissions") from None
    except OSError as err:
        raise ImageFileError(path, f"cannot be read ({err.strerror or err})", "check the file name") from None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise ImageFileError(path, "is a folder, not an image", "choose an image file inside it")
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise ImageFileError(path, f"is {kind}, not an image file", "save the picture to a file and open that")
    if info.st_size == 0:
        raise ImageFileError(path, "is empty (0 bytes)", "save or download the picture again")


def _signature_format(path: str | Path) -> str | None:
    """The format a file's first bytes announce (PNG, JPEG, GIF, WebP, TIFF, BMP), or None."""
    try:
        with open(path, "rb") as file:  # a regular file: _check_regular_file has looked
            start = file.read(18)
    except OSError:
        return None
    signatures = (("PNG", b"\x89PNG\r\n\x1a\n"), ("JPEG", b"\xff\xd8\xff"), ("GIF", b"GIF87a"), ("GIF", b"GIF89a"),
                  ("TIFF", b"II*\x00"), ("TIFF", b"MM\x00*"))
    for kind, signature in signatures:
        if start.startswith(signature):
            return kind
    if start[:4] == b"RIFF" and start[8:12] == b"WEBP":
        return "WebP"
    # "BM" alone starts too many other files: a BMP also gives the size of its second header
    if start[:2] == b"BM" and len(start) == 18 and int.from_bytes(start[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"
    return None


@contextlib.contextmanager
def _own_pixel_limit():
    """Pillow's decompression-bomb guard off while we decode: ``MAX_PIXELS`` replaces it.

    Pillow's guard (a module global) warns on stderr above ~89 megapixels and
    refuses above ~179 when a file is opened, before a JPEG can be drafted to a
    fraction of its size; ours counts the pixels that will really be decoded.
    The lock keeps two decodes from restoring each other's value.
    """
    with _PILLOW_LIMIT_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _decode(image: Image.Image, path: str | Path) -> np.ndarray:
    """An opened (not yet loaded) file -> uint8 RGBA ``(h, w, 4)``, upright and shrunk."""
    # JPEG only (others ignore it): decode at 1/2, 1/4 or 1/8 scale, keeping both sides >= MAX_SIDE
    image.draft(None, (MAX_SIDE, MAX_SIDE))
    width, height = image.size
    if width * height > MAX_PIXELS:
        side = int(MAX_PIXELS ** 0.5)
        raise ImageFileError(path, f"is too large ({width:,} x {height:,} pixels; pictures up to {side:,} x "
                                   f"{side:,} can be opened)",
                             "scale it down in an image editor, or save it as JPEG (opened at reduced size)")
    image.load()
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except _DECODER_ERRORS:  # unreadable EXIF: the pixels are still good, shown as stored
        pass
    return np.array(_shrink(_eight_bit(image), MAX_SIDE).convert("RGBA"))


def _eight_bit(image: Image.Image) -> Image.Image:
    """The picture as 8-bit ``L``, ``RGB`` or ``RGBA`` (alpha from a channel, a palette or a colour key)."""
    if image.mode.startswith(("I", "F")):  # 16-bit integer or float gray: Pillow's convert would clip at 255
        values = np.asarray(image, dtype=np.float64)
        white = 65535.0 if image.mode.startswith("I") else 1.0 if values.max(initial=0) <= 1 else 255.0
        return Image.fromarray(np.clip(np.round(values * (255 / white)), 0, 255).astype(np.uint8))
    if image.has_transparency_data:
        return image.convert("RGBA")
    return image.convert("L" if image.mode in ("1", "L") else "RGB")


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """Area-average an 8-bit picture down to at most ``max_side`` a side (aspect ratio kept)."""
    width, height = image.size
    if max(width, height) <= max_side:
        return image
    scale = max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.mode == "RGBA":  # average colours weighted by alpha, so invisible ones do not bleed
        return image.convert("RGBa").resize(size, Image.Resampling.BOX).convert("RGBA")
    return image.resize(size, Image.Resampling.BOX)
