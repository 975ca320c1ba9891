"""Negative controls for Appendix A (S-A2a): drop either hypothesis and the check fails.

The check is :func:`properties.ji_telgarsky_2019.claims.appendix_a.check_s_a2a`; the
property it passes is in ``properties/ji_telgarsky_2019/test_appendix_a.py``.  (S-A2b,
the counterexample, is itself the control of S-T1:
``controls/test_section2_limits_controls.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from properties.ji_telgarsky_2019.claims.appendix_a import check_s_a2a

pytestmark = pytest.mark.meta


def test_s_a2a_controls_each_hypothesis_is_needed():
    """S-A2a controls: drop either hypothesis and the check fails.

    * ``W_L...W_2 = 0`` (two zero layers; the statement requires ``!= 0``):
      every ``dR/dW_k`` has a zero factor, the gradient vanishes, A2 fails.
    * Data whose mean is 0 (``z`` and ``-z``: not separable, so no gamma > 0
      exists; gamma is passed as the value a separable set would need):
      ``grad R(0) = loss'(0) mean z = 0`` and A2 fails although
      ``W_L...W_2 != 0``.
    """
    z = np.array([[0.6, 0.2], [0.5, -0.3], [0.4, 0.4]])  # separable: <(1, 0), z_i> >= 0.4
    rng = np.random.default_rng(0)
    ok = (np.zeros((3, 2)), rng.standard_normal((2, 3)), np.array([[1.0, -0.5]]))
    for loss in (EXPONENTIAL, LOGISTIC):
        gamma = max_margin(z).gamma
        check_s_a2a(ok, z, loss, gamma)  # the control's baseline: the statement holds here
        zero_product = (ok[0], np.zeros((2, 3)), ok[2])
        with pytest.raises(AssertionError, match="S-A2a"):
            check_s_a2a(zero_product, z, loss, gamma)
        mirrored = np.vstack([z, -z])
        with pytest.raises(AssertionError, match="S-A2a"):
            check_s_a2a(ok, mirrored, loss, gamma)
