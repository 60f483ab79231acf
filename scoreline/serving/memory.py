"""Keep the cyclic garbage collector off the request path of a long-lived server.

A loaded model (booster, serving state, pandas, MLflow's modules) leaves hundreds of thousands of
long-lived objects in the heap. Every full collection walks all of them while holding the GIL, which
stalled every request for more than 100 ms (p99 of benchmarks/serve.py with prediction logging on:
the log's short-lived documents trigger collections often). Moving what is alive after a load into
the permanent generation (``gc.freeze``) leaves the collector only the young objects to walk, and
a higher first threshold lets the prediction log build its documents with fewer collections.

After a swap only the young generations (the new version, loading's temporaries) are collected: 1-2 ms
instead of the 100-200 ms a full collection of the frozen heap holds the GIL for, which every worker paid at once
on every swap (p99 under hot swaps in benchmarks/serve_workers.py). A swapped-out version is freed by reference
counting; only its reference cycles stay frozen, so the whole heap is collected again once it has grown by
``REGROWTH`` since the last full collection, bounding what such cycles can hold.
"""

from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass

_lock = threading.Lock()
YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
REGROWTH = 0.25  # a full collection when the heap holds this share more blocks than after the last one


@dataclass
class _Settled:
    blocks_after_full: int | None = None
    full_collections: int = 0


_settled = _Settled()


def tune_collector() -> None:
    """Fewer, larger collections: a request allocates no cyclic garbage worth collecting sooner."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, max(middle, 20), max(old, 50))


def needs_full_collection(blocks_now: int, blocks_after_full: int | None, regrowth: float = REGROWTH) -> bool:
    """Whether the frozen heap is to be collected as a whole: first time, or grown by ``regrowth`` since."""
    return blocks_after_full is None or blocks_now > blocks_after_full * (1 + regrowth)


def settle_heap() -> bool:
    """Collect what is not frozen and freeze the survivors; call after a model is loaded or swapped.

    The whole heap (unfrozen first) is collected on the first call and whenever it has grown by ``REGROWTH``
    since the last such collection (cycles of swapped-out versions kept by the freeze). True when it was."""
    with _lock:
        full = needs_full_collection(sys.getallocatedblocks(), _settled.blocks_after_full, REGROWTH)
        if full:
            gc.unfreeze()
        # Otherwise the young generations only: what loading left behind. The older unfrozen objects (the memo's
        # rows of the requests since the last freeze, tens of thousands under load) are frozen as they are.
        gc.collect() if full else gc.collect(1)
        gc.freeze()
        if full:
            _settled.blocks_after_full = sys.getallocatedblocks()
            _settled.full_collections += 1
        return full
