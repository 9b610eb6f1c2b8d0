"""The permutation tests against enumerations by hand and by brute force."""

import itertools
import time

import numpy as np
import pytest

from l2tww.statistics import permutation


def test_sign_flip_p_enumerated_by_hand():
    # |d| = 1, 2, 3: the 8 sign patterns sum to 6, 4, 2, 0, 0, -2, -4, -6
    assert permutation.sign_flip_p([1, 2, 3]) == 1 / 8  # observed 6: only itself
    assert permutation.sign_flip_p([1, -2, 3]) == 3 / 8  # observed 2: 6, 4 and 2
    assert permutation.sign_flip_p([-1, -2, -3]) == 1.0  # observed -6: every pattern reaches it
    assert permutation.sign_flip_p([0, 0, 1]) == 4 / 8  # flipping a 0 changes nothing: ties count
    assert permutation.sign_flip_p([0.5] * 10) == 1 / 1024  # all equal and positive: the one extreme pattern


def test_sign_flip_p_matches_brute_force_and_counts_float_ties():
    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 9, 12, 13):
        d = rng.normal(0.3, 1, size=n)
        brute = np.mean([np.dot(s, np.abs(d)) >= d.sum() - 1e-9 for s in itertools.product([1, -1], repeat=n)])
        assert permutation.sign_flip_p(d) == pytest.approx(brute), n
    # sums of +-.1 +-.2 +-.3: .6, .4, .2, 0, 0, -.2, -.4, -.6; observed 0, reached by 5 patterns. In float the
    # observed sum is +5.6e-17 and (-.1, -.2, +.3) sums to -5.6e-17: only the tolerance counts that tie
    assert permutation.sign_flip_p([0.1, 0.2, -0.3]) == 5 / 8


def test_sign_flip_p_stays_fast_at_20_seeds():
    start = time.perf_counter()
    p = permutation.sign_flip_p(list(range(1, 21)))
    assert p == 1 / 2**20 and time.perf_counter() - start < 2
    with pytest.raises(ValueError, match="exact enumeration stops at 40"):
        permutation.sign_flip_p([1.0] * 41)


def test_kendall_w_by_hand():
    # ranks [1,2,3], [1,3,2], [2,1,3]: rank sums 4, 6, 8 around 6: S = 8; W = 12 * 8 / (9 * 24) = 0.444
    assert permutation.kendall_w([[1, 2, 3], [1, 3, 2], [2, 1, 3]]) == pytest.approx(4 / 9)
    assert permutation.kendall_w([[0.1, 5, 9], [1, 2, 3]]) == 1.0  # the same order, whatever the values
    assert permutation.kendall_w([[1, 2], [2, 1]]) == 0.0
    # ties: both rows [1,1,2] -> ranks 1.5, 1.5, 3; sums 3, 3, 6 around 4: S = 6, so 12 S = 72; T = 2^3 - 2 = 6 per
    # row; denominator 2^2 (27 - 3) - 2 * 12 = 72: W = 1 (identical rankings, ties and all)
    assert permutation.kendall_w([[1, 1, 2], [1, 1, 2]]) == pytest.approx(1.0)
    assert permutation.kendall_w([[0, 0, 0], [1, 1, 1]]) is None  # nothing ranked


def test_kendall_w_permutation_null():
    # 2 raters, 3 items, identical rankings: W = 1, and a null sample reaches 1 when the two independent
    # permutations order the items alike: probability 1/6
    w, p = permutation.kendall_w_test([[1, 2, 3], [1, 2, 3]])
    assert w == 1.0 and p == pytest.approx(1 / 6, abs=0.015)
    assert permutation.kendall_w_test([[1, 2, 3], [1, 2, 3]]) == (w, p)  # a fixed generator: the same p
    # 10 seeds ranking 15 pairs with a shared preference: p at its floor 1 / (1 + permutations)
    rng = np.random.default_rng(1)
    agree = np.arange(15.0) + rng.normal(size=(10, 15))
    assert permutation.kendall_w_test(agree)[1] == 1 / (1 + permutation.PERMUTATIONS)
    assert permutation.kendall_w_test([[1, 2, 3]]) == (1.0, None)  # one rater: no test
