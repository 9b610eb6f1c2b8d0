"""Permutation tests that assume no distribution: the exact sign-flip test of a paired mean, and
Kendall's W (agreement of several rankings) with a permutation null.

Sign flip (Fisher 1935): under H0 "the paired difference is symmetric about 0" every one of the 2^n
sign patterns of the observed |d| is equally likely, so the one-sided p is the share of patterns
whose sum is at least the observed sum (the mean, up to the constant 1/n). All 2^n patterns are
counted, meet-in-the-middle: the 2^(n/2) sums of each half of the differences are enumerated, one
half sorted, and for every sum of the other half a binary search counts its partners that reach the
observed sum; exact, and n = 20 (10^6 patterns) takes milliseconds, n = 40 about two seconds.
Sums are compared with a tolerance of 1e-9 of sum |d|: a pattern equal to the observed one in
exact arithmetic must count, whatever the float rounding of its summation order.

Kendall's W over m raters ranking k items (here: seeds ranking pairs by their relative lambda
change): with R_j the sum of item j's ranks, S = sum_j (R_j - mean R)^2, and ties ranked by their
average with T_i = sum over tie groups of (t^3 - t) for rater i,

    W = 12 S / (m^2 (k^3 - k) - m sum_i T_i)      (0: no agreement, 1: identical rankings).

Null: each rater's ranking is permuted independently (no agreement beyond chance), by a generator
of fixed seed; a permutation keeps each rater's tie groups, so the denominator is the same for every
permuted sample and only S varies. p = (1 + #{null W >= observed W}) / (1 + permutations), which
is never 0 and is a valid p-value for a finite number of permutations (Phipson & Smyth 2010).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_EXACT = 40  # two halves of 2^20 sums: exact in about two seconds
PERMUTATIONS = 10_000
NULL_SEED = 0  # the null's generator: the same p for the same data, at every run


def _half_sums(size: np.ndarray) -> np.ndarray:
    """sum(s_i size_i) over all 2^len(size) sign patterns s (order irrelevant)."""
    sums = np.zeros(1)
    for x in size:
        sums = np.concatenate([sums + x, sums - x])
    return sums


def sign_flip_p(diffs: Sequence[float]) -> float:
    """Exact one-sided p of H0 "symmetric about 0" against a positive mean: #{patterns s with
    sum(s_i |d_i|) >= sum(d_i)} / 2^n over all 2^n sign patterns."""
    d = np.asarray(diffs, dtype=float)
    n = len(d)
    if n == 0:
        raise ValueError("sign_flip_p: no differences")
    if n > MAX_EXACT:
        raise ValueError(f"sign_flip_p: {n} differences; exact enumeration stops at {MAX_EXACT}")
    size = np.abs(d)
    observed = d.sum() - 1e-9 * size.sum()
    left, right = _half_sums(size[: n // 2]), np.sort(_half_sums(size[n // 2 :]))
    # a pattern is a (left, right) pair: count right sums >= observed - left, for every left sum
    count = len(left) * len(right) - np.searchsorted(right, observed - left, side="left").sum()
    return float(count) / 2.0**n


def _ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks per row (m, k) and each row's tie term sum (t^3 - t)."""
    from scipy import stats as _sps  # on first use: see the package docstring

    ranks = np.vstack([_sps.rankdata(row) for row in values])
    ties = np.array([sum(t**3 - t for t in np.unique(row, return_counts=True)[1]) for row in values], dtype=float)
    return ranks, ties


def _s(ranks: np.ndarray) -> np.ndarray:
    """S of W for ranks (..., m, k): the spread of the items' rank sums."""
    sums = ranks.sum(axis=-2)  # (..., k)
    return ((sums - sums.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)


def kendall_w(values: Sequence[Sequence[float]]) -> float | None:
    """W of the rankings of `values` (m raters x k items, each row ranked on its own); None when the
    denominator is 0 (every rater ties every item: nothing is ranked)."""
    ranks, ties = _ranks(np.asarray(values, dtype=float))
    m, k = ranks.shape
    denominator = m**2 * (k**3 - k) - m * ties.sum()
    return None if denominator <= 0 else float(12 * _s(ranks) / denominator)


def kendall_w_test(
    values: Sequence[Sequence[float]], permutations: int = PERMUTATIONS, seed: int = NULL_SEED
) -> tuple[float | None, float | None]:
    """(W, permutation p) of `values` (m x k); (None, None) when W is undefined or m < 2."""
    values = np.asarray(values, dtype=float)
    w = kendall_w(values)
    if w is None or values.shape[0] < 2:
        return w, None
    ranks, ties = _ranks(values)
    m, k = ranks.shape
    denominator = m**2 * (k**3 - k) - m * ties.sum()
    rng = np.random.default_rng(seed)
    exceed = 0
    for start in range(0, permutations, 1000):  # 1000 x m x k at a time: bounded memory
        block = min(1000, permutations - start)
        null = rng.permuted(np.broadcast_to(ranks, (block, m, k)), axis=-1)
        exceed += int(np.count_nonzero(12 * _s(null) / denominator >= w - 1e-12))
    return w, (1 + exceed) / (1 + permutations)
