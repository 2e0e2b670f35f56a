"""The sign record file and the voted blocks beside it (node/producer/signrecord.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.types import SignRecord, Step
from node.producer.errors import SignRecordError
from node.producer.signrecord import SignRecordFile, voted_blocks_dir, write_durably

A, B, C = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32


def test_a_record_is_written_durably_and_read_back(tmp_path: Path) -> None:
    records = SignRecordFile(tmp_path / "sign_record")
    assert records.load() is None  # a validator that never signed
    record = SignRecord(4, 2, Step.PREVOTE, 1, A)
    records.save(record)
    assert SignRecordFile(tmp_path / "sign_record").load() == record  # as a restarted process reads it
    assert (tmp_path / "sign_record").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "sign_record.tmp").exists()  # renamed into place
    records.save(SignRecord(4, 3, Step.PROPOSE))
    assert records.load() == SignRecord(4, 3, Step.PROPOSE)


def test_a_corrupt_or_unreadable_record_stops_the_validator(tmp_path: Path) -> None:
    path = tmp_path / "sign_record"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(SignRecordError, match="corrupt") as info:
        SignRecordFile(path).load()
    assert info.value.path == str(path)
    path.unlink()
    path.mkdir()  # a directory where the file should be: cannot read
    with pytest.raises(SignRecordError, match="cannot read"):
        SignRecordFile(path).load()
    with pytest.raises(SignRecordError, match="cannot write"):
        write_durably(tmp_path / "missing-dir" / "file", b"x")


def test_voted_blocks_are_kept_until_their_height_is_committed(tmp_path: Path) -> None:
    records = SignRecordFile(tmp_path / "sign_record")
    assert records.blocks_dir == voted_blocks_dir(tmp_path / "sign_record")
    assert list(records.blocks_at(5)) == []  # no folder yet
    records.save_block(4, A, b"block a")
    records.save_block(5, B, b"block b")
    records.save_block(6, C, b"block c")
    assert records.has_block(A) and records.has_block(B)
    assert records.blocks_dir.stat().st_mode & 0o077 == 0

    # After a restart at height 5: that height's blocks come back; lower ones are deleted on the way.
    restarted = SignRecordFile(tmp_path / "sign_record")
    assert not restarted.has_block(B)
    assert list(restarted.blocks_at(5)) == [(f"5-{B.hex()}.block", b"block b")]
    assert sorted(p.name for p in restarted.blocks_dir.iterdir()) == [
        f"5-{B.hex()}.block",
        f"6-{C.hex()}.block",
    ]
    restarted.note_restored(B)
    assert restarted.has_block(B)

    restarted.committed(5)
    assert not restarted.has_block(B)  # the next height writes its blocks afresh
    assert [p.name for p in restarted.blocks_dir.iterdir()] == [f"6-{C.hex()}.block"]
