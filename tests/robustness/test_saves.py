"""Saving where a save cannot or must not go: a folder, a named pipe, a device, a link, a read-only
folder, a full disk, a kill mid-save.  Each is refused with one line (path, what is wrong, a fix) or
written through correctly, and the user's files stay byte-identical; stale temporary files are cleaned.

NOTE: these run as root in CI: nothing here writes to /dev.  The device refusal is checked with the
check-only ``check_save_target`` on /dev/null, and for a real save with a faked ``stat``.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from helpers_files import folder_state, run_python

from cnnstudio.engine import Network
from cnnstudio.io import atomic
from cnnstudio.io.atomic import SaveError, check_save_target, save_npz_atomically
from cnnstudio.io.model_file import load_model, save_model
from cnnstudio.io.my_digits import MyDigits

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX files: FIFOs, links, permissions")

ARRAYS = {"a": np.arange(4, dtype=np.float32)}


def refused_save(path, *fragments, save=lambda path: save_npz_atomically(path, ARRAYS), error=SaveError) -> str:
    """Save to ``path``: ``error`` with one line naming it, a fix and each fragment; its folder unchanged."""
    folder = path.parent if path.parent.is_dir() else path.parent.parent
    before = folder_state(folder)
    with pytest.raises(error) as caught:
        save(path)
    message = str(caught.value)
    assert str(path) in message and "Fix:" in message and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert folder_state(folder) == before
    return message


def temporaries(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def plant(folder, name, pid=None, age=120.0, random="abc123xy") -> str:
    """A leftover temporary file of target ``name`` as an earlier save would have left it, ``age`` seconds old."""
    temp = folder / (f".{name}.{pid}.{random}.tmp" if pid is not None else f".{name}.{random}.tmp")
    temp.write_bytes(b"PK\x03\x04 half a save")
    then = time.time() - age
    os.utime(temp, (then, then))
    return temp.name


# ---------------------------------------------------------------- what is at the path

def test_a_folder_is_not_replaced(tmp_path):
    target = tmp_path / "models"
    target.mkdir()
    (target / "keep.cnnmodel").write_bytes(b"mine")
    message = refused_save(target, "it is a folder, not a file", "Fix: choose a file name")
    assert "Errno" not in message
    assert (target / "keep.cnnmodel").read_bytes() == b"mine"


def test_a_named_pipe_is_not_replaced_nor_opened(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # never opened: opening it for writing would wait for a reader for ever
    refused_save(fifo, "it is a named pipe (FIFO), not a file, and saving would replace it",
                 "Fix: choose a regular file name")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_link_to_a_named_pipe_is_refused_and_both_stay(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "out.cnnmodel"
    link.symlink_to(fifo)
    refused_save(link, f"(a link to {fifo})", "named pipe", save=lambda path: save_model(path, Network(seed=0)))
    assert link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_null_is_refused_by_the_check_that_writes_nothing():
    with pytest.raises(SaveError, match=r"cannot save to /dev/null: it is a device, not a file, and saving would "
                                        r"replace it\. Fix: choose a regular file name"):
        check_save_target("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_device_is_never_replaced(tmp_path, monkeypatch):
    device = tmp_path / "full"
    device.write_bytes(b"stands in for /dev/full")
    real_stat = os.stat

    def as_a_device(path, *args, **kwargs):
        result = real_stat(path, *args, **kwargs)
        if str(path) == str(device):
            return os.stat_result((stat.S_IFCHR | 0o666, *tuple(result)[1:]))
        return result

    monkeypatch.setattr(atomic, "_stat", as_a_device)
    refused_save(device, "it is a device, not a file")
    refused_save(device, "it is a device", save=lambda path: MyDigits(path).save())
    assert device.read_bytes() == b"stands in for /dev/full"


def test_a_link_loop_is_explained(tmp_path):
    loop = tmp_path / "loop.cnnmodel"
    loop.symlink_to(loop.name)
    refused_save(loop, "points back to itself", "Fix: remove the link")


def test_a_file_where_a_folder_should_be(tmp_path):
    (tmp_path / "notes").write_bytes(b"a file")
    refused_save(tmp_path / "notes" / "m.cnnmodel", "is a file, not a folder",
                 "Fix: choose a file in an existing folder")


# ---------------------------------------------------------------- links are written through

def test_a_link_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "links").mkdir()
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "model.cnnmodel"
    save_model(target, Network(seed=1))
    link = tmp_path / "links" / "latest.cnnmodel"
    link.symlink_to(os.path.relpath(target, link.parent))
    written = save_model(link, Network(seed=2))
    assert written == link and link.is_symlink() and os.readlink(link) == os.path.relpath(target, link.parent)
    loaded = load_model(target).network
    assert all(np.array_equal(a, b) for a, b in zip(loaded.params, Network(seed=2).params))
    assert os.listdir(tmp_path / "links") == ["latest.cnnmodel"]  # no temporary file beside the link
    assert os.listdir(tmp_path / "real") == ["model.cnnmodel"]


def test_a_dangling_link_gets_its_file(tmp_path):
    link = tmp_path / "mine.npz"
    link.symlink_to("saved/digits.npz")
    (tmp_path / "saved").mkdir()
    store = MyDigits(link)
    store.add(np.zeros((28, 28), np.float32), 4)
    store.save()
    assert link.is_symlink() and (tmp_path / "saved" / "digits.npz").is_file()
    again = MyDigits(link)
    assert again.load() and again[0].label == 4


# ---------------------------------------------------------------- folders that cannot be written

@pytest.mark.skipif(os.geteuid() == 0 and shutil.which("setpriv") is None, reason="root writes anywhere")
def test_a_read_only_folder(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    (folder / "m.npz").write_bytes(b"old")
    folder.chmod(0o555)
    before = folder_state(folder)
    code = ("import sys, numpy as np\nfrom cnnstudio.io.atomic import save_npz_atomically\n"
            "try:\n    save_npz_atomically(sys.argv[1], {'a': np.zeros(2)})\n"
            "except OSError as err:\n    print(type(err).__name__, err.errno, err)")
    process = run_python(code, str(folder / "m.npz"), without_root_powers=os.geteuid() == 0)
    out, err = process.communicate(timeout=120)
    folder.chmod(0o755)
    assert out.startswith(f"PermissionError {errno.EACCES} cannot save to {folder / 'm.npz'}: the folder {folder} is "
                          f"not writable (Permission denied). Fix: choose a folder you may write to"), out + err
    assert folder_state(folder) == before


def test_an_unwritable_folder_even_as_root(tmp_path, monkeypatch):
    path = tmp_path / "m.cnnmodel"
    path.write_bytes(b"old model")

    def no_permission(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", no_permission)
    refused_save(path, "the folder", "is not writable (Permission denied)", "Fix: choose a folder you may write to",
                 save=lambda path: save_model(path, Network(seed=0)), error=PermissionError)


def test_a_folder_that_cannot_be_created(tmp_path, monkeypatch):
    def no_permission(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.Path, "mkdir", no_permission)
    refused_save(tmp_path / "new" / "m.npz", "does not exist and cannot be created (Permission denied)")


def test_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.cnnmodel"
    save_model(path, Network(seed=0))

    def full(handle, **arrays):
        handle.write(b"PK\x03\x04 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.np, "savez_compressed", full)
    message = refused_save(path, "the disk is full (No space left on device)", "Fix: free some space",
                           save=lambda path: save_model(path, Network(seed=1)), error=OSError)
    assert "Errno" not in message


# ---------------------------------------------------------------- stale temporary files

def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    name = "model.cnnmodel"
    gone = dead_pid()
    stale = plant(tmp_path, name, pid=gone)
    legacy = plant(tmp_path, name, age=7200, random="q1w2e3r4")  # an older CNN Studio's name, two hours old
    kept = {
        plant(tmp_path, name, pid=gone, age=5, random="young111"),             # maybe still being written
        plant(tmp_path, name, pid=os.getppid(), random="alive222"),            # its writer still runs
        plant(tmp_path, name, pid=os.getpid(), random="mine3333"),             # ours: another thread may write it
        plant(tmp_path, name, age=300, random="legacy44"),                     # old name, but only 5 minutes old
        plant(tmp_path, "other.cnnmodel", pid=gone, random="other555"),        # another file's
    }
    (tmp_path / f".{name}.{gone}.dirdir66.tmp").mkdir()                       # not a file: left alone
    kept.add(f".{name}.{gone}.dirdir66.tmp")
    save_model(tmp_path / name, Network(seed=0))
    names = set(os.listdir(tmp_path))
    assert stale not in names and legacy not in names
    assert kept <= names and name in names


def test_temporary_names_carry_the_writer_and_fit_long_names(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (seen.append(os.path.basename(a)), real_replace(a, b))[1])
    long_name = "ü" * 120 + ".npz"  # 244 bytes: the temporary name must still fit in 255
    save_npz_atomically(tmp_path / long_name, ARRAYS)
    save_npz_atomically(tmp_path / "m.npz", ARRAYS)
    assert seen[1].startswith(f".m.npz.{os.getpid()}.") and seen[1].endswith(".tmp")
    assert len(os.fsencode(seen[0])) <= 255
    assert sorted(os.listdir(tmp_path)) == sorted([long_name, "m.npz"])


SAVE_LOOP = """
import sys
import numpy as np
from cnnstudio.engine import Network
from cnnstudio.io.model_file import save_model
from cnnstudio.io.my_digits import MyDigits
network, digits = Network(seed=0), MyDigits(sys.argv[2])
for k in range(20):
    digits.add(np.full((28, 28), k / 20, np.float32), k % 10)
