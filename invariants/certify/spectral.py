"""Enclosures of spectral norms and singular values from a float eigen-decomposition.

Arb has no SVD or symmetric eigensolver for balls; the enclosures here take float
eigenvectors ``X`` (``numpy.linalg.eigh``) as a guess and bound their error in balls:

* ``E = X^T A X`` is nearly diagonal; by Gershgorin every eigenvalue of ``E`` lies in a
  disc ``[E_ii - r_i, E_ii + r_i]``, ``r_i = sum_{j != i} |E_ij|``;
* ``X`` is nearly orthogonal, ``||X^T X - I||_2 <= f < 1`` (``f`` from the Frobenius norm);
  by Ostrowski's theorem ``lambda_i(X^T A X) = theta_i lambda_i(A)`` with
  ``theta_i in [1 - f, 1 + f]``, so ``||A||_2 <= max_i (|E_ii| + r_i) / (1 - f)``;
* a Rayleigh quotient ``|x^T A x| / x^T x`` of any float vector is a lower bound.

The enclosure is the ball spanning ``[Rayleigh, Gershgorin-Ostrowski]``: its width is of
the order of the float decomposition's residual (~1e-16 relative), whatever the matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flint import arb, arb_mat

from .balls import ball_matrix, fro2, precise


def _identity(n: int) -> arb_mat:
    return arb_mat(n, n, [1 if i == j else 0 for i in range(n) for j in range(n)])


def _span(low: arb, high: arb) -> arb:
    """The smallest ball holding both balls (so every value between them)."""
    return low.union(high)


@precise
def symmetric_norm(A: arb_mat, X: np.ndarray) -> arb:
    """``||A||_2 = max_i |lambda_i(A)|`` of a symmetric ball matrix ``A``, enclosed using
    the float eigenvector guess ``X`` (columns).  Raises ValueError when ``X`` is too far
    from orthogonal (``f >= 1/2``) to give a bound."""
    n = A.nrows()
    Xb = ball_matrix(np.asarray(X, dtype=np.float64).reshape(n, n))
    E = Xb.transpose() * A * Xb
    f = fro2(Xb.transpose() * Xb - _identity(n)).sqrt()
    if not f < 0.5:
        raise ValueError(f"the eigenvector guess is not orthogonal enough (||X^T X - I|| ~ {f})")
    best, rayleigh = arb(0), arb(0)
    for i in range(n):
        r = sum((abs(E[i, j]) for j in range(n) if j != i), arb(0))
        best = best.max(abs(E[i, i]) + r)
        xi = arb_mat(n, 1, [Xb[j, i] for j in range(n)])
        rayleigh = rayleigh.max(abs(E[i, i]) / fro2(xi))
    upper = best / (1 - f)
    return _span(rayleigh, upper)


def gram(W: np.ndarray) -> np.ndarray:
    """The smaller of ``W^T W`` and ``W W^T`` (same non-zero eigenvalues), in floats."""
    W = np.asarray(W, dtype=np.float64)
    return W.T @ W if W.shape[1] <= W.shape[0] else W @ W.T


@precise
def spectral_norm_squared(W: np.ndarray) -> arb:
    """``||W||_2^2 = sigma_1(W)^2`` enclosed: the top eigenvalue of the smaller Gram
    matrix, formed exactly in balls, with the float ``eigh`` of its float copy as guess."""
    W = np.asarray(W, dtype=np.float64)
    Wb = ball_matrix(W)
    A = Wb.transpose() * Wb if W.shape[1] <= W.shape[0] else Wb * Wb.transpose()
    _, X = np.linalg.eigh(gram(W))
    return symmetric_norm(A, X)


@precise
def rank_deficit(W: np.ndarray) -> arb:
    """``||W||_F^2 - ||W||_2^2`` enclosed (the sum of the squared tail singular values)."""
    deficit = fro2(ball_matrix(W)) - spectral_norm_squared(W)
    return deficit.max(arb(0)) if deficit.upper() >= 0 else deficit


@precise
def balance_norm(Wk: np.ndarray, Wk1: np.ndarray) -> arb:
    """``||W_k W_k^T - W_{k+1}^T W_{k+1}||_2`` enclosed (a symmetric, indefinite matrix)."""
    a, b = ball_matrix(Wk), ball_matrix(Wk1)
    A = a * a.transpose() - b.transpose() * b
    Af = np.asarray(Wk) @ np.asarray(Wk).T - np.asarray(Wk1).T @ np.asarray(Wk1)
    _, X = np.linalg.eigh(Af)
    return symmetric_norm(A, X)


@dataclass(frozen=True)
class SingularVector:
    """A unit ball vector ``x`` (column) with ``||v - s x|| <= radius`` for the exact top
    singular vector ``v`` and one sign ``s``."""

    x: arb_mat
    radius: arb


@precise
def top_singular_vector(W: np.ndarray, side: str) -> SingularVector | None:
    """The top right (``side="right"``: of ``W^T W``) or left (``"left"``: of ``W W^T``)
    singular vector of ``W``, enclosed; None when the gap below the top eigenvalue is not
    certified.

    With the float top eigenvector ``x`` of the Gram matrix ``A`` (normalised in balls),
    ``rho = x^T A x`` and ``r = ||A x - rho x||``, the one-vector Davis-Kahan bound gives
    ``sin angle(x, v) <= r / (rho - lambda_2)`` when ``rho > lambda_2``; ``lambda_2`` is bounded
    above by the Gershgorin discs of ``X^T A X`` other than the top one (which must be
    disjoint from them, so that it holds exactly one eigenvalue) and Ostrowski's factor.
    For unit vectors at an angle up to 90 degrees, ``||v - x|| <= sqrt(2) sin angle``.
    """
    W = np.asarray(W, dtype=np.float64)
    Wb = ball_matrix(W)
    A = Wb.transpose() * Wb if side == "right" else Wb * Wb.transpose()
    Af = W.T @ W if side == "right" else W @ W.T
    n = A.nrows()
    _, X = np.linalg.eigh(Af)
    top = n - 1
    x = ball_matrix(X[:, top])
    x = x * (1 / fro2(x).sqrt())
    if n == 1:
        return SingularVector(x, arb(0))
    Xb = ball_matrix(X)
    E = Xb.transpose() * A * Xb
    f = fro2(Xb.transpose() * Xb - _identity(n)).sqrt()
    if not f < 0.5:
        return None
    radii = [sum((abs(E[i, j]) for j in range(n) if j != i), arb(0)) for i in range(n)]
    others = E[0, 0] + radii[0]
    for i in range(1, n - 1):
        others = others.max(E[i, i] + radii[i])
    if not E[top, top] - radii[top] > others:
        return None  # the top disc meets another: the gap is not certified
    lam2 = others.max(arb(0)) / (1 - f)
    rho = (x.transpose() * A * x)[0, 0]
    gap = rho - lam2
    if not gap > 0:
        return None
    residual = fro2(A * x - x * rho).sqrt()
    sine = residual / gap
    if not sine < 1:
        return None
    return SingularVector(x, arb(2).sqrt() * sine)
