"""Shared pieces of the save and model-file robustness tests: hashes of the user's files, and
hand-made npz archives (lying zip sizes, lying npy headers, zip bombs) built without numpy's help.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from cnnstudio.engine import Network
from cnnstudio.io.model_file import save_model


def folder_state(folder: Path) -> dict[str, str]:
    """{name: sha256 of the file, or its kind} of everything in ``folder`` (links are not followed)."""
    state = {}
    for path in sorted(Path(folder).iterdir()):
        if path.is_symlink():
            state[path.name] = f"link -> {path.readlink()}"
        elif path.is_file():
            state[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[path.name] = "folder" if path.is_dir() else "special"
    return state


def model_arrays(network: Network | None = None, **header_changes) -> dict[str, object]:
    """The members of a model file as {name: array}: a real header (changed by ``header_changes``) and weights."""
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(Path(folder) / "m.cnnmodel", network or Network(seed=3))
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
    header = json.loads(str(arrays["header"]))
    header.update(header_changes)
    arrays["header"] = np.array(json.dumps(header))
    return arrays


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape, descr: str = "<f4") -> bytes:
    """An npy (version 1.0) header declaring ``shape`` of ``descr``, with no data after it."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}".encode("latin1")
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def write_zip(path: Path, members: dict[str, bytes], compress: int = zipfile.ZIP_DEFLATED) -> None:
    """A zip archive of ``members`` ({name: raw bytes}), names given in full (e.g. ``p0.npy``)."""
    with zipfile.ZipFile(path, "w", compression=compress) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def write_model(path: Path, arrays: dict[str, object], raw: dict[str, bytes] | None = None) -> None:
    """A model-like npz of ``arrays`` (numpy-encoded) plus ``raw`` members ({name.npy: bytes}) as given."""
    members = {f"{key}.npy": npy_bytes(value) for key, value in arrays.items()}
    members.update(raw or {})
    write_zip(path, members)


def declare_size(path: Path, member: str, size: int) -> None:
    """Make the zip entry ``member`` declare ``size`` uncompressed bytes (central directory and local header)."""
    data = bytearray(path.read_bytes())
    encoded = member.encode()
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + name_length]) == encoded:
            struct.pack_into("<I", data, central + 24, size)
            local = struct.unpack_from("<I", data, central + 42)[0]
            struct.pack_into("<I", data, local + 22, size)
            path.write_bytes(bytes(data))
            return
        central = data.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"no member {member} in {path}")


def zip_bomb_member(prefix: bytes, declared_total: int, inflated: int) -> tuple[bytes, int]:
    """Deflate data that starts with ``prefix`` and inflates to ``inflated`` bytes of zeros after it.

    Returns (compressed bytes, crc of the first ``declared_total`` bytes) so the member can be written
    claiming ``declared_total`` bytes while really holding far more.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunks = [compressor.compress(prefix)]
    zeros = bytes(1 << 20)
    for _ in range(inflated >> 20):
        chunks.append(compressor.compress(zeros))
    chunks.append(compressor.flush())
    declared = (prefix + bytes(max(declared_total - len(prefix), 0)))[:declared_total]
    return b"".join(chunks), zlib.crc32(declared)


def write_raw_deflated(path: Path, members: dict[str, bytes], bomb: tuple[str, bytes, int, int]) -> None:
    """A zip of ``members`` plus one pre-compressed member ``bomb`` = (name, deflated, crc, declared size)."""
    name, deflated, crc, declared = bomb
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    # append the bomb by hand: zipfile would compress it itself
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack_from("<HII", data, end + 10)
    central = bytes(data[cd_offset:cd_offset + cd_size])
    body = bytes(data[:cd_offset])
    encoded = name.encode()
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), declared,
                        len(encoded), 0) + encoded
    offset = len(body)
    entry = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(deflated), declared,
                        len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    body += local + deflated
    new_central = central + entry
    tail = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, count + 1, count + 1, len(new_central), len(body), 0)
    path.write_bytes(body + new_central + tail)


REPO = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str, without_root_powers: bool = False) -> subprocess.Popen:
    """Start ``python -c code args`` with CNN Studio importable; ``without_root_powers`` drops the
    capabilities that let root write into read-only folders (so permission errors happen as for a user)."""
    command = [sys.executable, "-c", code, *args]
    if without_root_powers:
        command = [shutil.which("setpriv"), "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