save_model(sys.argv[1], network)
digits.save()
print("saving", flush=True)
while True:
    save_model(sys.argv[1], network)
    digits.save()
"""


def test_kill_during_saves_never_corrupts_and_the_next_save_cleans_up(tmp_path):
    model, digits = tmp_path / "model.cnnmodel", tmp_path / "my_digits.npz"
    rng = np.random.default_rng(0)
    left = set()
    for _ in range(4):
        process = run_python(SAVE_LOOP, str(model), str(digits))
        guard = threading.Timer(120, process.kill)  # a child that never starts must not hang the suite
        guard.start()
        assert process.stdout.readline().strip() == "saving", process.stderr.read()
        guard.cancel()
        time.sleep(rng.uniform(0.05, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        process.stderr.close()
        assert load_model(model).network.num_classes == 10  # the old file or the whole new one
        reloaded = MyDigits(digits)
        assert reloaded.load() and len(reloaded) == 20
        left |= set(temporaries(tmp_path))
    then = time.time() - 120  # the leftovers grow old
    for name in temporaries(tmp_path):
        os.utime(tmp_path / name, (then, then))
    left.add(plant(tmp_path, "model.cnnmodel", pid=dead_pid()))  # at least one, whatever the kills hit
    save_model(model, Network(seed=1))
    store = MyDigits(digits)
    store.load()
    store.save()
    assert temporaries(tmp_path) == [], left
    assert sorted(os.listdir(tmp_path)) == ["model.cnnmodel", "my_digits.npz"]
