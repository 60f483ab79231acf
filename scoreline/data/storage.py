"""Object storage: one small interface, a local folder adapter and an S3/MinIO adapter.

Keys are ``/``-separated relative paths (``datasets/match-outcome/results/<version>/data.parquet``).
Every write is atomic: a reader sees the old object, the whole new one, or nothing. When the
storage cannot be reached, operations raise ``ScorelineError(UNAVAILABLE)`` with a retry hint,
so services answer 503 with ``Retry-After`` instead of failing with a 500.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.settings import StorageSettings

if TYPE_CHECKING:
    from minio import Minio

T = TypeVar("T")
RETRY_AFTER_S = 5
_TEMP_MARKER = ".tmp-"
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@=+,()-]*$")


def check_key(key: str) -> str:
    """A key made of plain path segments: no empty, ``.`` or ``..`` parts, no leading slash."""
    parts = key.split("/")
    if not key or any(not _KEY_PART.match(part) or part in {".", ".."} for part in parts):
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid object key {key!r}: expected '/'-separated segments of letters, digits, spaces and '._@=+,()-'",
            {"key": key},
        )
    return key


def unavailable(what: str, cause: BaseException) -> ScorelineError:
    return ScorelineError(
        ErrorCode.UNAVAILABLE,
        f"object storage unavailable while trying to {what}: {type(cause).__name__}: {cause}"[:500],
        {"operation": what},
        retry_after_s=RETRY_AFTER_S,
    )


class ObjectStore(ABC):
    """The storage every part of Scoreline uses for raw files, datasets and other artifacts."""

    uri: str

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write ``data`` at ``key`` atomically, replacing any existing object."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        """Write the file at ``path`` atomically, streaming it rather than reading it into memory."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        """Write ``data`` only if nothing is at ``key``; ``False`` when another writer got there first."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; ``ScorelineError(NOT_FOUND)`` when there is none."""

    @abstractmethod
    def get_file(self, key: str, path: Path) -> None:
        """Download the object into ``path``."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Every key starting with ``prefix`` (recursively), sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""

    @abstractmethod
    def check(self) -> None:
        """Raise ``ScorelineError(UNAVAILABLE)`` unless the storage answers."""


def _not_found(key: str) -> ScorelineError:
    return ScorelineError(ErrorCode.NOT_FOUND, f"no object at {key!r}", {"key": key})


class LocalStore(ObjectStore):
    """A folder on the local disk. Writes go to a temporary file in the same folder, then ``os.replace``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.uri = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    @contextlib.contextmanager
    def _temp_beside(self, target: Path) -> Iterator[Path]:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unavailable(f"create {target.parent}", exc) from exc
        temp = target.with_name(f".{target.name}{_TEMP_MARKER}{uuid.uuid4().hex}")
        try:
            yield temp
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        with self._temp_beside(target) as temp:
            try:
                temp.write_bytes(data)
                os.replace(temp, target)
            except OSError as exc:
                raise unavailable(f"write {key}", exc) from exc

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        import shutil

        target = self._path(key)
        with self._temp_beside(target) as temp:
            try:
                shutil.copyfile(path, temp)
                os.replace(temp, target)
            except OSError as exc:
                raise unavailable(f"write {key}", exc) from exc

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        target = self._path(key)
        with self._temp_beside(target) as temp:
            try:
                temp.write_bytes(data)
                os.link(temp, target)  # atomic create-if-absent, unlike os.replace
            except FileExistsError:
                return False
            except OSError as exc:
                raise unavailable(f"write {key}", exc) from exc
        return True

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise _not_found(key) from exc
        except OSError as exc:
            raise unavailable(f"read {key}", exc) from exc

    def get_file(self, key: str, path: Path) -> None:
        import shutil

        try:
            shutil.copyfile(self._path(key), path)
        except FileNotFoundError as exc:
            raise _not_found(key) from exc
        except OSError as exc:
            raise unavailable(f"read {key}", exc) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        keys = []
        try:
            for dirpath, _dirnames, filenames in os.walk(self.root):
                base = Path(dirpath).relative_to(self.root).as_posix()
                for name in filenames:
                    if _TEMP_MARKER in name:
                        continue
                    key = name if base == "." else f"{base}/{name}"
                    if key.startswith(prefix):
                        keys.append(key)
        except OSError as exc:
            raise unavailable(f"list {prefix!r}", exc) from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unavailable(f"open {self.root}", exc) from exc
        if not os.access(self.root, os.W_OK):
            raise unavailable(f"write into {self.root}", PermissionError("not writable"))


