"""The claims of Ji & Telgarsky (ICLR 2019) as checks: ``check_<id>(...) -> Slack`` per statement.

One module per section of the paper, with the stem its test module
(``test_<stem>.py``) and its controls (``controls/test_<stem>_controls.py``) share.
Each check asserts its statement on a computed object (a trajectory, a max-margin
solution, a trained ReLU network) and returns the worst ``observed / allowed`` ratio
(:class:`invariants.statements.Slack`).  Every tolerance is derived next to the check.

- :mod:`.section2_flow`: the flow along one trajectory (S-EQ1, S-EQ2, S-EQ3, S-L2a,
  S-L2b, S-L2c, S-C1, S-INV) and :data:`.section2_flow.CHECKS`;
- :mod:`.section2_limits`: where the flow goes (S-T1, S-T2, S-L1, S-FIG1a, S-FIG1b);
- :mod:`.lemma3_4`: theta (S-L3) and the sign condition (S-L4);
- :mod:`.section3_gd`: gradient descent under A5 (S-EQ4, S-EQ27, S-EQ29, S-EQ30,
  S-EQ37, S-L7, S-L8a-c, S-T3) and :data:`.section3_gd.CHECKS`;
- :mod:`.section3_limits`: S-T4 as far as a finite GD run shows it;
- :mod:`.section3_smoothness`: S-L5 and S-L6;
- :mod:`.appendix_a`: S-A2a and the S-A2b counterexample (flow and GD);
- :mod:`.assumptions`: what breaks when an assumption A1-A5 is dropped;
- :mod:`.fig2`: the ReLU experiment of Fig. 2 (S-FIG2);
- :mod:`.certified`: the same statements, where they are inequalities at a point or a
  step, decided in ball arithmetic at sampled points (docs/certified.md); the checks above
  attach these certificates to the slack they return.
"""

from __future__ import annotations

import numpy as np

from invariants.core.rounding import slack_ratio
from properties.helpers import Observation, collect, run_checks

__all__ = ["Observation", "alignment_slack", "collect", "deficit_bound_exercised", "run_checks"]


def alignment_slack(
    statement: str, al: np.ndarray, lb: np.ndarray, tol: np.ndarray, where: str
) -> tuple[float, bool]:
    """Assert ``<v_{k+2}, u_{k+1}>^2 >= lb_k - tol_k`` for every k (S-L2b, S-L8b).

    ``al`` are the alignments (:func:`invariants.core.bounds.alignment`), ``lb`` the
    statement's lower bounds and ``tol`` their rounding allowances.  Returns the worst
    ``(1 - al_k^2) / (1 - lb_k + tol_k)`` over the k whose bound is positive, and
    whether any bound was *exercised*: ``lb_k - tol_k > 0``.  A squared alignment is
    never negative, so a bound at or below 0 holds for any weights and can fail nothing.
    """
    worst = 0.0
    for k in range(al.size):
        assert al[k] ** 2 >= lb[k] - tol[k], (
            f"{statement}: <v_{k + 2}, u_{k + 1}>^2 = {al[k] ** 2:.12f} < bound {lb[k]:.12f} "
            f"- tol {tol[k]:.2e} {where}"
        )
        if lb[k] > 0:
            worst = max(worst, slack_ratio(1 - al[k] ** 2, 1 - lb[k] + tol[k]))
    return worst, bool(np.any(lb - tol > 0))


def deficit_bound_exercised(W: np.ndarray, allowed: float) -> bool:
    """Whether a rank-deficit bound ``||W||_F^2 - ||W||_2^2 <= allowed`` can fail on ``W``.

    The deficit is the tail sum of the squared singular values, at most
    ``(1 - 1/r) ||W||_F^2`` for ``r = min(shape)``; a bound at or above that holds for
    every matrix of this norm (in particular for every vector layer, r = 1, whose
    deficit is identically 0).  Serves S-L2a, S-L8a and S-FIG1b.
    """
    r = min(W.shape)
    return bool(allowed < (1.0 - 1.0 / r) * float(np.vdot(W, W)))
