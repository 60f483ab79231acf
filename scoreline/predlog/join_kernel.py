"""The machine code behind :class:`scoreline.predlog.joining.DocumentJoin` for large frames.

Imported only when a frame of at least ``MACHINE_CODE_ROWS`` documents is joined (numba and the compiled kernel
cost the sink process ~120 MiB of memory, which single-prediction traffic never needs).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic

from scoreline.predlog.joining import STREAM

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
def join(
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
