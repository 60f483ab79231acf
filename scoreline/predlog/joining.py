"""Prediction documents of a batch joined from its columns' JSON texts.

A document is literal text (keys, braces) with one value between each two literals. Each value comes from a
*stream* or a *table*:

- a stream is the JSON text of a whole column or matrix as ``orjson`` writes it (``[1.5,null,2]`` or
  ``[[1,2],[3,4]]``): numbers, ``null``, ``true``, ``false``, none of which holds a comma or a bracket, so
  the next value of a stream is the next run of bytes between those delimiters. Several values of a
  document may read one stream in turn (the columns of a row-major matrix);
- a table is a list of JSON texts and one code per row (the distinct strings of a column, or one text per row).

A frame of at least ``MACHINE_CODE_ROWS`` documents is joined in one pass of machine code
(:mod:`scoreline.predlog.join_kernel`); a smaller one (single predictions gathered by the writer) by Arrow's
element-wise join, so that a sink process that never sees a batch file never loads numba.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STREAM = 0
TABLE = 1
MACHINE_CODE_ROWS = 10_000
_COMMA = 44
_EMPTY = pa.scalar(b"", pa.binary())


class DocumentJoin:
    """The layout of ``n`` documents (literals and where each value comes from), joined by :meth:`joined`."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._literals: list[bytes] = [b""]
        self._kinds: list[int] = []
        self._sources: list[int] = []
        self._streams: list[bytes] = []
        self._tables: list[list[bytes]] = []
        self._codes: list[np.ndarray] = []

    def text(self, part: bytes) -> None:
        """Literal text after what is laid out so far."""
        self._literals[-1] += part

    def stream(self, text: bytes) -> int:
        """A stream (the JSON text of a column, or of a row-major matrix): its handle for :meth:`value`."""
        self._streams.append(text)
        return len(self._streams) - 1

    def value(self, stream: int) -> None:
        """The next value of a stream, in each document."""
        self._add(STREAM, stream)

    def table(self, texts: Sequence[bytes], codes: np.ndarray) -> None:
        """In document ``i``, ``texts[codes[i]]``."""
        codes = np.asarray(codes, np.int32)
        if len(codes) != self.n or (self.n and not 0 <= codes.min() <= codes.max() < len(texts)):  # join: no checks
            raise ValueError(f"expected one code per document ({self.n}), each in [0, {len(texts)})")
        self._tables.append(list(texts))
        self._codes.append(codes)
        self._add(TABLE, len(self._tables) - 1)

    def _add(self, kind: int, source: int) -> None:
        self._kinds.append(kind)
        self._sources.append(source)
        self._literals.append(b"")

    @property
    def machine_code(self) -> bool:
        """Whether :meth:`joined` runs the machine-code join (else Arrow's)."""
        return self.n >= MACHINE_CODE_ROWS

    def joined(self) -> tuple[memoryview, np.ndarray]:
        """The documents one after another, and the (n + 1) bounds of each in that buffer."""
        if not self.machine_code:
            return self._joined_by_arrow()
        from scoreline.predlog.join_kernel import join

        n = self.n
        literals = np.frombuffer(b"".join(self._literals), np.uint8)
        literal_bounds = np.cumsum([0, *map(len, self._literals)], dtype=np.int64)
        stream_bounds = np.cumsum([0, *map(len, self._streams)], dtype=np.int64)
        texts = [text for table in self._tables for text in table]
        data = np.frombuffer(b"".join([*self._streams, *texts]), np.uint8)
        table_bounds = np.cumsum([stream_bounds[-1], *map(len, texts)], dtype=np.int64)
        table_starts = np.cumsum([0, *map(len, self._tables)], dtype=np.int64)
        codes = np.concatenate(self._codes) if self._codes else np.zeros(0, np.int32)
        # Delimiters only shrink a stream, so this bounds the size; np.empty does not touch the pages not written.
        table_bytes = sum(
            int(np.diff(table_bounds[start : start + len(table) + 1])[table_codes].sum())
            for start, table, table_codes in zip(table_starts[:-1], self._tables, self._codes, strict=True)
        )
        out = np.empty(n * len(literals) + stream_bounds[-1] + table_bytes, np.uint8)
        bounds = np.empty(n + 1, np.int64)
        end = join(
            n,
            literals,
            literal_bounds,
            np.asarray(self._kinds, np.int8),
            np.asarray(self._sources, np.int64),
            data,
            stream_bounds,
            table_bounds,
            table_starts,
            codes,
            out,
            bounds,
        )
        return memoryview(out)[:end], bounds

    def _joined_by_arrow(self) -> tuple[memoryview, np.ndarray]:
        n = self.n
        if n == 0:
            return memoryview(b""), np.zeros(1, np.int64)
        streams = [_stream_values(text) for text in self._streams]
        reads = [self._sources[position] for position, kind in enumerate(self._kinds) if kind == STREAM]
        taken = [0] * len(streams)
        parts: list[pa.Array | pa.Scalar] = []
        for literal, kind, source in zip(self._literals, [*self._kinds, None], [*self._sources, None], strict=True):
            if literal:
                parts.append(pa.scalar(literal, pa.binary()))
            if kind == STREAM:
                per_document = reads.count(source)  # a matrix's stream is read once per column, row by row
                values = streams[source]
                if per_document > 1:
                    values = values.take(pa.array(np.arange(taken[source], n * per_document, per_document)))
                taken[source] += 1
                parts.append(values)
            elif kind == TABLE:
                parts.append(pa.array(self._tables[source], pa.binary()).take(pa.array(self._codes[source])))
        documents = pc.binary_join_element_wise(*parts, _EMPTY)
        _, offsets, data = documents.buffers()
        bounds = np.frombuffer(offsets, np.int32, n + 1, documents.offset * 4).astype(np.int64)
        content = memoryview(data)[bounds[0] : bounds[-1]] if data is not None else memoryview(b"")
        return content, bounds - bounds[0]


def _stream_values(text: bytes) -> pa.Array:
    """A stream's values, in order, as a binary array (the brackets dropped, cut at the commas)."""
    body = text.translate(None, b"[]")
    commas = np.flatnonzero(np.frombuffer(body, np.uint8) == _COMMA)
    count = len(commas) + 1 if body else 0
    offsets = np.empty(count + 1, np.int32)
    offsets[0] = 0
    offsets[1:-1] = commas - np.arange(len(commas))
    offsets[-1] = len(body) - len(commas)
    return pa.Array.from_buffers(
        pa.binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(body.replace(b",", b""))]
    )
