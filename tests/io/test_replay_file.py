"""The training replay in a model file: a round trip keeps it, old files have none, a damaged one is left out."""
from __future__ import annotations

import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

from cnnstudio.core.document import Document
from cnnstudio.core.playground import Playground
from cnnstudio.engine import Network
from cnnstudio.io.model_file import DEFAULT_MODEL_PATH, load_model, save_model
from cnnstudio.io.replay_file import MAGIC, ReplayData, Snapshot, pack_replay, unpack_replay
from cnnstudio.training import TrainingSession
from cnnstudio.training.replay import ReplayRecorder
from cnnstudio.training.runner import InlineDriver


def recorded(network: Network, count: int = 30, budget: int = 10) -> ReplayRecorder:
    """A recorder of ``count`` steps of weights drifting away from ``network``'s."""
    recorder = ReplayRecorder(budget=budget)
    copy = network.copy()
    rng = np.random.default_rng(0)
    for step in range(count):
        recorder.add(step, copy.params, loss=None if step == 0 else 2.3 / step)
        for p in copy.params:
            p += rng.normal(0, 0.01, p.shape).astype(np.float32)
    return recorder


def same_snapshots(a: ReplayRecorder, b: ReplayRecorder) -> None:
    assert a.steps == b.steps and a.losses == b.losses and a.interval == b.interval
    for index in range(len(a)):
        for x, y in zip(a.state_at(index), b.state_at(index)):
            np.testing.assert_allclose(x, y, rtol=2 ** -11, atol=2 ** -25)  # the newest is saved compressed


def rewrite_replay(path, entry) -> None:
    """Re-save ``path`` with its ``replay`` entry replaced by ``entry`` (bytes)."""
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["replay"] = np.frombuffer(entry, dtype=np.uint8)
    with open(path, "wb") as out:  # a file object: given a path, numpy would add ".npz" to its name
        np.savez_compressed(out, **arrays)


def test_a_model_file_keeps_the_snapshots(tmp_path):
    network = Network(seed=3)
    recorder = recorded(network)
    save_model(tmp_path / "m.cnnmodel", network, replay=recorder.to_data())
    loaded = load_model(tmp_path / "m.cnnmodel")
    assert loaded.replay_problem == "" and loaded.replay is not None
    back = ReplayRecorder()
    back.load(loaded.replay, [p.shape for p in loaded.network.params])
    same_snapshots(recorder, back)
    np.testing.assert_array_equal(loaded.network.params[0], network.params[0])


def test_recording_stores_snapshots_undeflated_and_the_file_deflates_them(tmp_path):
    """Deflating a 'Wide' snapshot cost the GUI thread 12-36 ms on every weights report early in a run; the
    recorder now keeps float16 planes in a stored zlib stream, and the model file's npz deflates the entry."""
    network = Network(seed=3)
    recorder = recorded(network, count=12, budget=20)
    weights = sum(p.size for p in network.params)
    older = recorder.to_data().snapshots[:-1]
    assert all(s.state is None and s.kinds == "h" * len(network.params) for s in older)
    for snapshot in older:  # 2 bytes a weight, plus zlib's header, block headers and checksum (deflated: less)
        assert 2 * weights < len(snapshot.blob) < 2 * weights + 64
    path = save_model(tmp_path / "m.cnnmodel", network, replay=recorder.to_data())
    with zipfile.ZipFile(path) as archive:
        entry = archive.getinfo("replay.npy")
    assert entry.compress_type == zipfile.ZIP_DEFLATED and entry.compress_size < 0.95 * entry.file_size


def test_snapshots_deflated_by_earlier_versions_still_load(tmp_path):
    network = Network(seed=4)
    recorder = recorded(network, count=8)
    shapes = [p.shape for p in network.params]
    data = recorder.to_data()
    deflated = [Snapshot(s.step, s.loss, s.anchor, s.kinds, zlib.compress(zlib.decompress(s.blob), 1))
                for s in (snapshot.compressed() for snapshot in data.snapshots)]
    assert all(len(d.blob) < 0.95 * len(s.compressed().blob) for d, s in zip(deflated, data.snapshots))
    back = unpack_replay(pack_replay(ReplayData(data.interval, tuple(deflated))), shapes)
    for index, snapshot in enumerate(back.snapshots):
        for x, y in zip(snapshot.weights(shapes), recorder.state_at(index)):
            np.testing.assert_allclose(x, y, rtol=2 ** -11, atol=2 ** -25)


def test_old_files_and_files_without_snapshots_load_with_none(tmp_path):
    assert load_model(DEFAULT_MODEL_PATH).replay is None  # the shipped model predates the replay
    save_model(tmp_path / "empty.cnnmodel", Network(seed=1), replay=ReplayRecorder().to_data())
    with np.load(tmp_path / "empty.cnnmodel") as npz:
        assert "replay" not in npz.files
    loaded = load_model(tmp_path / "empty.cnnmodel")
    assert loaded.replay is None and loaded.replay_problem == ""


