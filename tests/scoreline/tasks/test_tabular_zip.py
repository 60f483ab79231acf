from __future__ import annotations

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
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
