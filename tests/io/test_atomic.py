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


def test_a_save_goes_through_a_link_to_its_file(tmp_path):
    target = tmp_path / "real.npz"
    save_npz_atomically(target, ARRAYS)
    link = tmp_path / "link.npz"
    link.symlink_to(target.name)
    assert save_npz_atomically(link, {"a": np.zeros(1, np.float32)}) == link
    assert link.is_symlink() and os.readlink(link) == "real.npz"
    with np.load(target) as npz:
        assert npz["a"].tolist() == [0]


def test_what_is_at_a_path(tmp_path):
    assert atomic.file_kind(os.stat(tmp_path).st_mode) == "a folder"
    assert atomic.file_kind(os.stat("/dev/null").st_mode) == "a device"
    os.mkfifo(tmp_path / "pipe")
    assert atomic.file_kind(os.stat(tmp_path / "pipe").st_mode) == "a named pipe (FIFO)"
    assert atomic.check_save_target(tmp_path / "new.npz") == tmp_path / "new.npz"


def test_bounded_reads_check_the_declared_size_first(tmp_path):
    path = tmp_path / "a.npz"
    np.savez_compressed(path, small=np.arange(6, dtype=np.float32).reshape(2, 3), big=np.zeros(1000))
    with atomic.BoundedNpz(path) as npz:
        assert sorted(npz.names) == ["big", "small"]
        assert npz.declared("small") == ((2, 3), np.dtype("<f4"))
        assert npz.read("small", 24).tolist() == [[0, 1, 2], [3, 4, 5]]
        with pytest.raises(atomic.NpzLimitError, match=r"its array 'big' declares shape \(1000,\) of float64 "
                                                        r"\(8,000 bytes\), more than the 100 allowed"):
            npz.read("big", 100)
