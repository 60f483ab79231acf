"""Keep the cyclic garbage collector off the request path of a long-lived server.

A loaded model (booster, serving state, pandas, MLflow's modules) leaves hundreds of thousands of
long-lived objects in the heap. Every full collection walks all of them while holding the GIL, which
stalled every request for more than 100 ms (p99 of benchmarks/serve.py with prediction logging on:
the log's short-lived documents trigger collections often). Moving what is alive after a load into
the permanent generation (``gc.freeze``) leaves the collector only the young objects to walk, and
a higher first threshold lets the prediction log build its documents with fewer collections.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def tune_collector() -> None:
    """Fewer, larger collections: a request allocates no cyclic garbage worth collecting sooner."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, max(middle, 20), max(old, 50))


def settle_heap() -> None:
    """Collect once, then freeze the survivors; call after a model is loaded or swapped.

    Unfreezing first lets the collection free what an earlier freeze kept (a swapped-out version's
    cycles), so repeated reloads do not accumulate frozen garbage.
    """
    with _lock:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
