from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.settings import StorageSettings
from scoreline.data.storage import LocalStore, ObjectStore, S3Store, open_store
from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.servers import free_port


def _s3_settings(endpoint: str, bucket: str) -> StorageSettings:
    return StorageSettings(
        storage_uri=f"s3://{bucket}",
        s3_endpoint=endpoint,
        s3_access_key=S3_ACCESS_KEY,
        s3_secret_key=S3_SECRET_KEY,
    )


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        moto = request.getfixturevalue("moto_s3")
        bucket = request.getfixturevalue("s3_bucket")
        yield open_store(_s3_settings(moto.url, bucket))


def test_put_get_exists_list_delete(store: ObjectStore) -> None:
    assert store.list() == []
    store.put("datasets/a/1/data.bin", b"one")
    store.put("datasets/a/2/data.bin", b"two")
    store.put("raw/a/1/file.csv", b"x,y\n")
    assert store.get("datasets/a/1/data.bin") == b"one"
    assert store.exists("datasets/a/2/data.bin")
    assert not store.exists("datasets/a/3/data.bin")
    assert store.list("datasets/") == ["datasets/a/1/data.bin", "datasets/a/2/data.bin"]
    assert store.list() == ["datasets/a/1/data.bin", "datasets/a/2/data.bin", "raw/a/1/file.csv"]
    store.put("datasets/a/1/data.bin", b"replaced")
    assert store.get("datasets/a/1/data.bin") == b"replaced"
    store.delete("datasets/a/1/data.bin")
    store.delete("datasets/a/1/data.bin")  # already gone: no error
    assert not store.exists("datasets/a/1/data.bin")
    with pytest.raises(ScorelineError) as caught:
        store.get("datasets/a/1/data.bin")
    assert caught.value.code == ErrorCode.NOT_FOUND


def test_files_in_and_out(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    source.write_bytes(b"a,b\n" + b"1,2\n" * 200_000)
    store.put_file("raw/t/d/v/big.csv", source)
    target = tmp_path / "copy.csv"
    store.get_file("raw/t/d/v/big.csv", target)
    assert target.read_bytes() == source.read_bytes()


def test_put_if_absent(store: ObjectStore) -> None:
    assert store.put_if_absent("m/manifest.json", b"first")
    assert not store.put_if_absent("m/manifest.json", b"second")
    assert store.get("m/manifest.json") == b"first"


@pytest.mark.parametrize("key", ["../escape", "/abs/key", "a//b", "a/./b", "a/../b", "", "a/b/"])
def test_keys_cannot_escape(store: ObjectStore, key: str) -> None:
    with pytest.raises(ScorelineError) as caught:
        store.put(key, b"x")
    assert caught.value.code == ErrorCode.INVALID_INPUT


def test_local_put_is_atomic_under_concurrent_readers(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    old, new = b"o" * 1_000_000, b"n" * 1_000_000
    store.put("k/blob", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            blob = store.get("k/blob")
            seen.add(blob[:1] + blob[-1:])

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(20):
        store.put("k/blob", new)
        store.put("k/blob", old)
    stop.set()
    reader.join()
    assert seen <= {b"oo", b"nn"}  # never a torn object
    assert store.list() == ["k/blob"]  # no temporary files left


def test_local_store_with_unwritable_root_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = LocalStore(blocker / "store")
    with pytest.raises(ScorelineError) as caught:
        store.put("a/b", b"x")
    assert caught.value.code == ErrorCode.UNAVAILABLE
    assert caught.value.retry_after_s


def test_unreachable_s3_is_unavailable_with_retry_hint() -> None:
    store = open_store(_s3_settings(f"http://127.0.0.1:{free_port()}", "nowhere"))
    assert isinstance(store, S3Store)
    for operation in (lambda: store.put("a/b", b"x"), lambda: store.get("a/b"), lambda: store.list(), store.check):
        with pytest.raises(ScorelineError) as caught:
            operation()
        assert caught.value.code == ErrorCode.UNAVAILABLE
        assert caught.value.retry_after_s and caught.value.retry_after_s > 0


@pytest.mark.slow
def test_missing_bucket_is_unavailable(moto_s3) -> None:
    store = open_store(_s3_settings(moto_s3.url, "no-such-bucket-here"))
    with pytest.raises(ScorelineError) as caught:
        store.check()
    assert caught.value.code == ErrorCode.UNAVAILABLE
    assert "no-such-bucket-here" in caught.value.message


def test_open_store_by_uri(tmp_path: Path) -> None:
    local = open_store(StorageSettings(storage_uri=f"file://{tmp_path}/s"))
    assert isinstance(local, LocalStore) and local.root == (tmp_path / "s").resolve()
    s3 = open_store(_s3_settings("http://127.0.0.1:9", "bucket"))
    assert isinstance(s3, S3Store) and s3.bucket == "bucket"
    with pytest.raises(ScorelineError):
        open_store(StorageSettings(storage_uri="ftp://x/y"))
