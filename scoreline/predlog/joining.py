"""Prediction documents of a batch joined in one pass of machine code.

A document is literal text (keys, braces) with one value between each two literals. Each value comes from a
*stream* or a *table*:

- a stream is the JSON text of a whole column or matrix as ``orjson`` writes it (``[1.5,null,2]`` or
  ``[[1,2],[3,4]]``): numbers, ``null``, ``true``, ``false``, none of which holds a comma or a bracket, so
  the next value of a stream is the next run of bytes between those delimiters. Several values of a
  document may read one stream in turn (the columns of a row-major matrix);
- a table is a list of JSON texts and one code per row (the distinct strings of a column, or one text per row).

Imported only by the sink process, when a batch's documents are built (numba is a heavy import).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

STREAM = 0
TABLE = 1
_COMMA, _OPEN, _CLOSE = 44, 91, 93


@intrinsic
def _copy(typing_context: Any, target: Any, target_at: Any, source: Any, source_at: Any, count: Any) -> tuple[Any, Any]:
    """``target[target_at : target_at + count] = source[source_at : source_at + count]`` as one ``memcpy`` (a
    loop over the bytes, or a slice assignment, costs several times as much for these short runs)."""
    signature = types.void(target, types.intp, source, types.intp, types.intp)

    def codegen(context: Any, builder: Any, _signature: Any, args: Any) -> None:
        target_array = context.make_array(target)(context, builder, args[0])
        source_array = context.make_array(source)(context, builder, args[2])
        cgutils.raw_memcpy(
            builder,
            builder.gep(target_array.data, [args[1]]),
            builder.gep(source_array.data, [args[3]]),
            args[4],
            1,
        )

    return signature, codegen


@numba.njit(cache=True, nogil=True)
def _join(
    n: int,
    literals: np.ndarray,
    literal_bounds: np.ndarray,
    kinds: np.ndarray,
    sources: np.ndarray,
    data: np.ndarray,
    stream_bounds: np.ndarray,
    table_bounds: np.ndarray,
    table_starts: np.ndarray,
    codes: np.ndarray,
    out: np.ndarray,
    bounds: np.ndarray,
) -> int:
    """Row by row: literal 0, value 0, literal 1, ..., value k - 1, literal k; ``bounds[i]`` is where row
    ``i`` starts in ``out``, ``bounds[n]`` (returned) where the last one ends."""
    values = len(kinds)
    cursors = stream_bounds[:-1].copy()
    position = 0
    for row in range(n):
        bounds[row] = position
        for segment in range(values + 1):
            start = literal_bounds[segment]
            count = literal_bounds[segment + 1] - start
            _copy(out, position, literals, start, count)
            position += count
            if segment == values:
                break
            source = sources[segment]
            if kinds[segment] == STREAM:
                start = cursors[source]
                stop = stream_bounds[source + 1]
                while start < stop and (data[start] == _COMMA or data[start] == _OPEN or data[start] == _CLOSE):
                    start += 1
                end = start
                while end < stop and not (data[end] == _COMMA or data[end] == _OPEN or data[end] == _CLOSE):
                    end += 1
                cursors[source] = end
            else:
                entry = table_starts[source] + codes[source * n + row]
                start, end = table_bounds[entry], table_bounds[entry + 1]
            _copy(out, position, data, start, end - start)
            position += end - start
    bounds[n] = position
    return position


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

    def joined(self) -> tuple[memoryview, np.ndarray]:
        """The documents one after another, and the (n + 1) bounds of each in that buffer."""
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
        end = _join(
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
