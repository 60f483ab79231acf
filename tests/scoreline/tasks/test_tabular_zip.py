from __future__ import annotations

import gzip

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks import get_task, tabular
from scoreline.tasks.tabular import zip_members
from tests.scoreline.tasks.zips import zipped


def test_members_leave_out_what_archivers_add_and_come_sorted() -> None:
    raw = zipped({
        "seasons/2016-17.csv": b"a", "seasons/": b"", "__MACOSX/seasons/._2016-17.csv": b"junk",
        ".DS_Store": b"junk", "seasons/._2015-16.csv": b"junk", "2015-16.csv": b"b",
    })  # fmt: skip
    archive, members = zip_members(raw, "seasons.zip")
    assert [info.filename for info in members] == ["2015-16.csv", "seasons/2016-17.csv"]
    assert archive.read(members[1]) == b"a"


def test_a_file_that_is_not_a_zip_says_what_was_expected() -> None:
    with pytest.raises(ScorelineError) as caught:
        zip_members(b"PK\x03\x04 not really", "seasons.zip", code=ErrorCode.UNSUPPORTED_MEDIA, expected="a zip of CSVs")
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA
    assert "'seasons.zip' is not a readable zip file" in caught.value.message
    assert caught.value.message.endswith("expected a zip of CSVs")


def _filler(size: int) -> bytes:
    """A CSV header and ``size`` newlines: compresses about a thousand to one."""
    return b"date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n" + b"\n" * size


@pytest.mark.parametrize("task_id", ["match-outcome", "esports-win", "player-investment", "event-traffic"])
def test_a_zip_that_unpacks_beyond_the_limit_is_a_413_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, task_id: str
) -> None:
    monkeypatch.setattr(tabular, "MAX_UNPACKED_BYTES", 1024 * 1024)
    raw = zipped({"a.csv": _filler(600 * 1024), "b.csv": _filler(600 * 1024)})
    assert len(raw) < 10_000  # a small upload
    with pytest.raises(ScorelineError) as caught:
        get_task(task_id).to_canonical(raw, "bomb.zip")
    assert caught.value.code == ErrorCode.TOO_LARGE
    assert "'bomb.zip' unpacks to 1,228,958 bytes, more than the limit of 1,048,576 bytes" in caught.value.message


@pytest.mark.parametrize("name", ["bomb.json.gz", "inner.zip"])
def test_a_gzip_that_unpacks_beyond_the_limit_is_a_413(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(tabular, "MAX_UNPACKED_BYTES", 1024 * 1024)
    packed = gzip.compress(b"[" + b" " * (2 * 1024 * 1024) + b"]")
    raw = packed if name.endswith(".gz") else zipped({"games.json.gz": packed})  # a gzip inside a zip too
    with pytest.raises(ScorelineError) as caught:
        get_task("esports-win").to_canonical(raw, name)
    assert caught.value.code == ErrorCode.TOO_LARGE and "unpacks to more than the limit" in caught.value.message


def test_gunzip_within_the_limit_and_a_broken_gzip() -> None:
    assert tabular.gunzip(gzip.compress(b"abc"), "a.gz") == b"abc"
    with pytest.raises(ScorelineError) as caught:
        tabular.gunzip(gzip.compress(b"abc")[:-6], "a.gz", code=ErrorCode.UNSUPPORTED_MEDIA)
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA and "'a.gz' is not a readable gzip" in caught.value.message


def _damaged(raw: bytes, damage: str) -> bytes:
    """``raw`` (a zip of one member) with its CRC wrong in both headers, or its deflate data overwritten."""
    data = bytearray(raw)
    if damage == "crc":
        for signature, offset in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
            data[data.find(signature) + offset] ^= 0xFF
    else:
        start = data.find(b"PK\x03\x04") + 30 + int.from_bytes(data[26:28], "little")
        data[start : start + 40] = b"\xff" * 40
    return bytes(data)


@pytest.mark.parametrize("damage", ["crc", "data"])
@pytest.mark.parametrize("task_id", ["match-outcome", "esports-win", "player-investment", "event-traffic"])
def test_a_zip_member_that_cannot_be_unpacked_is_an_error_naming_it(task_id: str, damage: str) -> None:
    """It was a 500 (zipfile.BadZipFile: Bad CRC-32, or zlib.error) from every task's zip reader."""
    content, _ = get_task(task_id).simulated_file(30, 1)
    raw = _damaged(zipped({"games.csv": content + b"\n" * 200}), damage)
    with pytest.raises(ScorelineError) as caught:
        get_task(task_id).to_canonical(raw, "upload.zip")
    assert caught.value.http_status in (415, 422)
    assert "'upload.zip': games.csv cannot be unpacked (" in caught.value.message  # some tasks list it per file
