"""Stream a multipart upload's ``file`` fields to disk (one or several), enforcing the size limit while they arrive."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from scoreline.core.errors import ErrorCode, ScorelineError

FILE_FIELD = "file"
# Past the limit the rest of the body is still read (not stored) up to this factor, so the client
# receives the 413 instead of a reset connection; beyond it the connection is dropped.
_DRAIN_FACTOR = 4
_MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class StagedUpload:
    path: Path
    filename: str
    size: int


@dataclass
class _PartState:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    name: str | None = None
    filename: str | None = None


@dataclass
class _FileField:
    seen: bool = False
    finished: bool = False
    filename: str | None = None
    size: int = 0
    over_limit: bool = False


async def receive_upload(request: Request, staging_dir: Path | None, max_bytes: int) -> StagedUpload:
    """Write the first ``file`` part of a multipart body into a temporary file; the caller deletes it."""
    staged = await receive_uploads(request, staging_dir, max_bytes)
    for extra in staged[1:]:
        discard(extra.path)
    return staged[0]


async def receive_uploads(request: Request, staging_dir: Path | None, max_bytes: int) -> list[StagedUpload]:
    """Write every ``file`` part of a multipart body into its own temporary file, in order; the caller deletes
    them. ``max_bytes`` limits all of them together."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA,
            "expected multipart/form-data with a 'file' field, or application/json with a 'url'",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_FACTOR * max_bytes + _MULTIPART_OVERHEAD:
        raise _too_large(max_bytes, int(declared))

    if staging_dir is not None:
        staging_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, BinaryIO, _FileField]] = []
    part = _PartState()
    found = _FileField()  # every file part together: size and limit
    current: list[BinaryIO | None] = [None]

    def on_part_begin() -> None:
        nonlocal part
        part = _PartState()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.header_field.lower()] = part.header_value
        part.header_field, part.header_value = b"", b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = options.get(b"filename")
        part.filename = raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
        if part.name == FILE_FIELD:
            found.seen = True
            handle: BinaryIO = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, deleted by the caller
                prefix="upload-", suffix=".part", dir=staging_dir, delete=False
            )
            field_state = _FileField(seen=True, filename=part.filename)
            staged.append((Path(handle.name), handle, field_state))
            current[0] = handle

    def on_part_data(data: bytes, start: int, end: int) -> None:
        handle = current[0]
        if part.name != FILE_FIELD or handle is None:
            return
        found.size += end - start
        staged[-1][2].size += end - start
        if found.size > max_bytes:
            found.over_limit = True
            return
        handle.write(data[start:end])

    def on_part_end() -> None:
        if part.name == FILE_FIELD and current[0] is not None:
            current[0].close()
            current[0] = None

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > _DRAIN_FACTOR * max_bytes + _MULTIPART_OVERHEAD:
                raise _too_large(max_bytes, received)
            parser.write(chunk)
        parser.finalize()
        for _, handle, _ in staged:
            handle.close()
        if found.over_limit:
            raise _too_large(max_bytes, found.size)
        if not found.seen:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"the multipart body has no {FILE_FIELD!r} field; expected the data file in a field named 'file'",
                {"field": FILE_FIELD, "expected": "a file part"},
            )
    except BaseException as exc:
        for path, handle, _ in staged:
            handle.close()
            path.unlink(missing_ok=True)
        if isinstance(exc, ScorelineError):
            raise
        if isinstance(exc, Exception) and type(exc).__module__.startswith("python_multipart"):
            raise ScorelineError(
                ErrorCode.INVALID_INPUT, f"malformed multipart body: {exc}; expected multipart/form-data"
            ) from exc
        raise
    return [
        StagedUpload(path, state.filename or ("upload.csv" if index == 0 else f"upload-{index + 1}.csv"), state.size)
        for index, (path, _, state) in enumerate(staged)
    ]


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _too_large(max_bytes: int, size: int) -> ScorelineError:
    return ScorelineError(
        ErrorCode.TOO_LARGE,
        f"the upload is larger than the limit of {max_bytes} bytes (SCORELINE_MAX_UPLOAD_BYTES)",
        {"field": FILE_FIELD, "max_bytes": max_bytes, "bytes_seen": size},
    )
