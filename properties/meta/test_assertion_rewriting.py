"""Meta-tests: the claim checks, the controls' helpers and the problems are rewritten by pytest.

A check that fails through a bare ``assert`` must show its operands, as a test module's
would.  ``conftest.py`` registers ``properties`` for assertion rewriting before the
preload imports any of it; a module imported first would be left plain (pytest only
warns, and the warning is an error here).
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from _pytest.assertion.rewrite import AssertionRewritingHook

from invariants.core.losses import LOGISTIC
from properties.ji_telgarsky_2019.claims import lemma3_4


def plain_modules() -> list[str]:
    """Loaded non-test modules of ``properties`` that pytest did not rewrite."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.startswith("properties.")
        and getattr(module, "__file__", None)
        and not isinstance(getattr(module, "__loader__", None), AssertionRewritingHook)
    )


@pytest.mark.meta
def test_every_module_of_properties_is_rewritten():
    """Every loaded module under ``properties`` has pytest's rewriting loader."""
    assert plain_modules() == []


@pytest.mark.meta
def test_a_bare_assert_in_a_claim_check_shows_its_operands():
    """S-L4's search check: a witness whose ``K_emp`` is off fails a bare ``assert`` with values.

    The planted search claims ``K_emp = ||w_perp|| + 5``; the check's
    ``assert abs(rp - search.K_emp) <= perp_rounding(w)`` fails, and the message
    carries the computed 5.0 (rewritten), not a bare ``AssertionError``.
    """
    ubar = np.array([1.0, 0.0])
    w = np.array([2.0, 3.0])
    search = SimpleNamespace(K=100.0, K_emp=3.0 + 5.0, witness_w=w)
    z = np.array([[0.5, 0.1], [0.6, -0.2]])
    with pytest.raises(AssertionError) as info:
        lemma3_4.check_s_l4_search(search, z, SimpleNamespace(ubar=ubar), LOGISTIC)
    message = str(info.value)
    assert "assert 5.0 <=" in message, message
    assert "perp_rounding" in message, message
