"""Negative controls for Lemma 3 (S-L3) and Lemma 4 (S-L4): each check fails on a planted bug.

Every control runs the same check function of :mod:`properties.ji_telgarsky_2019.claims.lemma3_4`
that the property tests run, on fixed A3 data (``strategies.build_a3`` with a
fixed seed) with one realistic bug or violated hypothesis, and asserts that it
raises :class:`AssertionError`.  The unbroken case passes every check first.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from invariants import strategies as S
from invariants.core.lemma4 import l4_empirical_threshold, lemma4_threshold
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.core.maxmargin import MaxMargin, max_margin
from invariants.core.theta import Theta, theta
from properties.ji_telgarsky_2019.claims import lemma3_4

pytestmark = pytest.mark.meta

LOSSES = (EXPONENTIAL, LOGISTIC)


@pytest.fixture(scope="module")
def case() -> tuple[S.A3Data, MaxMargin, Theta]:
    """n = 14, d = 4, gamma = 0.1: A3 data with theta = 0.035 (small enough for the K control)."""
    A = S.build_a3(np.random.default_rng(7), 14, 4, 0.1, spread=0.6)
    mm = max_margin(A.data)
    return A, mm, theta(A.data, mm)


@pytest.fixture(scope="module")
def searches(case) -> dict[str, object]:
    A, mm, th = case
    return {loss.name: l4_empirical_threshold(A.z, mm, th, loss) for loss in LOSSES}


def _dirs(A: S.A3Data, th: Theta, k: int = 64) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((k, A.d))


def test_honest_case_passes(case, searches):
    """The controls mean something only if the unbroken case passes every check."""
    A, mm, th = case
    lemma3_4.check_s_l3(A.z, mm, th)
    lemma3_4.check_s_l3_sampled(A.z, mm, th, _dirs(A, th))
    for loss in LOSSES:
        K = lemma4_threshold(loss, A.n, th.value)
        for a in (0.0, 1.0, 1e6):
            lemma3_4.check_s_l4_sign(a * mm.ubar + K * -th.xi, A.z, mm.ubar, loss, K)
        lemma3_4.check_s_l4_search(searches[loss.name], A.z, mm, loss)


def test_s_l3_fails_when_theta_uses_all_points(case):
    """S-L3: theta computed over every point instead of the support vectors is caught.

    The hull of all projected points is larger, so its nearest facet is
    farther than theta and is spanned by non-support points: the certificate's
    upper-bound witness and vertex checks fail.
    """
    A, mm, _ = case
    bug = theta(A.data, dataclasses.replace(mm, support=np.arange(A.n)))
    assert bug.value > 0  # the bug gives a plausible-looking positive number
    with pytest.raises(AssertionError, match="S-L3"):
        lemma3_4.check_s_l3(A.z, mm, bug)
    # The sampled lower bound catches it too: some direction has h below the inflated value.
    with pytest.raises(AssertionError, match="S-L3"):
        lemma3_4.check_s_l3_sampled(A.z, mm, bug, _dirs(A, bug, 256))


def _off_max_margin(mm: MaxMargin, z: np.ndarray, delta: float) -> MaxMargin:
    """Bug: ubar off the max-margin direction by ``delta`` (a solver stopped early).

    The direction still separates the data; gamma and the margins are
    recomputed for it, the support set is kept.
    """
    v = np.random.default_rng(3).standard_normal(mm.ubar.size)
    v -= (v @ mm.ubar) * mm.ubar
    u = mm.ubar + delta * v / np.linalg.norm(v)
    u = u / np.linalg.norm(u)
    margins = z @ u
    assert float(margins.min()) > 0
    return dataclasses.replace(mm, ubar=u, gamma=float(margins.min()), margins=margins)


def test_s_l3_certificate_fails_with_a_non_max_margin_ubar(case):
    """S-L3: theta computed in the perpendicular space of a non-optimal ubar is caught.

    With ubar off by 1e-3 the computed "theta" is a plausible positive number
    (within 1% of the true one), but its basis and witness are not
    perpendicular to the max-margin direction, and the dual barycentre of its
    projected support vectors is not at the origin.
    """
    A, mm, th = case
    bug_mm = _off_max_margin(mm, A.z, 1e-3)
    bug = theta(A.data, bug_mm)
    assert abs(bug.value - th.value) <= 0.01 * th.value
    with pytest.raises(AssertionError, match="S-L3"):
        lemma3_4.check_s_l3(A.z, mm, bug)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_s_l4_fails_with_a_non_max_margin_ubar(case, loss: Loss):
    """S-L4 needs the max-margin ubar: with ubar off by 1e-3 the search beats K by far.

    For large ``a = <w, ubar>`` only the points of smallest margin along the
    wrong direction matter, and those are no longer all the support vectors:
    the sign condition fails at every ``||w_perp||`` searched (up to 30 K).
    """
    A, _, _ = case
    bug_mm = _off_max_margin(max_margin(A.data), A.z, 1e-3)
    bug = theta(A.data, bug_mm)
    search = l4_empirical_threshold(A.z, bug_mm, bug, loss)
    with pytest.raises(AssertionError, match="S-L4"):
        lemma3_4.check_s_l4_search(search, A.z, bug_mm, loss)


def _theta_instead_of_inverse(loss: Loss, n: int, th: float) -> float:
    """Bug: theta multiplies instead of dividing, ``K = (1 + ln n) theta`` / ``2 n theta / e``.

    Measured over 40 random A3 data sets (n <= 30, d <= 6, the a3_datasets
    ranges): the search catches it in 37/40 (exponential) and 36/40
    (logistic) cases; it escapes only when theta is large (theta^2 above
    K_emp / K, i.e. theta >~ 0.2).  The fixed case here has theta = 0.035.
    """
    return lemma4_threshold(loss, n, th) * th * th


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_s_l4_search_catches_a_threshold_too_small(case, searches, loss: Loss):
    """S-L4: a threshold K that is too small is caught by the targeted search."""
    A, mm, th = case
    search = searches[loss.name]
    k_bug = _theta_instead_of_inverse(loss, A.n, th.value)
    assert k_bug < search.K_emp  # precondition of the control (measured, see the docstring)
    with pytest.raises(AssertionError, match="S-L4"):
        lemma3_4.check_s_l4_search(search, A.z, mm, loss, K=k_bug)


def _negative_ubar_witness(A: S.A3Data, mm: MaxMargin, loss: Loss, r: float) -> np.ndarray:
    """A w with ``<w, ubar> < 0`` (hypothesis violated) and ``||w_perp|| = r`` that fails the sign.

    ``w = -A ubar + r xi``.  Exponential: ``|loss'(m_i)| = exp(A g_i - r s_i)``
    favours the point k of *largest* margin g; with ``xi`` along its
    projection (``s_k > 0``, a growing term) and
    ``A (g_k - g_j) > r (s_k + |s_j|) + log n + 50`` for every other j, it
    dominates.  Logistic: every margin is below -50, so ``|loss'| = 1`` to
    ``e^-50`` and the sign is that of ``-<w_perp, sum_i z_i>``; ``xi`` along the
    projected mean makes it negative.
    """
    z, basis = A.z, theta(A.data, mm).basis
    g = z @ mm.ubar
    pz = (z @ basis) @ basis.T
    smax = float(np.max(np.linalg.norm(pz, axis=1)))
    if loss is EXPONENTIAL:
        k = int(np.argmax(g))
        xi = pz[k] / np.linalg.norm(pz[k])
        second = float(np.max(np.delete(g, k)))
        big = (2 * r * smax + math.log(A.n) + 50) / (float(g[k]) - second)
    else:
        xi = pz.mean(axis=0) / np.linalg.norm(pz.mean(axis=0))
        big = (r * smax + 50) / float(np.min(g))
    return -big * mm.ubar + r * xi


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_s_l4_fails_without_its_hypothesis_on_ubar(case, loss: Loss):
    """S-L4 needs ``<w, ubar> >= 0``: with it violated the sign fails at ``||w_perp|| = 10 K``."""
    A, mm, th = case
    K = lemma4_threshold(loss, A.n, th.value)
    w = _negative_ubar_witness(A, mm, loss, 10 * K)
    assert float(w @ mm.ubar) < 0
    with pytest.raises(AssertionError, match="S-L4"):
        lemma3_4.check_s_l4_sign(w, A.z, mm.ubar, loss, K)
