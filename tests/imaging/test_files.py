"""``read_rgba``: every kind of picture file becomes straight uint8 RGBA; every bad file a clear ``ImageFileError``.

The files are made here with Pillow (or byte by byte, for what Pillow will not write).
"""
import os
import struct
import threading
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnstudio.imaging import files
from cnnstudio.imaging.files import MAX_SIDE, ImageFileError, read_rgba, shrink_rgba


def png_bytes(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None) -> bytes:
    """A PNG file: IHDR, one IDAT holding ``rows`` (each with its filter byte), IEND.

    ``rows=None`` writes a header that promises the pixels and a few bytes instead of them.
    """
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    pixels = zlib.compress(rows if rows is not None else b"\0" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def problem_of(path) -> ImageFileError:
    with pytest.raises(ImageFileError) as caught:
        read_rgba(path)
    error = caught.value
    assert str(path) in str(error) and "Fix: " in str(error)  # names the file and the way out
    assert error.path.name == os.path.basename(path)
    return error


# -- every kind of picture gives the same straight RGBA
def test_an_opaque_colour_png_comes_back_exactly(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    rgba = read_rgba(tmp_path / "colour.png")
    assert rgba.dtype == np.uint8 and rgba.shape == (30, 40, 4)
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    assert (rgba[..., 3] == 255).all()


def test_alpha_comes_back_straight_not_premultiplied(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[...] = (200, 100, 50, 0)
    rgba[2:6, 2:6] = (10, 20, 250, 128)
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    np.testing.assert_array_equal(read_rgba(tmp_path / "alpha.png"), rgba)


@pytest.mark.parametrize("mode", ["L", "1", "LA", "P"])
def test_gray_bitmap_and_palette_files_become_rgba(tmp_path, mode):
    gray = np.zeros((16, 16), np.uint8)
    gray[4:12, 6:10] = 255
    image = Image.fromarray(gray).convert(mode)
    image.save(tmp_path / f"{mode}.png")
    rgba = read_rgba(tmp_path / f"{mode}.png")
    assert rgba.shape == (16, 16, 4)
    np.testing.assert_array_equal(rgba[..., 0], gray)
    np.testing.assert_array_equal(rgba[..., 0], rgba[..., 2])


@pytest.mark.parametrize("suffix, options", [(".bmp", {}), (".gif", {}), (".tiff", {}),
                                             (".webp", {"lossless": True})])
def test_other_formats_give_the_same_pixels(tmp_path, suffix, options):
    gray = np.zeros((12, 20), np.uint8)
    gray[3:9, 5:15] = 255
    Image.fromarray(gray).convert("RGB").save(tmp_path / f"picture{suffix}", **options)
    rgba = read_rgba(tmp_path / f"picture{suffix}")
    np.testing.assert_array_equal(rgba[..., 1], gray)
    assert (rgba[..., 3] == 255).all()


def test_a_palette_with_a_transparent_entry_gives_alpha(tmp_path):
    image = Image.new("P", (4, 2), 0)
    image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.save(tmp_path / "keyed.png", transparency=0)
    rgba = read_rgba(tmp_path / "keyed.png")
    assert rgba[0, 0, 3] == 0 and tuple(rgba[1, 1]) == (0, 0, 0, 255)


def test_a_16_bit_gray_png_is_scaled_not_clipped(tmp_path):
    levels = np.array([[0, 257 * 64, 32896, 65535]], np.uint16)
    Image.fromarray(levels).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(read_rgba(tmp_path / "deep.png")[0, :, 0], [0, 64, 128, 255])


def test_a_16_bit_colour_png_becomes_8_bit(tmp_path):
    # Pillow writes no 16-bit colour PNG: the bytes are laid out here (big-endian samples)
    samples = np.array([[[65535, 0, 32896], [257 * 10, 257 * 20, 257 * 30]]], ">u2")
    rows = b"".join(b"\0" + row.tobytes() for row in samples)
    (tmp_path / "deep-colour.png").write_bytes(png_bytes(2, 1, 16, 2, rows))
    rgba = read_rgba(tmp_path / "deep-colour.png")
    np.testing.assert_array_equal(rgba[0, :, :3], [[255, 0, 128], [10, 20, 30]])
    assert (rgba[..., 3] == 255).all()


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_exif_orientation_turns_the_picture_upright(tmp_path, suffix):
    stored = np.zeros((40, 24), np.uint8)
    stored[:8, :8] = 255  # a mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(stored).save(tmp_path / f"turned{suffix}", exif=exif)
    rgba = read_rgba(tmp_path / f"turned{suffix}")
    assert rgba.shape == (24, 40, 4)
    assert rgba[:8, -8:, 0].mean() > 200 and rgba[:8, :8, 0].mean() < 50  # the mark is now top right


def test_large_pictures_are_shrunk_to_max_side(tmp_path):
    Image.new("RGB", (2 * MAX_SIDE + 100, 700), (10, 200, 30)).save(tmp_path / "wide.png")
    rgba = read_rgba(tmp_path / "wide.png")
    assert rgba.shape == (round(700 * MAX_SIDE / (2 * MAX_SIDE + 100)), MAX_SIDE, 4)
    assert tuple(rgba[100, 100]) == (10, 200, 30, 255)


def test_shrinking_weights_colours_by_alpha(tmp_path):
    # opaque green columns between invisible red ones: the red must not bleed into the green
    rgba = np.zeros((16, 2 * MAX_SIDE, 4), np.uint8)
    rgba[:, 0::2] = (0, 255, 0, 255)
    rgba[:, 1::2] = (255, 0, 0, 0)
    Image.fromarray(rgba).save(tmp_path / "stripes.png")
    for shrunk in (read_rgba(tmp_path / "stripes.png"), shrink_rgba(rgba)):
        assert shrunk.shape == (8, MAX_SIDE, 4)
        assert shrunk[..., 0].max() == 0 and shrunk[..., 1].min() == 255
        assert abs(int(shrunk[..., 3].mean()) - 128) <= 1


def test_shrink_rgba_matches_the_file_reader_and_leaves_small_pictures_alone():
    small = np.random.default_rng(1).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    assert shrink_rgba(small) is small
    big = np.random.default_rng(2).integers(0, 256, (1500, 900, 4), dtype=np.uint8)
    assert shrink_rgba(big).shape == (MAX_SIDE, round(900 * MAX_SIDE / 1500), 4)


# -- huge pictures: JPEG decodes smaller, the rest is refused; Pillow's own guard stays quiet
def test_a_large_jpeg_is_decoded_at_reduced_size(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_PIXELS", 2_000_000)  # below 3000 x 2400, above its 1/2 draft
    picture = Image.new("RGB", (3000, 2400), (240, 240, 240))
    picture.save(tmp_path / "photo.jpg")
    picture.save(tmp_path / "photo.png")
    rgba = read_rgba(tmp_path / "photo.jpg")
    assert rgba.shape == (round(2400 * MAX_SIDE / 3000), MAX_SIDE, 4)
    assert abs(int(rgba[..., 0].mean()) - 240) <= 2
    error = problem_of(tmp_path / "photo.png")  # PNG cannot be drafted
    assert "too large (3,000 x 2,400 pixels" in error.problem and "JPEG" in error.fix


@pytest.mark.parametrize("side", [9_500, 20_000])  # above Pillow's warning (89 Mpx) and its refusal (179 Mpx)
def test_huge_pictures_never_trigger_pillows_bomb_warning(tmp_path, capfd, side):
    path = tmp_path / f"huge-{side}.png"
    path.write_bytes(png_bytes(side, side, 8, 0, None))  # the header alone: nothing is decoded
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        error = problem_of(path)
    assert ("too large" in error.problem) == (side * side > files.MAX_PIXELS)
    assert "damaged" in error.problem or "too large" in error.problem
    assert Image.MAX_IMAGE_PIXELS == limit  # Pillow's guard is back for everyone else
    assert capfd.readouterr().err == ""


# -- what is not a picture file
def test_a_missing_file(tmp_path):
    error = problem_of(tmp_path / "nope.png")
    assert error.problem == "does not exist"


def test_a_folder(tmp_path):
    (tmp_path / "pictures.png").mkdir()
    assert "is a folder" in problem_of(tmp_path / "pictures.png").problem


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ImageFileError, read_rgba, fifo)),
                              daemon=True)  # opening a FIFO with no writer would block this thread forever
    reader.start()
    reader.join(timeout=10)
    assert outcome, "read_rgba opened the named pipe and waits for a writer"
    assert "named pipe" in outcome[0].value.problem


def test_an_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    assert "is empty" in problem_of(tmp_path / "empty.png").problem


@pytest.mark.parametrize("content", [b"not a picture", np.random.default_rng(0).bytes(500)])
def test_a_file_that_is_not_an_image(tmp_path, content):
    (tmp_path / "fake.png").write_bytes(content)
    error = problem_of(tmp_path / "fake.png")
    assert error.problem.startswith("cannot be read as an image (it is not a PNG, JPEG")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_truncated_file(tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(whole)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[:len(whole.read_bytes()) // 2])
    error = problem_of(cut)
    assert "damaged or incomplete" in error.problem and "again" in error.fix
