"""The planted-bug catalogue: every bug must be caught by at least one property (issue 6).

Statements: the probes run the checks of S-EQ1, S-EQ2, S-EQ3, S-L2a, S-L2b,
S-C1, S-INV, S-EQ4, S-EQ27, S-EQ29, S-EQ30, S-EQ37, S-L8a, S-L8b, S-L5,
S-L3, S-L4, S-T1, S-T2 and S-FIG1a (see :mod:`properties.ji_telgarsky_2019.controls.bug_catalogue`).

Under the CI profile each bug's probes stop at the first catch (fast); under
the report and stress profiles every probe runs, and the report lists which
properties caught each bug.
"""

from __future__ import annotations

import pytest

from properties.ji_telgarsky_2019.controls import bug_catalogue

pytestmark = pytest.mark.meta


def test_every_probe_passes_on_the_honest_library():
    """The catalogue means something only if every probe passes with no bug planted."""
    for probe in bug_catalogue.PROBES:
        probe.run()


def test_the_catalogue_is_large_and_documented():
    """At least 15 bugs, each with an area and a description, names unique."""
    assert len(bug_catalogue.BUGS) >= 15
    assert len({b.name for b in bug_catalogue.BUGS}) == len(bug_catalogue.BUGS)
    assert all(b.area and b.description for b in bug_catalogue.BUGS)
    areas = {b.area for b in bug_catalogue.BUGS}
    for area in ("losses", "network", "max margin", "flow integrator", "GD step rule", "bounds"):
        assert area in areas, f"no planted bug in {area}"


@pytest.mark.parametrize("bug", bug_catalogue.BUGS, ids=[b.name for b in bug_catalogue.BUGS])
def test_planted_bug_is_caught(bug, request, record_observation):
    """Plant one bug; at least one property check must fail (S-ERR records what caught it)."""
    thorough = request.config.invariants_profile in ("report", "stress")
    caught = bug_catalogue.caught_by(bug, first_only=not thorough)
    values = {"caught_by": float(len(caught))}
    values.update({f"probe: {name}": 1.0 for name, _ in caught})
    record_observation(f"bug: {bug.name}", "S-ERR", values)
    assert caught, (
        f"planted bug '{bug.name}' ({bug.area}: {bug.description}) was caught by no property"
    )