class S3Store(ObjectStore):
    """A bucket on S3 or MinIO through the ``minio`` client. Single PUTs are atomic in S3."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket
        self.uri = f"s3://{bucket}"

    @classmethod
    def from_settings(cls, settings: StorageSettings, bucket: str) -> S3Store:
        import urllib3
        from minio import Minio

        endpoint = settings.s3_endpoint or "https://s3.amazonaws.com"
        parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        # Few, quick retries: an outage must surface as a 503 within seconds, not hang a request.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3.0, read=60.0),
            retries=urllib3.Retry(total=2, connect=1, read=1, backoff_factor=0.2, status_forcelist=(500, 502, 504)),
            maxsize=16,
        )
        client = Minio(
            parsed.netloc,
            access_key=settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
            secret_key=settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
            secure=parsed.scheme == "https",
            region=settings.s3_region,
            http_client=http,
        )
        return cls(client, bucket)

    def _call(self, what: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from minio.error import S3Error

        try:
            return fn(*args, **kwargs)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"} and key is not None:
                raise _not_found(key) from exc
            if exc.code == "NoSuchBucket":
                raise ScorelineError(
                    ErrorCode.UNAVAILABLE,
                    f"bucket {self.bucket!r} does not exist; create it or point SCORELINE_STORAGE_URI at another",
                    {"bucket": self.bucket},
                    retry_after_s=RETRY_AFTER_S,
                ) from exc
            raise
        except ScorelineError:
            raise
        except Exception as exc:  # urllib3/socket errors: the storage is down or unreachable
            raise unavailable(what, exc) from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        check_key(key)
        self._call(
            f"write {key}",
            None,
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
        )

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        check_key(key)
        self._call(
            f"write {key}", None, self.client.fput_object, self.bucket, key, str(path), content_type=content_type
        )

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        # The minio client cannot send If-None-Match, so two writers racing across processes may both
        # write; callers only use this for objects whose racing writers describe the same content.
        if self.exists(key):
            return False
        self.put(key, data, content_type)
        return True

    def get(self, key: str) -> bytes:
        check_key(key)

        def read() -> bytes:
            response = self.client.get_object(self.bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return self._call(f"read {key}", key, read)

    def get_file(self, key: str, path: Path) -> None:
        check_key(key)
        self._call(f"read {key}", key, self.client.fget_object, self.bucket, key, str(path))

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self._call(f"stat {key}", key, self.client.stat_object, self.bucket, key)
        except ScorelineError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                return False
            raise
        return True

    def list(self, prefix: str = "") -> list[str]:
        def collect() -> list[str]:
            objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            # Directory markers (keys ending in '/') are written by some clients; they are not objects.
            return sorted(o.object_name for o in objects if o.object_name and not o.object_name.endswith("/"))

        return self._call(f"list {prefix!r}", None, collect)

    def delete(self, key: str) -> None:
        check_key(key)
        self._call(f"delete {key}", None, self.client.remove_object, self.bucket, key)

    def check(self) -> None:
        found = self._call("check the bucket", None, self.client.bucket_exists, self.bucket)
        if not found:
            raise ScorelineError(
                ErrorCode.UNAVAILABLE,
                f"bucket {self.bucket!r} does not exist; create it or point SCORELINE_STORAGE_URI at another",
                {"bucket": self.bucket},
                retry_after_s=RETRY_AFTER_S,
            )


def open_store(settings: StorageSettings | None = None) -> ObjectStore:
    """The store ``SCORELINE_STORAGE_URI`` names: ``file:///path`` (or a plain path) or ``s3://bucket``."""
    settings = settings or StorageSettings()
    uri = settings.storage_uri
    parsed = urlparse(uri)
    if parsed.scheme in {"", "file"}:
        path = Path(parsed.netloc + parsed.path) if parsed.scheme == "file" else Path(uri)
        return LocalStore(path)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"storage uri {uri!r} names no bucket; expected s3://bucket")
        return S3Store.from_settings(settings, parsed.netloc)
    raise ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"unsupported storage uri {uri!r}; expected file:///path or s3://bucket",
        {"storage_uri": uri},
    )
