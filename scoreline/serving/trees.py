"""An XGBoost tree ensemble evaluated with a few numpy operations per tree level, for a few rows.

``Booster.inplace_predict`` costs about 0.1 ms of fixed work inside XGBoost per call (configuration
parsing, adapters) plus several times that in Python, and it leaves the caches cold for the rest of
the request (benchmarks/serve.py, memo misses). A single prediction needs a handful of comparisons per
tree; :class:`CompiledTrees` walks all trees at once, one level per step, with the model's own
float32 thresholds and XGBoost's order of summation, so it gives the booster's numbers. It is built once
per served version from the booster's JSON model and used only where :func:`compile_trees` found it
to reproduce the booster (the caller checks the bundle's outputs too).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import numpy as np
import orjson

MARGIN_TOLERANCE = 1e-6
PYTHON_MAX_DEPTH = 16  # nesting of the generated expressions (the parser's limit is about 200)
PYTHON_MAX_NODES = 20_000  # generated code of larger ensembles costs seconds to compile; numpy is faster there
# Nodes per separately compiled part of the generated walk. ``compile`` holds the GIL throughout (about 12 us a
# node): one call for a whole ensemble stalled every request of a server staging a new version for 80+ ms.
PYTHON_PART_NODES = 400
Walker = Literal["numpy", "python", "native"]
LINKS = ("reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror", "binary:logistic", "multi:softprob")


class CompiledTrees:
    """The part of ``xgboost.Booster`` a bundle predicts with (``inplace_predict``, ``num_features``),
    for plain numerical gbtree models; refused (see :func:`compile_trees`) for anything else."""

    def __init__(self, model: dict[str, Any]) -> None:
        learner = model["learner"]
        booster = learner["gradient_booster"]
        if booster.get("name") != "gbtree":
            raise ValueError(f"booster {booster.get('name')!r}; only gbtree is compiled")
        self.objective: str = learner["objective"]["name"]
        if self.objective not in LINKS:
            raise ValueError(f"objective {self.objective!r} is not compiled")
        params = learner["learner_model_param"]
        if int(params.get("num_target", "1")) != 1:
            raise ValueError("multi-target models are not compiled")
        self.n_features = int(params["num_feature"])
        trees = booster["model"]["trees"]
        groups = np.asarray(booster["model"]["tree_info"], dtype=np.int64)
        if len(groups) != len(trees):
            raise ValueError("a model whose tree_info does not match its trees is not compiled")
        # No trees: early stopping found none that beat the prior, and the margin is the base margin alone.
        self.n_groups = int(groups.max()) + 1 if trees else max(int(params.get("num_class", "0")), 1)
        counts = np.bincount(groups, minlength=self.n_groups)
        if (counts != counts[0]).any():
            raise ValueError("groups of different sizes are not compiled")
        feature, threshold, left, missing, value, roots, sources = [], [], [], [], [], [], []
        offset, depth, consecutive = 0, 0, True
        for tree in trees:
            if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1 or any(tree["split_type"]):
                raise ValueError("vector leaves and categorical splits are not compiled")
            lefts = np.asarray(tree["left_children"], dtype=np.int64)
            rights = np.asarray(tree["right_children"], dtype=np.int64)
            leaf = lefts < 0
            nodes = np.arange(len(lefts))
            consecutive = consecutive and bool((rights[~leaf] == lefts[~leaf] + 1).all())
            defaults = np.where(np.asarray(tree["default_left"], dtype=bool), lefts, rights)
            # A leaf points at itself and reads a padding column of 0.0 against +inf: it never moves.
            feature.append(np.where(leaf, self.n_features, np.asarray(tree["split_indices"], dtype=np.int64)))
            threshold.append(np.where(leaf, np.inf, np.asarray(tree["split_conditions"], dtype=np.float32)))
            left.append(np.where(leaf, nodes, lefts) + offset)
            missing.append(np.where(leaf, nodes, defaults) + offset)
            value.append(np.where(leaf, np.asarray(tree["split_conditions"], dtype=np.float32), 0.0))
            roots.append(offset)
            depth = max(depth, _depth(lefts, rights))
            sources.append((tree, lefts, rights))
            offset += len(lefts)
        if not consecutive:
            raise ValueError("trees whose right child does not follow the left one are not compiled")
        self.feature = _joined(feature, np.int64)
        self.threshold = _joined(threshold, np.float32)
        self.left = _joined(left, np.int64)
        self.missing = _joined(missing, np.int64)
        self.value = _joined(value, np.float32)
        self.roots = np.asarray(roots, dtype=np.int64)
        self.depth = depth
        # Trees of each output in model order: XGBoost adds them one by one in float32 to the base margin.
        by_group = np.stack([np.flatnonzero(groups == g) for g in range(self.n_groups)])
        # Per output: the slot of its base margin (after the trees in ``leaves``), then its trees in order.
        self.summation = np.column_stack([len(trees) + np.arange(self.n_groups), by_group])
        self.by_group = by_group
        self.base = np.zeros(self.n_groups, dtype=np.float32)
        nodes = len(self.feature)
        small = self.depth <= PYTHON_MAX_DEPTH and nodes <= PYTHON_MAX_NODES
        self._walk = (_python_walk(sources, groups) if trees else _base_only) if small else None
        # How few rows are walked (set by compile_trees to the fastest that reproduces the booster): numpy
        # operations per level, the generated Python function, or the machine-code kernel.
        self.walker: Walker = "numpy"

    def num_features(self) -> int:
        return self.n_features

    def native_arguments(self) -> tuple[Any, ...]:
        """The arrays :func:`scoreline.serving.kernels.tree_margins` walks, after the rows."""
        return (self.feature, self.threshold, self.left, self.missing, self.value, self.roots, self.by_group,
                self.base, self.depth)  # fmt: skip

    def leaves(self, rows: np.ndarray) -> np.ndarray:
        """Leaf value of every tree for every row, then one slot per output holding its base margin:
        (rows, trees + outputs) float32."""
        n = len(rows)
        width = self.n_features + 1
        padded = np.zeros((n, width), dtype=np.float32)
        padded[:, : self.n_features] = rows
        flat = padded.ravel()
        nodes = self.roots if n == 1 else np.broadcast_to(self.roots, (n, len(self.roots)))
        shift = (np.arange(n, dtype=np.int64) * width)[:, np.newaxis] if n > 1 else 0
        has_nan = bool(np.isnan(flat).any())
        feature, threshold, left = self.feature, self.threshold, self.left
        for _ in range(self.depth):
            values = flat[feature[nodes] + shift]
            step = left[nodes] + (values >= threshold[nodes])
            nodes = np.where(np.isnan(values), self.missing[nodes], step) if has_nan else step
        out = np.empty((n, len(self.roots) + self.n_groups), dtype=np.float32)
        out[:, : len(self.roots)] = self.value[nodes]
        out[:, len(self.roots) :] = self.base
        return out

    def margin(self, rows: np.ndarray, base_margin: np.ndarray | None = None) -> np.ndarray:
        """(rows, outputs) float32 margins summed as XGBoost sums them (base first, then tree by tree)."""
        if self.walker == "native" and base_margin is None:
            return native_kernels().tree_margins(np.ascontiguousarray(rows, dtype=np.float32), *self.native_arguments())
        if self.walker == "python" and self._walk is not None:
            values = np.asarray(rows, dtype=np.float32).tolist()
            if base_margin is None:
                return np.array(self.walk(values), dtype=np.float32)
            walk = self._walk
            starts = np.asarray(base_margin, dtype=np.float32).reshape(len(values), self.n_groups)
            return np.array([walk(row, tuple(start)) for row, start in zip(values, starts, strict=True)], np.float32)
        parts = self.leaves(rows)
        if base_margin is not None:
            parts[:, len(self.roots) :] = np.asarray(base_margin, dtype=np.float32).reshape(len(rows), self.n_groups)
        return np.cumsum(parts[:, self.summation], axis=2, dtype=np.float32)[:, :, -1]

    def walk(self, rows: list[list[float]]) -> list[tuple[np.float32, ...]]:
        """Margins of rows given as lists of float32 values, by the generated function (``python`` only)."""
        walk, base = self._walk, tuple(self.base[g] for g in range(self.n_groups))
        return [walk(row, base) for row in rows]

    def inplace_predict(
        self,
        data: np.ndarray,
        *,
        validate_features: bool = False,
        predict_type: str = "value",
        base_margin: Any = None,
        **_: Any,
    ) -> np.ndarray:
        rows = np.asarray(data, dtype=np.float32)
        if rows.ndim == 1:
            rows = rows[np.newaxis]
        if rows.shape[1] != self.n_features:
            raise ValueError(f"{rows.shape[1]} feature columns; the model has {self.n_features}")
        margin = self.margin(rows, base_margin)
        if predict_type == "margin" or self.objective.startswith("reg:"):
            output = margin
        elif self.objective == "binary:logistic":
            output = (1.0 / (1.0 + np.exp(-margin.astype(np.float64)))).astype(np.float32)
        else:
            scores = np.exp(margin.astype(np.float64) - margin.max(axis=1, keepdims=True))
            output = (scores / scores.sum(axis=1, keepdims=True)).astype(np.float32)
        return output[:, 0] if self.n_groups == 1 else output


def _python_walk(sources: list[tuple[dict[str, Any], np.ndarray, np.ndarray]], groups: np.ndarray) -> Any:
    """A function of a row (a list of floats) and the base margins (numpy float32 scalars) returning the
    margins: each tree is one nested conditional expression added to its output's float32 sum, in model
    order, as XGBoost adds them. For a small ensemble plain comparisons cost less than numpy calls per level.

    Every literal is a float32 of the model printed exactly (``repr`` of its float64 value), so each
    comparison is the model's float32 comparison; a missing value (NaN) fails both ``<`` and ``>=`` and
    so takes the branch written last, the node's default. A numpy float32 plus a Python float stays a
    float32 (numpy 2 promotion), so the sums round as XGBoost's do.

    The trees are compiled in parts of about ``PYTHON_PART_NODES`` nodes, each a function taking and returning
    the sums (the same additions in the same order), so no single ``compile`` holds the GIL for long."""
    sums = ", ".join(f"s{g}" for g in range(int(groups.max()) + 1))
    parts: list[list[str]] = [[]]
    nodes_in_part = 0
    for (tree, lefts, rights), group in zip(sources, groups.tolist(), strict=True):
        if nodes_in_part >= PYTHON_PART_NODES:
            parts.append([])
            nodes_in_part = 0
        conditions = np.asarray(tree["split_conditions"], dtype=np.float32).tolist()
        parts[-1].append(f"    s{group} += {_expression(0, tree, lefts, rights, conditions)}\n")
        nodes_in_part += len(lefts)
    scope: dict[str, Any] = {}
    for number, lines in enumerate(parts):
        source = f"def part(x, {sums}):\n" + "".join(lines) + f"    return {sums},\n"
        scope[f"part{number}"] = _defined(source, "part")
    calls = "".join(f"    {sums}, = part{number}(x, {sums})\n" for number in range(len(parts)))
    return _defined(f"def walk(x, base):\n    {sums}, = base\n{calls}    return ({sums},)\n", "walk", scope)


def _defined(source: str, name: str, scope: dict[str, Any] | None = None) -> Any:
    """The function ``name`` that ``source`` defines, with ``scope`` as its globals.

    Popped, not read: a function left in its own globals is a reference cycle, which only a full collection frees
    (model-api freezes the heap, so a swapped-out version's generated code would stay until one)."""
    scope = {} if scope is None else scope
    exec(compile(source, "<compiled trees>", "exec"), scope)  # the source holds only the model's numbers
    return scope.pop(name)


def _joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    """The per-tree arrays end to end (empty for a model without trees)."""
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def _base_only(x: list[float], base: tuple[np.float32, ...]) -> tuple[np.float32, ...]:
    """The walk of a model without trees: its margins are the base margins."""
    return base


def _expression(node: int, tree: dict[str, Any], lefts: np.ndarray, rights: np.ndarray, conditions: list[float]) -> str:
    """The subtree under ``node`` as a conditional expression whose value is the leaf a row reaches."""
    if lefts[node] < 0:
        return repr(conditions[node])
    left = _expression(int(lefts[node]), tree, lefts, rights, conditions)
    right = _expression(int(rights[node]), tree, lefts, rights, conditions)
    column, threshold = int(tree["split_indices"][node]), repr(conditions[node])
    if tree["default_left"][node]:
        return f"({right} if x[{column}] >= {threshold} else {left})"
    return f"({left} if x[{column}] < {threshold} else {right})"


def _depth(lefts: np.ndarray, rights: np.ndarray) -> int:
    """Edges on the longest root-to-leaf path."""
    depth = np.zeros(len(lefts), dtype=np.int64)
    for node in range(len(lefts)):  # XGBoost numbers a child after its parent
        if lefts[node] >= 0:
            depth[lefts[node]] = depth[rights[node]] = depth[node] + 1
    return int(depth.max())


def _base_margin(compiled: CompiledTrees, booster: Any, own: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """The base margin that gives the booster's own margin of a row of missing values: the model's stored
    base score (in margin space, or a probability for the logistic link) when one of those matches it to
    the bit, else the difference (exact up to one float32 rounding)."""
    trees = compiled.margin(empty)[0]
    stored = json.loads(booster.save_config())["learner"]["learner_model_param"]["base_score"]
    values = np.atleast_1d(np.asarray(json.loads(stored) if stored.startswith("[") else float(stored), np.float64))
    candidates = [values]
    if ((values > 0) & (values < 1)).all():
        candidates.append(np.log(values / (1.0 - values)))
    for candidate in candidates:
        base = np.broadcast_to(candidate, (compiled.n_groups,)).astype(np.float32)
        compiled.base = base
        if np.array_equal(compiled.margin(empty)[0], own.astype(np.float32)):
            return base
    compiled.base = np.zeros(compiled.n_groups, dtype=np.float32)
    return (own.astype(np.float64) - trees.astype(np.float64)).astype(np.float32)


def compile_trees(booster: Any, probe: np.ndarray) -> CompiledTrees | None:
    """The booster's trees compiled, or None when they are not the supported kind or do not reproduce
    the booster's margins on ``probe`` (rows of features) and on the same rows with missing values."""
    try:
        # orjson: the model JSON of a few hundred trees is megabytes, and json.loads held the GIL for ~20 ms of it
        compiled = CompiledTrees(orjson.loads(booster.save_raw(raw_format="json")))
        rows = np.asarray(probe, dtype=np.float32).reshape(-1, compiled.n_features)
        empty = np.full((1, compiled.n_features), np.nan, dtype=np.float32)
        own = np.asarray(booster.inplace_predict(empty, validate_features=False, predict_type="margin"))
        compiled.base = _base_margin(compiled, booster, own.reshape(compiled.n_groups), empty)
        holes = rows.copy()
        holes[:, ::2] = np.nan
        checks = [(check, booster.inplace_predict(check, validate_features=False, predict_type="margin"))
                  for check in (rows, holes, empty)]  # fmt: skip
        if not _reproduces(compiled, "numpy", checks):
            return None
        walkers: list[Walker] = ["numpy"]
        if compiled._walk is not None:
            if not _reproduces(compiled, "python", checks):
                return None
            walkers.append("python")
        if len(compiled.roots) and _native_available() and _reproduces(compiled, "native", checks):
            walkers.append("native")
        compiled.walker = min(walkers, key=lambda walker: _seconds(compiled, rows[:1], walker))
        return compiled
    except (KeyError, TypeError, ValueError, SyntaxError, RecursionError, MemoryError):
        return None


def _reproduces(compiled: CompiledTrees, walker: Walker, checks: list[tuple[np.ndarray, Any]]) -> bool:
    """Whether ``walker`` gives the booster's margins on every (rows, booster margins) check."""
    compiled.walker = walker
    for rows, margins in checks:
        expected = np.asarray(margins)
        got = compiled.inplace_predict(rows, predict_type="margin")
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=MARGIN_TOLERANCE):
            return False
    return True


def native_kernels() -> Any:
    """:mod:`scoreline.serving.kernels`, imported on first use (numba is a heavy import)."""
    from scoreline.serving import kernels

    return kernels


def _native_available() -> bool:
    try:
        native_kernels()  # numba compiles the kernels, or loads them from its cache, on their first call
    except ImportError:
        return False
    return True


def _seconds(compiled: CompiledTrees, row: np.ndarray, walker: Walker) -> float:
    """The fastest of a few timings of one row's margins by one of the walks."""
    compiled.walker = walker
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(20):
            compiled.margin(row)
        best = min(best, time.perf_counter() - started)
    return best
