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
counting; only its reference cycles stay frozen, so every ``FULL_EVERY``-th settle collects the whole heap,
bounding what such cycles can hold. (Not on the heap's growth: the memo fills under load and would trigger it.)
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

_lock = threading.Lock()
YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
FULL_EVERY = 8  # settles (loads and swaps) per full collection of the heap


@dataclass
class _Settled:
    settles: int = 0


_settled = _Settled()


def tune_collector() -> None:
    """Fewer, larger collections: a request allocates no cyclic garbage worth collecting sooner."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, max(middle, 20), max(old, 50))


def needs_full_collection(settles_before: int, every: int = FULL_EVERY) -> bool:
    """Whether this settle collects the whole frozen heap: the first, then every ``every``-th."""
    return settles_before % max(every, 1) == 0


def settle_heap() -> bool:
    """Collect the young generations and freeze the survivors; call after a model is loaded or swapped.

    The first call and every ``FULL_EVERY``-th collect the whole heap (unfrozen first): the cycles of swapped-out
    versions kept by the freeze. True when it did."""
    with _lock:
        full = needs_full_collection(_settled.settles, FULL_EVERY)
        _settled.settles += 1
        if full:
            gc.unfreeze()
            gc.collect()
        else:  # what loading left; the older unfrozen objects (the memo's rows since the last freeze) are frozen as is
            gc.collect(1)
        gc.freeze()
        return full
