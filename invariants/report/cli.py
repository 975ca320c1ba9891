"""The report's command line: ``python -m invariants.report COMMAND ...``.

- ``render REPORT.json [-o DIR]``: write ``report.md``, the figures, the dependency
  graph and ``index.html`` of a report (default: beside it; a ``report.partial.json``
  into ``partial/``).
- ``merge A.json B.json ... -o DIR [--baseline FILE] [--no-figures]``: merge
  reports of one profile (several machines, ``--tx`` workers, shards, ``-k``
  subsets, a partial report and a rerun) into one report folder.  Exit 1 when
  the merged run has problems (or regresses against ``--baseline``).
- ``baseline REPORT BASELINE [--accept-failures] [--profile P]``: validate a
  report (whole suite, finished, same profile as the old baseline, no failing
  test unless ``--accept-failures``) and write the baseline from it (``make
  baseline``).  The only way the baseline changes: nothing else writes it.
- ``compare BASELINE REPORT [--markdown FILE]``: print the comparison table;
  exit 1 on a regression.  Either argument may be a baseline or a ``report.json``.
- ``check-determinism [PATHS...] [--profile P] [--workers N]``: run pytest on
  PATHS (default: ``test_losses.py`` and each catalogue's ``[report] determinism``
  files) under xdist and serially and compare the two ``report.json`` files
  without their timing fields.
- ``statements [--out FILE]``: write ``docs/statements.md`` (or FILE) from the
  statement catalogues (:mod:`invariants.report.catalogue_doc`).

A file that is not a usable report or baseline exits 2 with a one-line error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..statements import CATALOGUES
from . import baseline, catalogue_doc
from .compare import compare, format_comparison
from .determinism import check_determinism
from .files import PARTIAL_JSON, ReportFormatError, load, write_folder
from .merge import merge
from .summary import format_table


def _cmd_render(ns: argparse.Namespace) -> int:
    report = load(ns.report)
    out = Path(ns.output) if ns.output else Path(ns.report).parent
    if Path(ns.report).name == PARTIAL_JSON and not ns.output:
        out = out / "partial"
    for f in report["figures"]:
        f["files"] = []
    write_folder(report, out)
    print(f"report written to {out} (report.md, index.html)")
    print(format_table(report))
    return 0 if report["ok"] else 1


def _cmd_merge(ns: argparse.Namespace) -> int:
    report = merge(ns.reports)
    path = write_folder(report, ns.output, render=not ns.no_figures)
    print(format_table(report))
    print(f"merged report of {len(ns.reports)} files written to {path.parent}")
    rc = 0 if report["ok"] else 1
    if ns.baseline:
        result = compare(baseline.load_any(ns.baseline), report)
        print(format_comparison(result, ns.baseline, str(path)))
        rc = max(rc, 1 if result["regressions"] else 0)
    return rc


def _cmd_baseline(ns: argparse.Namespace) -> int:
    written = baseline.update(ns.report, ns.baseline, ns.accept_failures, ns.profile)
    held = sum(s["status"] in baseline.CHECKED for s in written["statements"].values())
    print(
        f"baseline written to {ns.baseline}: profile {written['profile']}, "
        f"{len(written['tests'])} tests, {held} of {len(written['statements'])} "
        "statements checked"
    )
    return 0


def _cmd_compare(ns: argparse.Namespace) -> int:
    result = compare(
        baseline.load_any(ns.baseline),
        load(ns.report, kinds=("invariants.report", "invariants.baseline")),
    )
    print(format_comparison(result, ns.baseline, ns.report))
    if ns.markdown:
        Path(ns.markdown).write_text(
            format_comparison(result, ns.baseline, ns.report, markdown=True)
        )
    return 1 if result["regressions"] else 0


def default_determinism_paths() -> list[str]:
    """What ``check-determinism`` runs without PATHS: ``test_losses.py`` and each
    catalogue's ``[report] determinism`` files (in ``properties/<key>/``)."""
    return ["properties/library/test_losses.py"] + [
        f"properties/{c.paper.key}/{f}" for c in CATALOGUES for f in c.determinism
    ]


def _cmd_determinism(ns: argparse.Namespace) -> int:
    paths = ns.paths or default_determinism_paths()
    diffs, rcs = check_determinism(paths, ns.profile, ns.workers)
    print(f"pytest exit codes: {rcs}")
    if diffs:
        print(f"report.json differs between -n {ns.workers} and -n 0 (timings aside):")
        print("\n".join(f"  {d}" for d in diffs))
        return 1
    print(
        f"report.json identical under -n {ns.workers} and -n 0 (timings aside) for "
        + ", ".join(paths)
    )
    return 0


def _cmd_statements(ns: argparse.Namespace) -> int:
    if not (Path.cwd() / "properties").is_dir():
        print("error: run from the repository's root (no properties/ here)", file=sys.stderr)
        return 2
    path = catalogue_doc.write(Path.cwd(), Path(ns.out))
    print(f"statement catalogue written to {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    top = argparse.ArgumentParser(
        prog="python -m invariants.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "render", help="write report.md, figures, graph and index.html of a report.json"
    )
    p.add_argument("report")
    p.add_argument("-o", "--output", help="folder (default: beside the report)")
    p.set_defaults(func=_cmd_render)
    p = sub.add_parser("merge", help="merge report.json files into one report folder")
    p.add_argument("reports", nargs="+")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--baseline", help="compare the merged report with this baseline")
    p.add_argument("--no-figures", action="store_true", help="write report.json/.md only")
    p.set_defaults(func=_cmd_merge)
    p = sub.add_parser("baseline", help="validate a report and make it the baseline")
    p.add_argument("report")
    p.add_argument("baseline")
    p.add_argument("--accept-failures", action="store_true")
    p.add_argument("--profile", help="required profile (default: the old baseline's)")
    p.set_defaults(func=_cmd_baseline)
    p = sub.add_parser("compare", help="compare a report with the baseline (exit 1: regression)")
    p.add_argument("baseline")
    p.add_argument("report")
    p.add_argument("--markdown", help="also write the table as markdown to this file")
    p.set_defaults(func=_cmd_compare)
    p = sub.add_parser("check-determinism", help="xdist and serial runs give the same report")
    p.add_argument("paths", nargs="*")
    p.add_argument("--profile", default="ci")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=_cmd_determinism)
    p = sub.add_parser("statements", help="write docs/statements.md from the catalogues")
    p.add_argument(
        "--out", default=str(catalogue_doc.DEFAULT_OUT), help="file (default: %(default)s)"
    )
    p.set_defaults(func=_cmd_statements)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one command; a file that is not a usable report or baseline exits 2."""
    ns = parser().parse_args(argv)
    try:
        return ns.func(ns)
    except ReportFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
