"""The compiled-kernel cache is read with pickle, so it is used only from a private folder.

The checks run on folders in ``tmp_path``; the command-line tests point $NUMBA_CACHE_DIR,
$XDG_CACHE_HOME, $HOME and $TMPDIR into ``tmp_path`` too, so the machine's own caches are
never touched.  Tests that hand a folder to another user need root (they are skipped otherwise).
"""
from __future__ import annotations

import os
import pickle
import shutil
import stat
from pathlib import Path

import numba
import pytest
from helpers_cli import cli_env, digit_file, run_cli

from cnnstudio.engine._jit import CACHE_SUBFOLDER, cache_folder_problem, choose_cache_dir, engine_digest, \
    private_folder

ANOTHER_UID = 54321
as_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                             reason="only root can hand a folder to another user")


def folder(path: Path, mode: int = 0o700) -> Path:
    path.mkdir()
    path.chmod(mode)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# ---------------------------------------------------------------- what counts as private

def test_a_folder_of_ones_own_is_private(tmp_path):
    assert cache_folder_problem(folder(tmp_path / "mine")) is None
    assert cache_folder_problem(folder(tmp_path / "readable", 0o755)) is None  # others may read, not write


@as_root
def test_another_users_folder_is_refused(tmp_path):
    theirs = folder(tmp_path / "theirs")
    os.chown(theirs, ANOTHER_UID, -1)
    assert cache_folder_problem(theirs) == f"belongs to another user (uid {ANOTHER_UID})"


@pytest.mark.parametrize("mode, shown", [(0o777, "777"), (0o1777, "1777"), (0o770, "770"), (0o702, "702")])
def test_a_folder_others_may_write_to_is_refused(tmp_path, mode, shown):
    shared = folder(tmp_path / "shared", mode)
    assert cache_folder_problem(shared) == f"other users may write to it (mode {shown})"


