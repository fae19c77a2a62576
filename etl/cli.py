"""``eraflow``: the pipeline without Airflow, for backfills and for people who only
want the warehouse.

Exit codes (a contract: scripts and schedulers rely on them):
  0  everything loaded and every check passed
  1  the run failed; a one-line reason is printed
  2  the command line was wrong
  3  data loaded, but a file was rejected or a check found problems
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PROBLEMS = 3

log = logging.getLogger("eraflow")


def _progress(stream=sys.stderr):
    """A one-line progress display on a terminal; nothing when output is redirected."""
    if not stream.isatty():
        return None
    started = time.monotonic()

    def show(done: int, total: int, result) -> None:
        rate = done / max(time.monotonic() - started, 1e-6)
        stream.write(f"\r  ingest {done}/{total} files ({rate:.1f}/s)   ")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def _quiet_libraries() -> None:
    for name in ("great_expectations", "airflow", "paramiko", "asyncssh", "dbt", "cosmos"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    except ImportError:
        pass


def _stage_ingest(args, wh, data_dir: Path, run_id: str) -> int:
    from etl.pipeline import ingest_source

    report = ingest_source(args.source, wh, data_dir, run_id=run_id, progress=_progress())
    print(f"ingest: {len(report.loaded)} loaded, {len(report.skipped)} already loaded, "
          f"{len(report.rejected)} rejected")
    for r in report.rejected:
        print(f"  rejected {r.reason}")
    rejected = bool(report.rejected)
    if getattr(args, "ledger", None):
        from etl.ledger import has_problems, ingest_ledger_source, report_lines

        ledger = ingest_ledger_source(args.ledger, wh, data_dir, run_id=run_id,
                                      ledger_map=args.ledger_map)
        for line in report_lines(ledger):
            print(line)
        rejected = rejected or has_problems(ledger)
    return EXIT_PROBLEMS if rejected else EXIT_OK


def _stage_transform(args, wh) -> int:
    from etl.transform import run_dbt

    print("transform: dbt build ...", file=sys.stderr, flush=True)
    # dbt's unit tests check the models' SQL on given rows, not the data: they run in the
    # test suite (and in CI), not on every production build.
    result = run_dbt(wh, command="build", full_refresh=getattr(args, "full_refresh", False),
                     exclude="test_type:unit", quiet=not args.verbose)
    if result.success:
        print(f"transform: dbt build passed ({result.elapsed:.1f}s)")
        return EXIT_OK
    print(f"transform: dbt build reported {len(result.failures)} problem(s)")
    for failure in result.failures[:20]:
        print(f"  {failure}")
    # A failing data test leaves the models built: data is there, problems were found.
    return EXIT_PROBLEMS if getattr(result, "models_built", True) else EXIT_FAILURE


def _stage_check(args, wh, data_dir: Path, run_id: str):
    from etl.checks import run_checks

    # `run` checks the rows of the files it loaded (see expectations/README.md), unless
    # --check-all; `check` on its own checks every row.
    scoped = args.command == "run" and not getattr(args, "check_all", False)
    summary = run_checks(wh, run_id=run_id, docs_dir=Path(args.docs_dir or data_dir / "docs"),
                         files_of_run=run_id if scoped else None)
    print(f"check: {summary.passed} passed, {summary.failed} failed, "
          f"{summary.warnings} warnings")
    if args.command == "check":  # `run` lists every check in its summary instead
        from etl.ledger import check_figures, check_lines

        for line in check_lines(check_figures(wh, run_id)):
            print(line)
    return (EXIT_OK if summary.success else EXIT_PROBLEMS), summary


DOCS_HELP = "where the Data Docs site goes (default: <data-dir>/docs)"
REFRESH_HELP = ("rebuild every dbt model from raw: once after upgrading eraflow, editing a "
                "seed or deleting a file from raw")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="eraflow", description="Load X12 835 remittances into a warehouse and check them.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each file")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, source: bool):
        if source:
            p.add_argument("--source", required=True,
                           help="folder or file of 835s, or sftp://user@host:port/inbox"
                                "?host_key=...|known_hosts=FILE")
        p.add_argument("--warehouse", default=None,
                       help="DuckDB file path or postgresql:// URL "
                            "(default: $ERAFLOW_WAREHOUSE or var/warehouse.duckdb)")
        p.add_argument("--data-dir", default=None,
                       help="working folder for landing, quarantine and Data Docs "
                            "(default: $ERAFLOW_DATA_DIR or ./var)")
        if source or p.prog.endswith("check"):
            p.add_argument("--run-id", default=None,
                           help="name of this run, recorded in the manifest and dq tables "
                                "(default: the time and a random suffix)")
        else:
            p.add_argument("--run-id", default=None,
                           help="the run to report on (default: the latest)"
                           if p.prog.endswith("summary") else argparse.SUPPRESS)
        if source:
            p.add_argument("--ledger", default=None,
                           help="folder (or sftp:// folder) of posting-ledger CSV files "
                                "(see docs/LEDGER.md)")
            p.add_argument("--ledger-map", default=None,
                           help="local adjustment code map (default: local_codes.csv in the "
                                "ledger folder)")

    p_run = sub.add_parser("run", help="ingest, transform and check")
    common(p_run, source=True)
    p_run.add_argument("--docs-dir", default=None, help=DOCS_HELP)
    p_run.add_argument("--full-refresh", action="store_true", help=REFRESH_HELP)
    p_run.add_argument("--check-all", action="store_true",
                       help="check every row, not only the rows of the files this run "
                            "loaded (the 835-only suites; the reconciliation always checks "
                            "every row)")
    common(sub.add_parser("ingest", help="raw load only"), source=True)
    p_tr = sub.add_parser("transform", help="dbt build")
    common(p_tr, source=False)
    p_tr.add_argument("--full-refresh", action="store_true", help=REFRESH_HELP)
    p_ck = sub.add_parser("check", help="run the expectation suites")
    common(p_ck, source=False)
    p_ck.add_argument("--docs-dir", default=None, help=DOCS_HELP)
    common(sub.add_parser("summary", help="print the headline figures"), source=False)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    _quiet_libraries()

    from etl.pipeline import default_data_dir, summarize
    from etl.warehouse import Warehouse, WarehouseError

    try:
        wh = Warehouse.from_url(args.warehouse)
        if (args.command in ("transform", "check", "summary") and wh.kind == "duckdb"
                and not wh.path.exists()):
            # DuckDB would create an empty file: a typo must not make a new warehouse
            print(f"eraflow: no warehouse at {wh.path}; load one with `eraflow ingest` or "
                  f"`eraflow run`", file=sys.stderr)
            return EXIT_FAILURE
        data_dir = Path(args.data_dir).resolve() if args.data_dir else default_data_dir()
        run_id = args.run_id or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        codes = []
        docs = None
        if args.command in ("run", "ingest"):
            codes.append(_stage_ingest(args, wh, data_dir, run_id))
        if args.command in ("run", "transform"):
            codes.append(_stage_transform(args, wh))
        if args.command in ("run", "check"):
            code, checks = _stage_check(args, wh, data_dir, run_id)
            codes.append(code)
            docs = str(checks.docs_path) if checks.docs_path else None
        if args.command in ("run", "summary"):
            shown = run_id if args.command == "run" else args.run_id
            for line in summarize(wh, shown, docs).lines():
                print(line)
    except (WarehouseError, FileNotFoundError) as exc:
        print(f"eraflow: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("eraflow: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # one line for the user; the traceback only with -v
        log.debug("failure", exc_info=True)
        reason = str(exc).splitlines()[0] if str(exc) else ""
        print(f"eraflow: {type(exc).__name__}: {reason}"[:300], file=sys.stderr)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return EXIT_FAILURE

    if EXIT_FAILURE in codes:
        return EXIT_FAILURE
    return EXIT_PROBLEMS if EXIT_PROBLEMS in codes else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
