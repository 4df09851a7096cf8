"""Odd and bad picture files through ``read_rgba``: each loads as the user expects or gives one
``ImageFileError`` line naming the file, what is wrong and a fix; the file is left as it was.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import zlib

import numpy as np
import pytest
from helpers_data import file_state, png_bytes, png_chunk
from PIL import Image

from cnnstudio.imaging import files
from cnnstudio.imaging.files import MAX_SIDE, ImageFileError, read_rgba


def loaded(path) -> np.ndarray:
    """``read_rgba(path)``, checking it gives uint8 RGBA and leaves the file untouched."""
    before = file_state(path)
    rgba = read_rgba(path)
    assert rgba.dtype == np.uint8 and rgba.ndim == 3 and rgba.shape[2] == 4
    assert file_state(path) == before
    return rgba


def refused(path, *fragments) -> ImageFileError:
    """``read_rgba(path)`` fails with a one-line message naming the file, each fragment and a fix."""
    before = file_state(path)
    with pytest.raises(ImageFileError) as caught:
        read_rgba(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and ". Fix: " in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert file_state(path) == before
    return caught.value


def in_a_fresh_process(code: str) -> dict:
    """Run ``code`` (which sets ``result``) in a new interpreter: its peak memory is its own.

    ``result`` comes back with ``peak_mb``, the child's maximum resident memory.
    """
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, resource
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_mb() -> float:
    """Peak memory of a fresh process that only imports the reader: what a decode adds is above it."""
    return in_a_fresh_process("import cnnstudio.imaging.files\nresult = {}")["peak_mb"]


# -- huge pictures: a JPEG is decoded smaller, a PNG too large to decode is refused; memory stays low


@pytest.fixture(scope="module")
def huge_pictures(tmp_path_factory):
    """A 12000 x 9000 JPEG (grey paper, a dark block in the middle) and a 20000 x 20000 white PNG.

    Made in another process (the JPEG needs 324 MB while it is encoded); the PNG is written row by
    row so it never exists decoded.
    """
    folder = tmp_path_factory.mktemp("huge")
    in_a_fresh_process(f"""
        import struct, sys, zlib
        from PIL import Image, ImageDraw
        photo = Image.new("RGB", (12000, 9000), (230, 230, 230))
        ImageDraw.Draw(photo).rectangle((3000, 2000, 9000, 7000), fill=(20, 20, 20))
        photo.save({str(folder / "photo.jpg")!r}, quality=80)
        del photo

        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from helpers_data import png_chunk as chunk
        side, squeeze = 20000, zlib.compressobj(1)
        row = b"\\0" + b"\\xff" * side
        pixels = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
        header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
        with open({str(folder / "poster.png")!r}, "wb") as out:
            out.write(b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
        result = {{}}
    """)
    return folder / "photo.jpg", folder / "poster.png"


def test_a_12000_by_9000_jpeg_loads_scaled_down(huge_pictures):
    photo = huge_pictures[0]
    before = file_state(photo)
    child = in_a_fresh_process(f"""
        from cnnstudio.imaging.files import read_rgba
        rgba = read_rgba({str(photo)!r})
        result = {{"shape": rgba.shape, "paper": rgba[10, 10].tolist(), "ink": rgba[384, 512].tolist()}}
    """)
    assert child["shape"] == [768, MAX_SIDE, 4]
    assert np.allclose(child["paper"], [230, 230, 230, 255], atol=3)
    assert np.allclose(child["ink"], [20, 20, 20, 255], atol=3)
    # decoded at 1/8 (1500 x 1125): a few MB, not the 432 MB of the full picture as RGBA
    assert child["peak_mb"] - baseline_mb() < 100, f"peak {child['peak_mb']:.0f} MB"
    assert file_state(photo) == before


def test_a_20000_by_20000_png_is_refused_without_decoding_it(huge_pictures):
    poster = huge_pictures[1]
    before = file_state(poster)
    child = in_a_fresh_process(f"""
        from cnnstudio.imaging.files import ImageFileError, read_rgba
        try:
            read_rgba({str(poster)!r})
            result = {{"message": None}}
        except ImageFileError as error:
            result = {{"message": str(error)}}
    """)
    assert child["message"] == (f"{poster} is too large (20,000 x 20,000 pixels; pictures up to 10,000 x 10,000 "
                                f"can be opened). Fix: scale it down in an image editor, or save it as JPEG "
                                f"(opened at reduced size).")
    assert child["peak_mb"] - baseline_mb() < 50, f"peak {child['peak_mb']:.0f} MB"
    assert file_state(poster) == before


# -- odd but good pictures


def test_a_1x1_picture(tmp_path):
    Image.new("L", (1, 1), 77).save(tmp_path / "dot.png")
    assert loaded(tmp_path / "dot.png").tolist() == [[[77, 77, 77, 255]]]


def test_a_fully_transparent_1x1_picture_loads_and_the_caller_decides_it_is_empty(tmp_path):
    Image.new("RGBA", (1, 1), (0, 0, 0, 0)).save(tmp_path / "blank.png")
    rgba = loaded(tmp_path / "blank.png")
    assert rgba.shape == (1, 1, 4) and rgba[0, 0, 3] == 0


def test_a_16_bit_grey_png_keeps_its_levels(tmp_path):
    levels = np.array([[0, 257 * 32, 257 * 200, 65535]], np.uint16)
    Image.fromarray(levels).save(tmp_path / "scan-16bit.png")
    assert loaded(tmp_path / "scan-16bit.png")[0, :, 0].tolist() == [0, 32, 200, 255]


def test_a_16_bit_grey_and_alpha_png(tmp_path):
    samples = np.array([[65535, 0, 32896, 65535]], ">u2")  # (grey, alpha) twice, big-endian
    (tmp_path / "deep-alpha.png").write_bytes(png_bytes(2, 1, 16, 4, b"\0" + samples.tobytes()))
    assert loaded(tmp_path / "deep-alpha.png")[0].tolist() == [[255, 255, 255, 0], [128, 128, 128, 255]]


@pytest.mark.parametrize("suffix, options", [(".gif", {"duration": 100, "loop": 0}), (".png", {}),
                                             (".webp", {"lossless": True})])
def test_an_animation_gives_its_first_frame(tmp_path, suffix, options):
    frames = [Image.new("RGB", (6, 4), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    path = tmp_path / f"animated{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], **options)
    rgba = loaded(path)
    assert rgba.shape == (4, 6, 4) and (rgba.reshape(-1, 4) == [255, 0, 0, 255]).all()


def test_a_cmyk_jpeg_becomes_rgb(tmp_path):
    picture = Image.new("CMYK", (4, 2), (0, 0, 0, 0))  # no ink: white paper
    picture.putpixel((1, 0), (0, 255, 255, 0))  # magenta + yellow: red
    picture.save(tmp_path / "print.jpg", quality=100)
    rgba = loaded(tmp_path / "print.jpg").astype(int)
    assert np.allclose(rgba[1, 3], [255, 255, 255, 255], atol=8)
    assert rgba[0, 1, 0] > 200 and rgba[0, 1, 1:3].max() < 60 and rgba[0, 1, 3] == 255


def test_a_palette_with_partly_transparent_entries(tmp_path):
    picture = Image.new("P", (3, 1))
    picture.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    for x in range(3):
        picture.putpixel((x, 0), x)
    picture.save(tmp_path / "sticker.png", transparency=bytes([0, 128, 255]))
    assert loaded(tmp_path / "sticker.png")[0].tolist() == [[255, 0, 0, 0], [0, 255, 0, 128], [0, 0, 255, 255]]


def test_a_unicode_path(tmp_path):
    folder = tmp_path / "desenhos_図"
    folder.mkdir()
    path = folder / "çifra_数字_🙂.png"
    Image.new("L", (3, 2), 200).save(path)
    assert loaded(path).shape == (2, 3, 4)
    path.write_bytes(b"")
    assert "çifra_数字_🙂.png is empty" in str(refused(path))


def test_a_picture_with_a_misleading_name_still_loads(tmp_path):
    Image.new("RGB", (5, 5), (0, 0, 255)).save(tmp_path / "digit.txt", format="PNG")
    assert loaded(tmp_path / "digit.txt")[2, 2].tolist() == [0, 0, 255, 255]


def test_a_png_whose_pixel_data_unzips_far_past_its_size(tmp_path):
    (tmp_path / "padded.png").write_bytes(png_bytes(10, 10, 8, 0, bytes(64 * 2**20)))  # 64 MB for 110 bytes
    assert loaded(tmp_path / "padded.png").shape == (10, 10, 4)


# -- damaged and foreign files


@pytest.mark.parametrize("keep", [20, 60, 0.5])
def test_a_truncated_png(tmp_path, keep):
    whole = tmp_path / "whole.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(whole)
    content = whole.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(content[:keep] if isinstance(keep, int) else content[:int(len(content) * keep)])
    refused(cut, "cannot be read as an image (damaged or incomplete", "Fix: save or download the picture again")


def test_a_png_header_with_a_wrong_checksum(tmp_path):
    content = bytearray(png_bytes(4, 4, 8, 0, b"".join(b"\0" + bytes(4) for _ in range(4))))
    content[29] ^= 0xFF  # the IHDR chunk's CRC
    (tmp_path / "bitrot.png").write_bytes(bytes(content))
    refused(tmp_path / "bitrot.png", "starts as a PNG file but its header is broken")


def test_a_png_of_zero_width(tmp_path):
    (tmp_path / "flat.png").write_bytes(png_bytes(0, 1, 8, 0, b"\0"))
    refused(tmp_path / "flat.png", "damaged or incomplete")


def test_random_bytes_named_png(tmp_path):
    (tmp_path / "noise.png").write_bytes(np.random.default_rng(7).bytes(4096))
    refused(tmp_path / "noise.png", "it is not a PNG, JPEG, BMP, GIF, WebP or TIFF file",
            "Fix: save the picture as PNG or JPEG and open that")


def test_a_zero_byte_file(tmp_path):
    (tmp_path / "nothing.png").write_bytes(b"")
    refused(tmp_path / "nothing.png", "is empty (0 bytes)")


def test_a_text_file_named_jpg(tmp_path):
    (tmp_path / "readme.jpg").write_text("This is where the photo will go.\n")
    refused(tmp_path / "readme.jpg", "it is not a PNG, JPEG")


def test_huge_text_chunks_are_not_unzipped(tmp_path):
    base = png_bytes(4, 4, 8, 0, b"".join(b"\0" + bytes(4) for _ in range(4)))
    bomb = png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(bytes(64 * 2**20)))  # 64 MB of text in 64 kB
    (tmp_path / "chatty.png").write_bytes(base[:33] + bomb + base[33:])  # after the signature and IHDR
    refused(tmp_path / "chatty.png", "damaged or incomplete")


def test_a_file_without_read_permission(tmp_path, monkeypatch):
    locked = tmp_path / "locked.png"
    Image.new("L", (4, 4)).save(locked)

    def refuse(*args, **kwargs):  # what open() does to a user without the read bit (root always may read)
        raise PermissionError(13, "Permission denied", str(locked))

    monkeypatch.setattr(files.Image, "open", refuse)
    refused(locked, "cannot be read (permission denied)", "check the file's permissions")


def test_a_folder_named_like_a_picture(tmp_path):
    (tmp_path / "album.jpg").mkdir()
    refused(tmp_path / "album.jpg", "is a folder, not an image")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_named_like_a_picture(tmp_path):
    fifo = tmp_path / "stream.png"
    os.mkfifo(fifo)
    outcome = []
    # opening a FIFO that has no writer would block the reading thread forever
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ImageFileError, read_rgba, fifo)),
                              daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert outcome, "read_rgba opened the named pipe and waits for a writer"
    assert "is a named pipe (FIFO), not an image file" in str(outcome[0].value)