def test_a_symbolic_link_is_refused_even_to_a_private_folder(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(folder(tmp_path / "mine"))
    assert cache_folder_problem(link) == "is a symbolic link"


def test_a_file_or_nothing_is_refused(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    assert cache_folder_problem(tmp_path / "file") == "is not a folder"
    assert cache_folder_problem(tmp_path / "missing").startswith("cannot be examined")


@as_root
def test_a_private_folder_inside_another_users_folder_is_refused(tmp_path):
    theirs = folder(tmp_path / "theirs", 0o755)
    mine = folder(theirs / "mine")
    os.chown(theirs, ANOTHER_UID, -1)
    assert cache_folder_problem(mine) == f"is inside {theirs}, which belongs to another user (uid {ANOTHER_UID})"


def test_inside_a_folder_anyone_may_write_to_only_a_sticky_one_is_safe(tmp_path):
    open_to_all = folder(tmp_path / "open", 0o777)  # anyone could rename "mine" away and put theirs there
    assert cache_folder_problem(folder(open_to_all / "mine")) == f"is inside {open_to_all}, which anyone may write to"
    like_tmp = folder(tmp_path / "sticky", 0o1777)  # as /tmp: only the owner may rename what is inside
    assert cache_folder_problem(folder(like_tmp / "mine")) is None


# ---------------------------------------------------------------- making one

def test_missing_folders_are_created_private_whatever_the_umask(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    old = os.umask(0)
    try:
        assert private_folder(target) is None
    finally:
        os.umask(old)
    assert [mode_of(p) for p in (tmp_path / "a", tmp_path / "a" / "b", target)] == [0o700] * 3


def test_nothing_is_created_where_others_could_meddle(tmp_path):
    open_to_all = folder(tmp_path / "open", 0o777)
    assert private_folder(open_to_all / "cache" / "numba") == f"is inside {open_to_all}, which anyone may write to"
    assert list(open_to_all.iterdir()) == []


def test_an_existing_unsafe_folder_is_left_as_it_is(tmp_path):
    shared = folder(tmp_path / "shared", 0o777)
    assert private_folder(shared) == "other users may write to it (mode 777)"
    assert mode_of(shared) == 0o777  # refused, not "repaired": someone else may already have planted files


# ---------------------------------------------------------------- choosing one

def env_in(tmp_path: Path, **changes) -> dict[str, str]:
    env = {"HOME": str(tmp_path / "home"), "TMPDIR": str(folder(tmp_path / "tmp"))}
    env.update({name: str(value) for name, value in changes.items()})
    return env


def test_numba_cache_dir_is_used_when_private(tmp_path):
    chosen, refused = choose_cache_dir(env_in(tmp_path, NUMBA_CACHE_DIR=tmp_path / "numba"))
    assert chosen == str(tmp_path / "numba" / f"engine-{engine_digest()}") and refused == []
    assert mode_of(Path(chosen)) == mode_of(tmp_path / "numba") == 0o700


def test_an_unsafe_numba_cache_dir_falls_back_to_the_users_cache_folder(tmp_path):
    shared = folder(tmp_path / "shared", 0o777)
    chosen, refused = choose_cache_dir(env_in(tmp_path, NUMBA_CACHE_DIR=shared, XDG_CACHE_HOME=tmp_path / "xdg"))
    assert chosen == str(tmp_path / "xdg" / CACHE_SUBFOLDER / f"engine-{engine_digest()}")
    assert refused == [f"{shared}: other users may write to it (mode 777)"]
    assert list(shared.iterdir()) == []


def test_an_unsafe_engine_folder_inside_a_private_one_is_refused_too(tmp_path):
    base = folder(tmp_path / "numba")
    planted = folder(base / f"engine-{engine_digest()}", 0o777)
    chosen, refused = choose_cache_dir(env_in(tmp_path, NUMBA_CACHE_DIR=base))
    assert refused == [f"{planted}: other users may write to it (mode 777)"]
    assert chosen == str(tmp_path / "home" / ".cache" / CACHE_SUBFOLDER / f"engine-{engine_digest()}")


def test_with_no_private_folder_there_is_no_disk_cache(tmp_path):
    shared = folder(tmp_path / "shared", 0o777)
    env = {"NUMBA_CACHE_DIR": str(shared / "numba"), "XDG_CACHE_HOME": str(shared / "xdg"),
           "TMPDIR": str(shared / "tmp")}
    chosen, refused = choose_cache_dir(env)
    assert chosen is None and len(refused) == 3
    assert list(shared.iterdir()) == []


# ---------------------------------------------------------------- a planted cache is never loaded

def plant(warm: Path, target: Path, marker: Path) -> None:
    """Copy the warm cache ``warm`` to ``target``, every index file rewritten to make ``marker`` when unpickled.

    The index keeps its real content too, so a process that trusted it would still load the kernels.
    """
    shutil.copytree(warm, target)
    planted = 0
    for index in target.rglob("*.nbi"):
        with open(index, "rb") as f:
            version = pickle.load(f)
            content = pickle.loads(f.read())
        index.write_bytes(pickle.dumps(version) + pickle.dumps(_Planted(str(marker), content)))
        planted += 1
    assert planted >= 5  # the forward kernels predict needs


class _MakeMarker:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # what a planted pickle does: run a function of the attacker's choosing
        return os.makedirs, (self.marker, 0o700, True)  # exist_ok: every planted index runs it


class _Planted:
    def __init__(self, marker: str, content):
        self.marker, self.content = marker, content

    def __reduce__(self):  # (makedirs(marker), content)[1]: the real index, after the side effect
        import operator
        return operator.itemgetter(1), ((_MakeMarker(self.marker), self.content),)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory) -> Path:
    """A Numba cache of predict's kernels made in a private folder of the test (compiled once: ~10 s)."""
    root = tmp_path_factory.mktemp("warm")
    image = digit_file(root / "three.png")
    done = run_cli("predict", image, env=cli_env(NUMBA_CACHE_DIR=str(root / "numba"), HOME=str(root),
                                                 TMPDIR=str(root), XDG_CACHE_HOME=None))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return root / "numba" / f"engine-{engine_digest()}"


def predict_with(tmp_path: Path, **env) -> tuple:
    image = digit_file(tmp_path / "seven.png", 7)
    return run_cli("predict", "--json", image, env=cli_env(**env))


def test_the_planted_cache_would_run_its_code_if_trusted(tmp_path, warm_cache):
    marker = tmp_path / "ran"
    plant(warm_cache, tmp_path / "planted" / warm_cache.name, marker)
    (tmp_path / "planted").chmod(0o700)
    done = predict_with(tmp_path, NUMBA_CACHE_DIR=str(tmp_path / "planted"), HOME=str(tmp_path),
                        TMPDIR=str(tmp_path), XDG_CACHE_HOME=None)
    assert done.returncode == 0 and marker.exists()  # the test's plant really is dangerous


@pytest.mark.parametrize("how", ["world-writable", pytest.param("another user's", marks=as_root)])
@pytest.mark.parametrize("where", ["NUMBA_CACHE_DIR", "XDG_CACHE_HOME"])
def test_a_planted_cache_in_an_unsafe_folder_is_never_loaded(tmp_path, warm_cache, where, how):
    marker = tmp_path / "ran"
    unsafe = tmp_path / "unsafe"
    cache = unsafe if where == "NUMBA_CACHE_DIR" else unsafe / CACHE_SUBFOLDER
    plant(warm_cache, cache / warm_cache.name, marker)
    if how == "world-writable":
        unsafe.chmod(0o777)
    else:
        for path in [unsafe, *unsafe.rglob("*")]:
            os.chown(path, ANOTHER_UID, -1, follow_symlinks=False)
    # the fallbacks (the user's cache folder, then the temporary folder) hold warm private copies
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    for fallback in (home / ".cache" / CACHE_SUBFOLDER, temporary / f"cnnstudio-numba-{os.getuid()}"):
        shutil.copytree(warm_cache, fallback / warm_cache.name)
    for path in [home, temporary, *home.rglob("*"), *temporary.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    env = {"NUMBA_CACHE_DIR": None, "XDG_CACHE_HOME": None, where: str(unsafe), "HOME": str(home),
           "TMPDIR": str(temporary)}

    done = predict_with(tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    warning, = [line for line in done.stderr.splitlines() if line]
    assert warning.startswith("CNN Studio does not cache compiled kernels in ") and "Fix: " in warning
    assert "Traceback" not in done.stderr


def test_without_any_private_folder_predict_still_works(tmp_path):
    shared = folder(tmp_path / "shared", 0o777)
    done = predict_with(tmp_path, NUMBA_CACHE_DIR=str(shared / "numba"), XDG_CACHE_HOME=str(shared / "xdg"),
                        HOME=str(shared), TMPDIR=str(shared))  # every kernel compiles anew: ~10 s
    assert done.returncode == 0 and '"class": 7' in done.stdout
    assert done.stderr.splitlines()[-1] == ("CNN Studio found no private folder for its compiled kernels: they "
                                            "are compiled anew at every start.")
    assert list(shared.iterdir()) == []  # nothing was made where others could meddle


def test_numba_itself_is_told_the_chosen_folder():
    from cnnstudio.engine import _jit
    assert numba.config.CACHE_DIR == (_jit.CACHE_DIR or "")
    assert _jit.CACHE == (_jit.CACHE_DIR is not None)
