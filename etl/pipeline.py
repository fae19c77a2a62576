"""The stages of a run, shared by the ``eraflow`` command and the Airflow DAG.

ingest -> transform (dbt build) -> check (expectation suites) -> summary.
Each stage is safe to re-run: the loader skips files it has seen, dbt rebuilds the
marts from raw, and the checks replace their own run's results.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

from etl.ledger import CheckFigure, check_figures, check_lines, ledger_lines
from etl.loader import FileResult, IngestReport, ingest_paths
from etl.warehouse import Warehouse

log = logging.getLogger(__name__)

CLI_SFTP_CONN_ID = "eraflow_cli_sftp"


def default_data_dir() -> Path:
    """Working folders (landing, quarantine, Data Docs); ``ERAFLOW_DATA_DIR`` or ./var."""
    return Path(os.environ.get("ERAFLOW_DATA_DIR", "var")).resolve()


def local_files(source: Path) -> list[Path]:
    """Files to load from a folder (not recursive, hidden files left out) or one file."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise FileNotFoundError(f"source {source} does not exist")
    return sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))


def ingest_source(
    source: str,
    wh: Warehouse,
    data_dir: Path,
    run_id: str | None = None,
    progress: Callable[[int, int, FileResult], None] | None = None,
) -> IngestReport:
    """Load every new file of a local folder or an ``sftp://`` inbox.

    Local files that are rejected are copied to the quarantine folder (the source
    folder is the user's and is left as it is); SFTP downloads are moved there, and
    every handled remote file is moved into the inbox's archive folder.
    """
    quarantine = data_dir / "quarantine"
    if not source.startswith("sftp://"):
        return ingest_paths(local_files(Path(source)), wh, quarantine_dir=quarantine,
                            run_id=run_id, move_rejected=False, progress=progress)

    from etl import sftp

    with sftp.sftp_connection_env(source, CLI_SFTP_CONN_ID) as remote:
        landing = data_dir / "landing"
        fetched = sftp.fetch_new_files(landing, conn_id=CLI_SFTP_CONN_ID, inbox=remote.inbox,
                                       pattern=remote.pattern)
        paths = [Path(f.local_path) for f in fetched]
        uris = {Path(f.local_path): f"sftp://{remote.host}:{remote.port}{f.remote_path}"
                for f in fetched}
        report = ingest_paths(paths, wh, quarantine_dir=quarantine, run_id=run_id,
                              move_rejected=True, source_uris=uris, progress=progress)
        sftp.archive_files([f.remote_path for f in fetched], conn_id=CLI_SFTP_CONN_ID,
                           inbox=remote.inbox, archive_dir=remote.archive_dir)
        for path in paths:  # loaded files are in the warehouse; rejected ones in quarantine
            path.unlink(missing_ok=True)
    return report


@dataclass
class Summary:
    files_loaded: int = 0
    files_rejected: int = 0
    claims: int = 0
    total_paid: Decimal = Decimal("0.00")
    total_sequestration: Decimal = Decimal("0.00")
    review_queue_claims: int = 0
    review_queue_at_stake: Decimal = Decimal("0.00")
    checks_passed: int = 0
    checks_failed: int = 0
    checks_warned: int = 0
    checks: list[CheckFigure] = field(default_factory=list)  # each check of the run
    ledger: list[str] = field(default_factory=list)  # the ledger's figures, when loaded
    docs_path: str | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        skipped = sum(c.status == "skipped" for c in self.checks)
        out = [
            f"files loaded              {self.files_loaded}",
            f"files rejected            {self.files_rejected}",
            f"claims                    {self.claims}",
            f"total paid (CLP04)        ${self.total_paid:,.2f}",
            f"sequestration (CO-253)    ${self.total_sequestration:,.2f}",
            f"claims in review queue    {self.review_queue_claims}"
            f" (${self.review_queue_at_stake:,.2f} at stake)",
            *self.ledger,
            f"data-quality checks       {self.checks_passed} passed, {self.checks_failed} failed,"
            f" {self.checks_warned} warnings" + (f", {skipped} skipped" if skipped else ""),
            *check_lines(self.checks),
        ]
        if self.docs_path:
            out.append(f"Data Docs                 {self.docs_path}")
        out.extend(f"note: {n}" for n in self.notes)
        return out


def _one(wh: Warehouse, sql: str, default=None):
    try:
        rows = wh.query(sql)
    except Exception as exc:  # a stage not run yet: its tables are missing
        log.debug("summary query failed: %s", type(exc).__name__)
        return default
    return rows[0] if rows else default


def summarize(wh: Warehouse, run_id: str | None = None, docs_path: str | None = None) -> Summary:
    """Headline figures from the warehouse, for the end of a run: the 835s, the ledger
    when one is loaded, and each check of ``run_id`` (else of the latest run) with its
    status, rows found and dollars at stake. Counts and amounts only, never a patient."""
    s = Summary(docs_path=docs_path)
    row = _one(wh, "select sum(case when status = 'loaded' then 1 else 0 end), "
                   "sum(case when status = 'rejected' then 1 else 0 end) from raw.file_manifest")
    if row:
        s.files_loaded, s.files_rejected = int(row[0] or 0), int(row[1] or 0)
    row = _one(wh, "select count(*), sum(paid_amount), sum(sequestration_amount) "
                   "from marts.fct_claims where not is_duplicate_payment")
    if row:
        s.claims = int(row[0] or 0)
        s.total_paid = Decimal(row[1] or 0).quantize(Decimal("0.01"))
        s.total_sequestration = Decimal(row[2] or 0).quantize(Decimal("0.01"))
    else:
        s.notes.append("marts not built yet (run `eraflow transform`)")
    row = _one(wh, "select count(*), sum(amount_at_stake) from marts.rpt_denial_review_queue")
    if row:
        s.review_queue_claims = int(row[0] or 0)
        s.review_queue_at_stake = Decimal(row[1] or 0).quantize(Decimal("0.01"))
    # The check counts and the per-check lines come from the same run's rows.
    s.checks = check_figures(wh, run_id)
    s.checks_passed = sum(c.status == "passed" for c in s.checks)
    s.checks_failed = sum(c.status in ("failed", "error") for c in s.checks)
    s.checks_warned = sum(c.status == "warning" for c in s.checks)
    s.ledger = ledger_lines(wh)
    return s
