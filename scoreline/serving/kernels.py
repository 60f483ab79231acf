"""Machine-code kernels for a few rows: the compiled trees' margins and a logistic prior's link.

A single prediction walks a few dozen small trees and adds a prior of a dozen features; the generated Python
walk and the per-feature Python loops cost tens of microseconds of interpreter work for a few hundred
comparisons and multiplications. These kernels do the same arithmetic in the same order (float32 sums of the
leaves from the base margin in model order, then the prior in float64 feature by feature), so they give the
same numbers; the callers still check them against the booster and the bundle before using them.

Imported only when a served version is compiled (numba is a heavy import).
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Rows per block of the many-rows walk: the block's rows and sums stay in the L1 cache while every tree walks them.
BLOCK_ROWS = 64


@numba.njit(cache=True, nogil=True)
def tree_margins(
    rows: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    missing: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    by_group: np.ndarray,
    base: np.ndarray,
    depth: int,
) -> np.ndarray:
    """(rows, outputs) float32 margins: per output its base, then its trees' leaves in model order.

    All trees move one level per step, as ``CompiledTrees.leaves`` does: a missing value (NaN) takes the
    node's default child, otherwise ``value >= threshold`` goes right (the node after the left child); a leaf
    reads the padding column (0.0) against +inf and stays where it is."""
    n, width = rows.shape
    groups, per_group, trees = by_group.shape[0], by_group.shape[1], roots.shape[0]
    out = np.empty((n, groups), dtype=np.float32)
    padded = np.zeros(width + 1, dtype=np.float32)
    nodes = np.empty(trees, dtype=np.int64)
    for i in range(n):
        padded[:width] = rows[i]
        nodes[:] = roots
        for _ in range(depth):
            for k in range(trees):
                node = nodes[k]
                x = padded[feature[node]]
                nodes[k] = missing[node] if np.isnan(x) else left[node] + (1 if x >= threshold[node] else 0)
        for g in range(groups):
            total = base[g]
            for k in range(per_group):
                total = total + value[nodes[by_group[g, k]]]  # float32 + float32: rounds as XGBoost's sum does
            out[i, g] = total
    return out


@numba.njit(cache=True, nogil=True)
def prior_link(
    margins: np.ndarray,
    rows: np.ndarray,
    columns: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    constant: np.ndarray,
    offset: np.ndarray,
    binary: bool,
) -> np.ndarray:
    """Probabilities from the trees' margins plus a logistic prior's margin (see ``PriorAndTrees``):
    per class ``margin - offset + (constant + sum of weight * feature)``, a missing or infinite feature
    counting as its mean, then the logistic (two columns) or softmax link in float64."""
    n, groups, width = rows.shape[0], margins.shape[1], columns.shape[0]
    out = np.empty((n, 2 if binary else groups))
    xs = np.empty(width)
    scores = np.empty(groups)
    for i in range(n):
        for k in range(width):
            x = np.float64(rows[i, columns[k]])
            xs[k] = x if np.isfinite(x) else means[k]
        for g in range(groups):
            prior = constant[g]
            for k in range(width):
                prior += weights[g, k] * xs[k]
            scores[g] = np.float64(margins[i, g]) - offset[g] + prior
        if binary:
            score = scores[0]  # far below zero exp(-score) overflows; there 1 / (1 + exp(-score)) is exp(score)
            positive = 1.0 / (1.0 + math.exp(-score)) if score > -700.0 else math.exp(score)
            out[i, 0] = 1.0 - positive
            out[i, 1] = positive
        else:
            top = scores[0]
            for g in range(1, groups):
                top = max(top, scores[g])
            total = 0.0
            for g in range(groups):
                out[i, g] = math.exp(scores[g] - top)
                total += out[i, g]
            for g in range(groups):
                out[i, g] = out[i, g] / total
    return out


@numba.njit(cache=True, nogil=True)
def prior_and_trees(rows: np.ndarray, trees: tuple, prior: tuple) -> np.ndarray:  # type: ignore[type-arg]
    """:func:`prior_link` of :func:`tree_margins`, in one call: ``trees`` are tree_margins's arguments after
    the rows, ``prior`` prior_link's after the margins and the rows."""
    return prior_link(tree_margins(rows, *trees), rows, *prior)


@numba.njit(cache=True, nogil=True)
def tree_margins_blocked(
    rows: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    missing: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    by_group: np.ndarray,
    base: np.ndarray,
    depth: int,
) -> np.ndarray:
    """:func:`tree_margins` for many rows (a batch file), the same numbers: tree by tree over a block of rows.

    One tree's nodes stay in the cache while a block's rows walk it, and the rows' walks do not depend on each
    other. Each row's sum still runs base first, then its group's trees in model order."""
    n, width = rows.shape
    groups, per_group = by_group.shape[0], by_group.shape[1]
    out = np.empty((n, groups), dtype=np.float32)
    block = max(1, min(BLOCK_ROWS, n))  # a part of fewer rows than a block allocates only its rows
    padded = np.zeros((block, width + 1), dtype=np.float32)
    sums = np.empty((block, groups), dtype=np.float32)
    for start in range(0, n, block):
        size = min(block, n - start)
        for r in range(size):
            padded[r, :width] = rows[start + r]
            for g in range(groups):
                sums[r, g] = base[g]
        for k in range(per_group):
            for g in range(groups):
                root = roots[by_group[g, k]]
                for r in range(size):
                    node = root
                    for _ in range(depth):
                        x = padded[r, feature[node]]
                        node = missing[node] if np.isnan(x) else left[node] + (1 if x >= threshold[node] else 0)
                    sums[r, g] = sums[r, g] + value[node]
        for r in range(size):
            for g in range(groups):
                out[start + r, g] = sums[r, g]
    return out


@numba.njit(cache=True, nogil=True)
def prior_and_trees_blocked(rows: np.ndarray, trees: tuple, prior: tuple) -> np.ndarray:  # type: ignore[type-arg]
    """:func:`prior_and_trees` for many rows (:func:`tree_margins_blocked`); it holds no GIL, so callers split
    a batch over threads."""
    return prior_link(tree_margins_blocked(rows, *trees), rows, *prior)