def _damaged_entries(good: bytes):
    length = struct.unpack("<I", good[len(MAGIC):len(MAGIC) + 4])[0]
    start = len(MAGIC) + 4
    header = json.loads(good[start:start + length])
    body = good[start + length:]

    def with_header(**changes):
        text = json.dumps({**header, **changes}).encode()
        return MAGIC + struct.pack("<I", len(text)) + text + body

    flipped = bytearray(good)
    flipped[start + length + 20] ^= 0xFF  # inside the first snapshot's deflated weights
    first = dict(header["snapshots"][0])
    return {
        "not a replay": b"PK nothing of ours",
        "cut short": good[:-100],
        "a flipped byte": bytes(flipped),
        "bad JSON": MAGIC + struct.pack("<I", 3) + b"{x}" + body,
        "a huge description": MAGIC + struct.pack("<I", 2 ** 31) + b"{}",
        "a newer version": with_header(version=99),
        "steps out of order": with_header(snapshots=[first, first] + header["snapshots"][2:]),
        "a negative spacing": with_header(interval=-4),
        "a NaN loss": with_header(snapshots=[{**first, "loss": "NaN"}] + header["snapshots"][1:]),
        "wrong kinds": with_header(snapshots=[{**first, "kinds": "hh"}] + header["snapshots"][1:]),
        "bytes left over": good + b"\0\0",
    }


DAMAGES = ("not a replay", "cut short", "a flipped byte", "bad JSON", "a huge description", "a newer version",
           "steps out of order", "a negative spacing", "a NaN loss", "wrong kinds", "bytes left over")


def test_every_damage_is_faked():
    assert set(_damaged_entries(bytes(pack_replay(recorded(Network(seed=3)).to_data())))) == set(DAMAGES)


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_replay_is_left_out_with_one_line_and_the_model_still_loads(tmp_path, damage, caplog):
    network = Network(seed=3)
    path = save_model(tmp_path / "m.cnnmodel", network, replay=recorded(network).to_data())
    with np.load(path) as npz:
        good = npz["replay"].tobytes()
    rewrite_replay(path, _damaged_entries(good)[damage])
    loaded = load_model(path)
    assert loaded.replay is None
    assert loaded.replay_problem.startswith("m.cnnmodel: its training replay is damaged")
    assert "Fix:" in loaded.replay_problem and "\n" not in loaded.replay_problem
    np.testing.assert_array_equal(loaded.network.params[2], network.params[2])  # the rest of the model is whole


def test_snapshots_of_another_network_are_refused():
    recorder = recorded(Network(seed=3), count=3)
    entry = pack_replay(recorder.to_data())
    with pytest.raises(ValueError, match="snapshot 1 .* damaged"):
        unpack_replay(entry, [(8, 1, 5, 5), (8,), (16, 8, 3, 3), (16,), (10, 784), (10,)])
    with pytest.raises(ValueError, match="NaN"):
        nan = Snapshot(0, None, True, state=tuple(np.full(p.shape, np.nan, np.float32) for p in Network().params))
        unpack_replay(pack_replay(ReplayData(1, (nan,))), [p.shape for p in Network().params])


@pytest.fixture
def document():
    playground = Playground(Network(seed=1))
    return Document(playground, TrainingSession(playground, InlineDriver()))


def test_the_document_saves_loads_resets_and_undoes_the_replay(tmp_path, document):
    replay = document.session.replay
    replay.load(recorded(document.playground.network).to_data(), [p.shape for p in document.playground.network.params])
    steps = replay.steps
    path = document.save(tmp_path / "mine.cnnmodel")
    document.reset_weights(seed=2)
    assert len(replay) == 0
    document.playground.undo()
    assert replay.steps == steps
    other = Document(Playground(Network(seed=9)), TrainingSession(Playground(Network(seed=9)), InlineDriver()))
    other.load(path)
    same_snapshots(replay, other.session.replay)
    other.load(DEFAULT_MODEL_PATH)
    assert len(other.session.replay) == 0
    other.playground.undo()
    assert other.session.replay.steps == steps


def test_the_document_reports_a_damaged_replay_and_loads_the_rest(tmp_path, document):
    network = Network(seed=3)
    path = save_model(tmp_path / "m.cnnmodel", network, replay=recorded(network).to_data())
    rewrite_replay(path, b"damaged")
    document.load(path)
    assert len(document.session.replay) == 0
    assert document.session.replay.problem.startswith("m.cnnmodel: its training replay is damaged")
    np.testing.assert_array_equal(document.playground.network.params[0], network.params[0])
