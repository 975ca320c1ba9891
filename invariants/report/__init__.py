"""The report of a run of the property suite: records, report, files, figures, baseline.

It imports nothing of ``invariants`` but :mod:`invariants.statements` (every
catalogued paper's statements and report tables, and the ``Slack`` record): the report
knows the statements, never the math.  One concern per module, no import cycle:

- :mod:`.plugin`: the pytest plugin (report options, the ``record_*`` fixtures,
  the run hooks), loaded by ``conftest.py``; :mod:`.progress`: progress lines of
  long tests;
- :mod:`.records`: one test's record and the slack recorder; :mod:`.failures`: a
  failure's text; :mod:`.collection`: what one pytest process saw of the run;
  :mod:`.selection`: whole suite, subset or shard;
- :mod:`.build`: the report from the test entries; :mod:`.statement_table`: the
  statement rows; :mod:`.tables`: the looseness, laws and figures sections
  from the catalogues' tables; :mod:`.benchmarks`: the benchmark results quoted (and
  whether stale); :mod:`.values`: numbers;
- :mod:`.files`: schema check, load, atomic write, the report folder;
  :mod:`.merge`: merging reports; :mod:`.markdown`: ``report.md``;
  :mod:`.summary`: the terminal table; :mod:`.figures` and :mod:`.fig2`: the figures;
  :mod:`.graph`: the dependency graph (Graphviz); :mod:`.html`: ``index.html``;
- :mod:`.baseline`: the regression baseline and its update; :mod:`.compare`: the
  comparison with it (the regression rules);
  :mod:`.determinism`: xdist against serial; :mod:`.cli`: ``python -m invariants.report``.
"""
