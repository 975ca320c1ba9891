"""Certified verdicts: inequalities decided in ball arithmetic on the float inputs a run produced.

Every float64 number is a rational, so it is an exact ball (radius 0).  Evaluating an
inequality's two sides in ball arithmetic (Arb, through python-flint) gives an enclosure
of the exact real value of ``rhs - lhs`` *at those float inputs*: if the whole ball lies
in ``[0, inf)`` the inequality holds in exact real arithmetic there (a computer-assisted
proof for that instance), if it lies in ``(-inf, 0)`` it fails there, and otherwise the
enclosure is too wide to tell (undecided, never counted as certified).

What a certificate is about, exactly: the float inputs as given.  For a gradient-descent
step the *exact* step ``W - eta grad R(W)`` is taken from the float iterate ``W`` in balls
(not the float ``W(t+1)`` the run stored, which carries the step's rounding); for a point
on a gradient-flow path, the checkpoint's float weights.  Limits, rates and anything about
the continuous path between checkpoints are not finite computations and are not certified.

Modules (layer: imports ``invariants.core`` and ``invariants.errors`` only; python-flint is
an optional dependency, imported here and nowhere else):

- :mod:`.balls`: float arrays to exact balls, the :class:`~.balls.Certificate` verdict;
- :mod:`.network`: a deep linear network in balls (end-to-end vector, margins, risk for
  the logistic and exponential losses, layer gradients, squared gradient norm);
- :mod:`.steps`: one gradient-descent step in balls and the inequalities about it
  (descent, norm growth, discrete balancedness, per-step budgets), the Lipschitz quotient
  of the gradient, and the choice of sampled steps;
- :mod:`.smoothed`: the summed loss of a deep linear network in balls read through ``u =
  log(1/Lsum)`` relative to the smallest margin, the exact scaled step ``W - s grad Lsum /
  Lsum``, the dual weights and velocity;
- :mod:`.spectral`: spectral norms, top singular values and vectors and rank deficits
  enclosed from a float eigen-decomposition (Gershgorin, Ostrowski and Davis-Kahan bounds
  in balls);
- :mod:`.geometry`: the max margin and its direction enclosed by weak duality, a lower
  bound of theta from certified simplices of the support, the perpendicular gradient.
"""
