"""The claims of Lyu & Li (ICLR 2020) as checks: ``check_<id>(...) -> Slack`` per statement.

One module per stem, shared with its test module (``test_<stem>.py``) and its controls
(``controls/test_<stem>_controls.py``):

- :mod:`.identities`: the identities and pointwise bounds of Sections 3-5 at every state
  (LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7, LL-S5.ID, LL-L5.1, LL-EQ5);
- :mod:`.flow_theorems`: along gradient flow (LL-T4.1, LL-LB.6, LL-T4.3, LL-LC.9, LL-LC.11,
  LL-TA.9, LL-DL3);
- :mod:`.kkt`: the max-margin problem and its KKT points (LL-P, LL-T4.4, LL-LC.8, LL-C4.5,
  LL-DL1, LL-DL2);
- :mod:`.gd_theorems`: gradient descent (LL-T4.2, LL-LE.1, LL-LE.7);
- :mod:`.counterexample`: Theorem I.1, the violations and the errata (LL-TI.1, LL-NEG,
  LL-ERR);
- :mod:`.multiclass`: cross-entropy on the digits network (LL-F, LL-FIG1).

The paper's objects (margins, the smoothed margin, nu) are
:mod:`invariants.core.homogeneous`; the running helpers (:func:`properties.helpers.collect`)
are shared with every paper.
"""
