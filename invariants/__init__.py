"""The library of the suite: the objects of the papers it checks (one catalogue each), their
dynamics, the generators of problems and the report, in layers that import one way only.

Layers (the arrow reads "may import"; checked by ``properties/meta/test_layering.py``)::

    statements, errors          the statement catalogues (catalogues/<paper>.toml: each
                                  statement's math, assumptions, proof dependencies,
                                  tolerance; the paper's report tables), the ID
                                  pattern, Slack; every deliberate exception
          ^
    core/                       the papers' objects, numpy/scipy only
          ^                       rounding (EPS, gamma_m, SVD/Wedin bounds, error-free sums),
          |                       losses, data, network (+ A2), maxmargin (+ certificate),
          |                       bounds (Lemma 2), theta (S-L3, S-L4), limits,
          |                       homogeneous (margins of p-homogeneous models), kkt (the
          |                       max-margin problem's KKT residuals), smoothed_gd (ghat
          |                       and the derived step bound), margin_rates (time, G,
          |                       fits), multiclass (cross-entropy margins), mexican_hat
          |                       (the counterexample's margin and reduced flow)
    dynamics/                   gradient flow: flow (the field, the guards, the driver),
                                  budget (the guard's allowances), records
                                  (checkpoints, step log, path), quadrature
                                  (log-domain time and its error), reference (the
                                  tighter run behind perp_error), relu_flow (the flow
                                  of a bias-free ReLU network); gradient descent (gd
                                  under A5, gd_scaled in the log domain of a summed loss)
    strategies/                 Hypothesis generators of problems (imports core)
    certify/                    ball-arithmetic certificates at float points (imports core;
                                python-flint, the optional extra ``certify``)
    relu                        the ReLU experiment of Fig. 2 (imports core.rounding)
    database                    the shared example database (INVARIANTS_DATABASE)
    report/                     records, the report, figures, baseline, the pytest plugin
                                (imports statements only)

The math never imports the dynamics, the strategies or the report; the report never
imports the math; nothing here imports ``properties``, ``tools`` or ``benchmarks``; and
there is no import cycle.  The claims themselves (one ``check_<id>`` per statement) live
in each paper's ``properties/<paper>/claims`` (``properties/README.md``).
"""
