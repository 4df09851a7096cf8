"""Atomic saves keep the permissions a file would have had: a new file's (umask) or the replaced file's."""
from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pytest

from cnnstudio.io import atomic
from cnnstudio.io.atomic import current_umask, save_npz_atomically

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back after."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda value: os.umask(value)
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


ARRAYS = {"a": np.arange(3, dtype=np.float32)}


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_new_file_gets_the_umask_permissions_like_open_would(tmp_path, umask, mask, expected):
    umask(mask)
    written = save_npz_atomically(tmp_path / "new.npz", ARRAYS)
    assert mode(written) == expected
    with open(tmp_path / "plain", "wb"):
        pass
    assert mode(written) == mode(tmp_path / "plain")


def test_overwriting_keeps_the_old_files_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "shared.npz"
    save_npz_atomically(path, ARRAYS)
    os.chmod(path, 0o640)
    save_npz_atomically(path, {"a": np.zeros(2, np.float32)})
    assert mode(path) == 0o640
    with np.load(path) as npz:
        assert npz["a"].tolist() == [0, 0]
    os.chmod(path, 0o664)
    save_npz_atomically(path, ARRAYS)
    assert mode(path) == 0o664
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.npz"]


def test_the_umask_is_read_without_being_changed(umask):
    umask(0o027)
    assert current_umask() == 0o027
    assert os.umask(0o027) == 0o027  # still set as it was


def test_without_proc_the_umask_is_read_and_put_back(umask, monkeypatch):
    umask(0o007)
    real_open = open

    def no_proc(file, *args, **kwargs):
        if str(file).startswith("/proc/"):
            raise FileNotFoundError(2, "No such file or directory", file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", no_proc, raising=False)
    assert current_umask() == 0o007
    assert os.umask(0o007) == 0o007
