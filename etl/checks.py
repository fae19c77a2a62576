"""Data-quality checks run after dbt: GX Core suites read from ``expectations/``.

Each suite file is data: datasets (a mart table and its columns, or a portable
SELECT over the marts) and checks (one GX expectation each, with the rows it
applies to, a severity and a description written for a biller). See
``expectations/README.md`` for the format and for what each check means.

How the warehouse is validated:

- PostgreSQL: GX's own SQL datasource (``add_postgres``), one query asset per
  dataset, so the expectations run as SQL in the database.
- DuckDB: GX 1.24's SQL datasource is broken on duckdb-engine (every metric
  fails with ``list index out of range``, GX issues #10738 and #11579), so the
  dataset's SELECT runs through the duckdb Python API and GX validates the
  resulting pandas frame. The frame holds the real warehouse rows; money stays
  ``Decimal`` because the frame is built from ``fetchall``, not ``.df()``.

Results go to ``dq.check_results`` (one row per expectation per run) and failing
rows to ``dq.findings`` (keys and dollars only, never patient data). Re-running a
run id replaces that run's rows for the suites run. Only the ``dq`` schema is
written: a failing check never touches raw or mart data.

GX is imported inside ``run_checks`` so that importing this module (the DAG does)
stays cheap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote, urlparse

from etl.warehouse import Warehouse

log = logging.getLogger(__name__)

# The suites ship in the repository next to the package; ERAFLOW_EXPECTATIONS_DIR points
# elsewhere (e.g. an installed copy). Read at call time so tests and the DAG can set it.
SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"

SEVERITIES = ("error", "warning")
OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null")
CENT = Decimal("0.01")

# GX logs hundreds of DEBUG/INFO lines per run (registry, datasource type lookups,
# docs decorators); ours should read like the rest of the pipeline. Only raise the
# bar if nobody configured GX's logger on purpose.
_GX_LOGGER = logging.getLogger("great_expectations")
if _GX_LOGGER.level == logging.NOTSET:
    _GX_LOGGER.setLevel(logging.ERROR)
_TZLOCAL_LOGGER = logging.getLogger("tzlocal")  # GX asks it for the zone of every run id
if _TZLOCAL_LOGGER.level == logging.NOTSET:
    _TZLOCAL_LOGGER.setLevel(logging.WARNING)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_TABLE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_COLUMN_REF = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_PG_URL_VARIABLE = "ERAFLOW_GX_PG_URL"
_FILE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")  # SHA-256 hex digests, as the loader writes


SCOPES = ("all", "run_files")


class SuiteDefinitionError(ValueError):
    """A suite file in ``expectations/`` cannot be used."""


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Condition:
    """One ``[column, operator, value]`` clause; clauses of a list are ANDed."""

    column: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    sql: str
    key: str
    when_columns_exist: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    suite_name: str
    name: str
    title: str
    description: str
    severity: str
    dataset: str
    type: str
    kwargs: dict
    where: tuple[Condition, ...] = ()
    amount_at_stake: str | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    description: str
    datasets: dict[str, Dataset]
    checks: tuple[Check, ...]
    path: Path
    # "run_files": a run scoped to its own files checks only their rows (the suites on the
    # ERA alone); "all": every row, every run (the reconciliation, whose rows change when
    # either side, ERA or ledger, gets a new file).
    scope: str = "all"
    # Tables that must hold rows for the suite to have anything to check (the ledger's,
    # for the reconciliation): without, its checks are skipped, not passed.
    when_rows_exist: tuple[str, ...] = ()


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Finding:
    """One row that failed a check. Keys and dollars only: no names, no member ids."""

    suite_name: str
    expectation_name: str
    severity: str
    record_id: str | None
    claim_id: str | None
    service_line_id: str | None
    payer_id: str | None
    file_id: str | None
    amount_at_stake: Decimal
    observed_value: str


@dataclass
class CheckResult:
    suite_name: str
    expectation_name: str
    description: str
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_amount: Decimal
    title: str = ""
    severity: str = "error"
    status: str = "passed"  # passed | failed | warning | error
    error: str | None = None
    findings: list[Finding] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class SkippedCheck:
    """A check whose dataset needs columns the marts do not have yet."""

    suite_name: str
    expectation_name: str
    description: str
    severity: str
    reason: str


@dataclass
class CheckSummary:
    run_id: str
    results: list[CheckResult]
    skipped: list[SkippedCheck] = field(default_factory=list)
    docs_path: Path | None = None

    @property
    def passed(self) -> int:
        return sum(r.status == "passed" for r in self.results)

    @property
    def failed(self) -> int:
        """Error-severity checks that failed or could not run."""
        return sum(r.status in ("failed", "error") for r in self.results)

    @property
    def warnings(self) -> int:
        """Warning-severity checks that found rows (reported, not failing the run)."""
        return sum(r.status == "warning" for r in self.results)

    @property
    def success(self) -> bool:
        """True when no error-severity check failed; warnings do not fail a run."""
        return self.failed == 0

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]


# ------------------------------------------------------------------------ suite loading


def load_suites(
    directory: Path | str | None = None, names: Iterable[str] | None = None
) -> list[Suite]:
    """Read and check every ``*.json`` suite in ``directory`` (or only ``names``)."""
    directory = Path(directory or os.environ.get("ERAFLOW_EXPECTATIONS_DIR") or SUITES_DIR)
    suites = [_parse_suite(path) for path in sorted(directory.glob("*.json"))]
    if not suites:
        raise SuiteDefinitionError(f"no suite files (*.json) in {directory}")

    if names is None:
        return suites
    wanted = list(names)
    by_name = {s.name: s for s in suites}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SuiteDefinitionError(
            f"unknown suite(s) {', '.join(unknown)}; available: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in dict.fromkeys(wanted)]


def _parse_suite(path: Path) -> Suite:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteDefinitionError(f"{path.name}: not valid JSON ({exc})") from None

    def fail(message: str) -> SuiteDefinitionError:
        return SuiteDefinitionError(f"{path.name}: {message}")

    name = raw.get("suite_name")
    if name != path.stem or not _IDENTIFIER.match(name or ""):
        raise fail(f"suite_name must be an identifier equal to the file stem {path.stem!r}")

    datasets = {}
    for ds_name, ds in (raw.get("datasets") or {}).items():
        if not _IDENTIFIER.match(ds_name):
            raise fail(f"dataset name {ds_name!r} is not a lowercase identifier")
        datasets[ds_name] = _parse_dataset(ds_name, ds, fail)
    if not datasets:
        raise fail("no datasets")

    checks: list[Check] = []
    for item in raw.get("checks") or []:
        check = _parse_check(name, item, datasets, fail)
        if any(c.name == check.name for c in checks):
            raise fail(f"check name {check.name!r} used twice")
        checks.append(check)
    if not checks:
        raise fail("no checks")

    scope = raw.get("scope", "all")
    if scope not in SCOPES:
        raise fail(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    needs_rows = tuple(raw.get("when_rows_exist") or ())
    for table in needs_rows:
        if not _TABLE.match(table):
            raise fail(f"when_rows_exist {table!r} is not schema.table")

    return Suite(
        name=name,
        title=raw.get("title") or name,
        description=raw.get("description") or "",
        datasets=datasets,
        checks=tuple(checks),
        path=path,
        scope=scope,
        when_rows_exist=needs_rows,
    )


def _parse_dataset(name: str, raw: dict, fail: Callable[[str], Exception]) -> Dataset:
    key = raw.get("key")
    if not key or not _IDENTIFIER.match(key):
        raise fail(f"dataset {name!r}: key must name the column that identifies a row")

    needs = tuple(raw.get("when_columns_exist") or ())
    for ref in needs:
        if not _COLUMN_REF.match(ref):
            raise fail(f"dataset {name!r}: when_columns_exist {ref!r} is not schema.table.column")

    if "query" in raw:
        if "table" in raw:
            raise fail(f"dataset {name!r}: give either table or query, not both")
        query = raw["query"]
        sql = "\n".join(query) if isinstance(query, list) else str(query)
        if not sql.lstrip().lower().startswith(("select", "with")):
            raise fail(f"dataset {name!r}: query must be a SELECT")
        if ";" in sql:
            raise fail(f"dataset {name!r}: query must be one statement without ';'")
    else:
        sql = _table_sql(name, raw, fail)

    return Dataset(
        name=name,
        description=raw.get("description") or "",
        sql=sql,
        key=key,
        when_columns_exist=needs,
    )


def _table_sql(name: str, raw: dict, fail: Callable[[str], Exception]) -> str:
    """``select <columns> from <table> [where <filter>]``, the same text on both engines."""
    table = raw.get("table") or ""
    if not _TABLE.match(table):
        raise fail(f"dataset {name!r}: table must be schema.table, got {table!r}")
    columns = raw.get("columns") or []
    if not columns:
        raise fail(f"dataset {name!r}: columns missing")
    fill = raw.get("fill_nulls") or {}

    select = []
    for column in columns:
        if not _IDENTIFIER.match(column):
            raise fail(f"dataset {name!r}: column {column!r} is not a lowercase identifier")
        if column in fill:
            select.append(f"coalesce({column}, {_sql_literal(fill[column])}) as {column}")
        else:
            select.append(column)
    unknown_fill = set(fill) - set(columns)
    if unknown_fill:
        raise fail(f"dataset {name!r}: fill_nulls names unselected columns {sorted(unknown_fill)}")

    sql = "select\n    " + ",\n    ".join(select) + f"\nfrom {table}"
    conditions = _parse_conditions(raw.get("filter") or [], f"dataset {name!r} filter", fail)
    if conditions:
        sql += "\nwhere " + "\n    and ".join(_condition_sql(c) for c in conditions)
    return sql


def _parse_check(
    suite_name: str, raw: dict, datasets: dict[str, Dataset], fail: Callable[[str], Exception]
) -> Check:
    name = raw.get("name") or ""
    if not _IDENTIFIER.match(name):
        raise fail(f"check name {name!r} is not a lowercase identifier")
    where = f"check {name!r}"

    severity = raw.get("severity", "error")
    if severity not in SEVERITIES:
        raise fail(f"{where}: severity must be one of {SEVERITIES}, got {severity!r}")
    dataset = raw.get("dataset")
    if dataset not in datasets:
        raise fail(f"{where}: dataset {dataset!r} is not defined in this suite")
    etype = raw.get("type") or ""
    if not etype.startswith("expect_"):
        raise fail(f"{where}: type must name a GX expectation (expect_...), got {etype!r}")
    kwargs = raw.get("kwargs") or {}
    reserved = {"row_condition", "condition_parser", "result_format", "meta", "severity"}
    if reserved & set(kwargs):
        raise fail(f"{where}: kwargs may not set {sorted(reserved & set(kwargs))}")
    if not raw.get("description"):
        raise fail(f"{where}: a description for a biller is required")
    amount = raw.get("amount_at_stake")
    if amount is not None and not _IDENTIFIER.match(amount):
        raise fail(f"{where}: amount_at_stake must name a column")

    return Check(
        suite_name=suite_name,
        name=name,
        title=raw.get("title") or name,
        description=raw["description"],
        severity=severity,
        dataset=dataset,
        type=etype,
        kwargs=dict(kwargs),
        where=_parse_conditions(raw.get("where") or [], f"{where} where", fail),
        amount_at_stake=amount,
    )


def _parse_conditions(
    raw: list, where: str, fail: Callable[[str], Exception]
) -> tuple[Condition, ...]:
    conditions = []
    for clause in raw:
        if not isinstance(clause, list) or len(clause) not in (2, 3):
            raise fail(f"{where}: each clause is [column, operator, value], got {clause!r}")
        column, op, *rest = clause
        if not isinstance(column, str) or not _IDENTIFIER.match(column):
            raise fail(f"{where}: column {column!r} is not a lowercase identifier")
        if op not in OPERATORS:
            raise fail(f"{where}: operator {op!r} is not one of {OPERATORS}")
        if op in ("is null", "is not null"):
            if rest:
                raise fail(f"{where}: {op!r} takes no value")
            conditions.append(Condition(column, op))
            continue
        if not rest:
            raise fail(f"{where}: {op!r} needs a value")
        value = rest[0]
        if op in ("in", "not in"):
            if not isinstance(value, list) or not value:
                raise fail(f"{where}: {op!r} needs a non-empty list")
            if not all(isinstance(v, (str, int, float)) for v in value):
                raise fail(f"{where}: {op!r} values must be strings or numbers")
            value = tuple(value)
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise fail(f"{where}: value {value!r} must be a string or a number")
        conditions.append(Condition(column, op, value))
    return tuple(conditions)


def _sql_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SuiteDefinitionError(f"cannot write {value!r} as a SQL literal")
    return repr(value)


def _condition_sql(c: Condition) -> str:
    if c.op in ("is null", "is not null"):
        return f"{c.column} {c.op}"
    if c.op in ("in", "not in"):
        return f"{c.column} {c.op} (" + ", ".join(_sql_literal(v) for v in c.value) + ")"
    op = "<>" if c.op == "!=" else "=" if c.op == "==" else c.op
    return f"{c.column} {op} {_sql_literal(c.value)}"


# ------------------------------------------------------------------------------ running


def run_checks(
    wh: Warehouse,
    run_id: str,
    docs_dir: Path | str | None = None,
    suites: Iterable[str] | None = None,
    suites_dir: Path | str | None = None,
    files_of_run: str | None = None,
) -> CheckSummary:
    """Run the expectation suites against the marts and record the outcome in ``dq``.

    ``files_of_run``: a run id. Suites of scope ``run_files`` then check only the rows of
    the 835 files that run loaded, so a scheduled run checks what it brought and each
    finding is recorded once, by the run that loaded its file (history is not checked
    again every hour); suites of scope ``all`` check everything. None checks every row.

    ``docs_dir`` holds the GX file project (``docs_dir/gx/``) whose Data Docs are
    updated with this run; without it GX runs in memory and no docs are built.
    ``suites`` limits the run to those suite names. A check that cannot run (a
    missing mart, a SQL error) is reported as status ``error`` and counts as failed;
    a check whose dataset needs columns the marts do not have yet is skipped.
    """
    selected = load_suites(suites_dir, [suites] if isinstance(suites, str) else suites)
    checked_at = datetime.now(timezone.utc).replace(tzinfo=None)
    docs_dir = Path(docs_dir).resolve() if docs_dir is not None else None
    log.info(
        "checks run %s: %d suite(s) on %s warehouse %s",
        run_id, len(selected), wh.kind, wh.url,
    )

    results: list[CheckResult] = []
    skipped: list[SkippedCheck] = []
    docs_path = None
    with _quiet_gx(), _pg_url_in_environment(wh):
        planned = [(suite, _gx_expectations(suite)) for suite in selected]
        catalog = _mart_columns(wh)
        run_files = _files_loaded_by(wh, files_of_run) if files_of_run is not None else None
        if run_files is not None:
            log.info("checks run %s: suites of scope run_files check the %d file(s) run %s "
                     "loaded", run_id, len(run_files), files_of_run)
        gx_run = _GxRun(wh, run_id, checked_at, docs_dir)

        for suite, datasets in planned:
            idle = _nothing_to_check(wh, suite, run_files, files_of_run)
            for dataset, checks, expectations in datasets:
                missing = [c for c in dataset.when_columns_exist if c not in catalog]
                if idle or missing:
                    reason = idle or f"needs {', '.join(missing)}, not in the warehouse yet"
                    for check in checks:
                        skipped.append(SkippedCheck(
                            suite.name, check.name, check.description, check.severity, reason
                        ))
                        log.info("check %s.%s skipped: %s", suite.name, check.name, reason)
                    continue
                if run_files is not None and suite.scope == "run_files":
                    dataset = _scoped(dataset, run_files)
                results.extend(gx_run.validate(suite, dataset, checks, expectations))

        try:
            _write_results(wh, run_id, [s.name for s in selected], results, skipped, checked_at)
            if docs_dir is not None:
                docs_path = gx_run.docs_index()
        finally:
            gx_run.close()

    summary = CheckSummary(run_id=run_id, results=results, skipped=skipped, docs_path=docs_path)
    log.info(
        "checks run %s: %d passed, %d failed, %d warning(s), %d skipped; "
        "$%s at stake in failed checks",
        run_id, summary.passed, summary.failed, summary.warnings, len(skipped),
        sum((r.unexpected_amount for r in results if r.status == "failed"), Decimal("0.00")),
    )
    return summary


class _GxRun:
    """One GX context for one run: validates each dataset, updates Data Docs, cleans up."""

    def __init__(self, wh: Warehouse, run_id: str, checked_at: datetime, docs_dir: Path | None):
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.wh = wh
        self.run_identifier = RunIdentifier(
            run_name=run_id, run_time=checked_at.replace(tzinfo=timezone.utc)
        )
        if docs_dir is None:
            self.context = gx.get_context(mode="ephemeral")
        else:
            docs_dir.mkdir(parents=True, exist_ok=True)
            self.context = gx.get_context(mode="file", project_root_dir=str(docs_dir))
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self.context.enable_analytics(False)  # also saves the variables of a file context
        self.with_docs = docs_dir is not None

        if wh.kind == "postgres":
            # The URL stays a ${...} reference in great_expectations.yml, so no password
            # is ever written to the project directory.
            self.datasource = self.context.data_sources.add_or_update_postgres(
                "eraflow_postgres", connection_string="${" + _PG_URL_VARIABLE + "}"
            )
        else:
            self.datasource = self.context.data_sources.add_or_update_pandas("eraflow_duckdb")

    # ---- validating

    def validate(
        self, suite: Suite, dataset: Dataset, checks: list[Check], expectations: list[Any]
    ) -> list[CheckResult]:
        gx = self.gx
        name = f"{suite.name}.{dataset.name}"
        try:
            batch_definition, batch_parameters, rows_for_keys = self._batch(name, dataset)
            gx_suite = self.context.suites.add_or_update(
                gx.ExpectationSuite(name=name, expectations=expectations)
            )
            definition = self.context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=name, data=batch_definition, suite=gx_suite)
            )
            # No UpdateDataDocsAction: it rebuilds the whole site after every checkpoint
            # (a third of the checks' time on 50 MB); docs_index() builds it once.
            checkpoint = self.context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=name,
                    validation_definitions=[definition],
                    actions=[],
                    result_format={
                        "result_format": "COMPLETE",
                        "unexpected_index_column_names": [dataset.key],
                    },
                )
            )
            outcome = checkpoint.run(
                batch_parameters=batch_parameters, run_id=self.run_identifier
            )
            (suite_result,) = outcome.run_results.values()
        except Exception as exc:  # the dataset could not be read or validated at all
            message = _one_line(exc)
            log.error("checks %s: dataset could not be validated: %s", name, message)
            return [_error_result(check, message) for check in checks]

        by_check = {r.expectation_config.meta.get("eraflow_check"): r for r in suite_result.results}
        results = []
        for check in checks:
            try:
                result = _check_result(check, dataset, by_check.get(check.name), rows_for_keys)
            except Exception as exc:  # e.g. the failing rows could not be read back
                result = _error_result(check, f"reading the failing rows: {_one_line(exc)}")
            if result.status == "error":
                log.error("check %s.%s could not run: %s", suite.name, check.name, result.error)
            else:
                log.log(
                    logging.INFO if result.status == "passed" else logging.WARNING,
                    "check %s.%s %s: %d of %d row(s) unexpected, $%s at stake",
                    suite.name, check.name, result.status, result.unexpected_count,
                    result.element_count, result.unexpected_amount,
                )
            results.append(result)
        return results

    def _batch(self, asset_name: str, dataset: Dataset):
        """The GX batch definition, its run-time parameters and a lookup of full rows by key."""
        if asset_name in self.datasource.get_asset_names():
            self.datasource.delete_asset(asset_name)
        key = dataset.key

        if self.wh.kind == "postgres":
            # GX 1.24 refuses a query asset that does not start with SELECT, so a dataset
            # written with CTEs (WITH ...) is wrapped in a derived table.
            query = f"select * from (\n{dataset.sql}\n) as dataset"
            asset = self.datasource.add_query_asset(asset_name, query=query)
            batch_definition = asset.add_batch_definition_whole_table("whole")

            def rows_for_keys(keys: list) -> dict:
                if not keys:
                    return {}
                sql = (
                    f"select * from ({dataset.sql.replace('%', '%%')}) as checked_rows "
                    f"where checked_rows.{key} = any(%s)"
                )
                return {row[key]: row for row in _fetch_dicts(self.wh, sql, (list(keys),))}

            return batch_definition, None, rows_for_keys

        frame = _frame(self.wh, dataset.sql)
        asset = self.datasource.add_dataframe_asset(asset_name)
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")

        def rows_for_keys(keys: list) -> dict:
            if not keys:
                return {}
            picked = frame[frame[key].isin(list(keys))]
            return {row[key]: row for row in picked.to_dict("records")}

        return batch_definition, {"dataframe": frame}, rows_for_keys

    def close(self) -> None:
        """Close GX's PostgreSQL connections: a DAG worker outlives many runs.

        GX keeps a SQLAlchemy pool on each datasource object and on its execution engine,
        and the context stays reachable after the run (GX's project manager holds it), so
        the pools would keep their connections open until the process ends.
        """
        if self.wh.kind != "postgres":
            return
        datasources = [self.datasource, *self.context.data_sources.all().values()]
        for datasource in datasources:
            try:
                for engine in (
                    getattr(datasource, "_engine", None),
                    getattr(getattr(datasource, "_execution_engine", None), "engine", None),
                ):
                    if engine is not None and hasattr(engine, "dispose"):
                        engine.dispose()
            except Exception as exc:  # best effort; the results are already written
                log.warning("checks: could not close GX connections: %s", _one_line(exc))
        # Copies of the datasource made during the run close their pools when collected.
        gc.collect()

    # ---- docs

    def docs_index(self) -> Path | None:
        """Build the Data Docs site once, with every validation of the run, and return
        its index page (None when GX cannot say where it is)."""
        try:
            self.context.build_data_docs()
        except Exception as exc:
            log.error("checks: Data Docs not built: %s", _one_line(exc))
            return None
        try:
            sites = self.context.get_docs_sites_urls()
        except Exception as exc:
            log.error("checks: Data Docs location unknown: %s", _one_line(exc))
            return None
        for site in sites:
            url = site.get("site_url") or ""
            if url.startswith("file://"):
                path = Path(unquote(urlparse(url).path))
                return path if path.exists() else None
        return None


def _gx_expectations(suite: Suite) -> list[tuple[Dataset, list[Check], list[Any]]]:
    """GX expectations for every check of the suite, grouped by dataset (order kept).

    Built before any GX context exists, so a bad suite file stops the run before
    anything is written.
    """
    from great_expectations.expectations.registry import get_expectation_impl

    grouped: dict[str, tuple[Dataset, list[Check], list[Any]]] = {}
    for check in suite.checks:
        where = f"{suite.path.name}: check {check.name!r}"
        try:
            impl = get_expectation_impl(check.type)
        except Exception:
            raise SuiteDefinitionError(f"{where}: unknown expectation {check.type!r}") from None
        try:
            expectation = impl(
                **check.kwargs,
                row_condition=_gx_condition(check.where),
                description=check.title,
                notes=check.description,
                severity="critical" if check.severity == "error" else "warning",
                meta={"eraflow_check": check.name, "severity": check.severity},
            )
        except Exception as exc:
            raise SuiteDefinitionError(f"{where}: {type(exc).__name__}: {exc}") from None
        dataset = suite.datasets[check.dataset]
        entry = grouped.setdefault(dataset.name, (dataset, [], []))
        entry[1].append(check)
        entry[2].append(expectation)
    return list(grouped.values())


def _check_result(
    check: Check, dataset: Dataset, gx_result: Any, rows_for_keys: Callable[[list], dict]
) -> CheckResult:
    if gx_result is None:
        return _error_result(check, "GX returned no result for this expectation")
    raised = _raised_exception(gx_result.exception_info)
    if raised:
        return _error_result(check, raised)

    result = gx_result.result or {}
    element_count = int(result.get("element_count") or 0)
    unexpected_count = int(result.get("unexpected_count") or 0)
    index_list = result.get("unexpected_index_list") or []

    findings = []
    if index_list:
        rows = rows_for_keys([entry.get(dataset.key) for entry in index_list])
        for entry in index_list:
            record_id = entry.get(dataset.key)
            row = rows.get(record_id, {})
            amount = _money(row.get(check.amount_at_stake) if check.amount_at_stake else None)
            findings.append(Finding(
                suite_name=check.suite_name,
                expectation_name=check.name,
                severity=check.severity,
                record_id=_text(record_id),
                claim_id=_text(row.get("claim_id")),
                service_line_id=_text(row.get("service_line_id")),
                payer_id=_text(row.get("payer_id")),
                file_id=_text(row.get("file_id")),
                amount_at_stake=amount,
                observed_value="; ".join(
                    f"{k}={_text(v)}" for k, v in entry.items() if k != dataset.key
                ),
            ))

    success = bool(gx_result.success)
    status = "passed" if success else ("failed" if check.severity == "error" else "warning")
    return CheckResult(
        suite_name=check.suite_name,
        expectation_name=check.name,
        description=check.description,
        success=success,
        element_count=element_count,
        unexpected_count=unexpected_count,
        unexpected_amount=sum((f.amount_at_stake for f in findings), Decimal("0.00")),
        title=check.title,
        severity=check.severity,
        status=status,
        findings=findings,
    )


def _error_result(check: Check, message: str) -> CheckResult:
    return CheckResult(
        suite_name=check.suite_name,
        expectation_name=check.name,
        description=check.description,
        success=False,
        element_count=0,
        unexpected_count=0,
        unexpected_amount=Decimal("0.00"),
        title=check.title,
        severity=check.severity,
        status="error",
        error=message,
    )


def _raised_exception(info: Any) -> str | None:
    """GX reports an expectation that could not run in ``exception_info``, not by raising."""
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        if info.get("raised_exception"):
            return _one_line(info.get("exception_message") or "expectation raised an exception")
        return None
    if isinstance(info, dict):  # keyed by metric configuration
        for value in info.values():
            found = _raised_exception(value if isinstance(value, dict) else getattr(
                value, "__dict__", None
            ))
            if found:
                return found
    return None


def _gx_condition(conditions: tuple[Condition, ...]):
    """Our ``[column, op, value]`` clauses as GX 1.x Condition objects (pandas and SQL)."""
    if not conditions:
        return None
    from great_expectations.expectations.row_conditions import AndCondition, Column

    parts = []
    for c in conditions:
        column = Column(c.column)
        if c.op == "is null":
            parts.append(column.is_null())
        elif c.op == "is not null":
            parts.append(column.is_not_null())
        elif c.op == "in":
            parts.append(column.is_in(list(c.value)))
        elif c.op == "not in":
            parts.append(column.is_not_in(list(c.value)))
        elif c.op == "==":
            parts.append(column == c.value)
        elif c.op == "!=":
            parts.append(column != c.value)
        elif c.op == "<":
            parts.append(column < c.value)
        elif c.op == "<=":
            parts.append(column <= c.value)
        elif c.op == ">":
            parts.append(column > c.value)
        else:
            parts.append(column >= c.value)
    return parts[0] if len(parts) == 1 else AndCondition(conditions=parts)


# ---------------------------------------------------------------------------- warehouse


def _read(wh: Warehouse, sql: str, params: tuple | list = ()) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one query; DECIMAL comes back as ``Decimal``.

    DuckDB is opened read-write on purpose: in the CLI and the DAG, dbt (run in-process
    through dbtRunner) still holds a read-write connection to the same file, and DuckDB
    refuses a second connection in one process with a different configuration
    (``Warehouse.query`` would open it read-only).
    """
    with wh.connect() as con:
        cur = con.cursor()
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()


def _frame(wh: Warehouse, sql: str):
    import pandas as pd

    names, rows = _read(wh, sql)
    return pd.DataFrame(rows, columns=names)


def _nothing_to_check(wh: Warehouse, suite: Suite, run_files: list[str] | None,
                      files_of_run: str | None) -> str | None:
    """Why the suite has nothing to check on this run, or None: a run scoped to its
    files that loaded none (for a ``run_files`` suite), or an empty (or missing) table
    of ``when_rows_exist``. Its checks are then skipped with this reason: "passed" would
    claim a look at rows that are not there."""
    if run_files == [] and suite.scope == "run_files":
        return f"run {files_of_run} loaded no new 835 file (check every row: --check-all)"
    for table in suite.when_rows_exist:
        try:
            _, rows = _read(wh, f"select 1 from {table} limit 1")
        except Exception:  # the table does not exist yet
            rows = []
        if not rows:
            return f"no rows in {table} yet"
    return None


def _files_loaded_by(wh: Warehouse, run_id: str) -> list[str]:
    """The file ids of the 835 files that run ``run_id`` loaded."""
    p = "?" if wh.kind == "duckdb" else "%s"
    _, rows = _read(wh, "select file_id from raw.file_manifest "
                        f"where run_id = {p} and status = 'loaded' order by file_id", [run_id])
    return [row[0] for row in rows]


def _scoped(dataset: Dataset, file_ids: list[str]) -> Dataset:
    """The dataset cut to the rows of ``file_ids``. The ids (SHA-256 hex digests) are
    checked and written into the SQL as literals; the run id never is (Airflow's hold
    colons, which SQLAlchemy would take for bind parameters)."""
    if not all(_FILE_ID.match(f) for f in file_ids):
        raise ValueError("a file id of the run is not a plain identifier")
    where = f"in_run.file_id in ({', '.join(repr(f) for f in file_ids)})" if file_ids else "false"
    sql = f"select * from (\n{dataset.sql}\n) as in_run\nwhere {where}"
    return dataclasses.replace(dataset, sql=sql)


def _mart_columns(wh: Warehouse) -> set[str]:
    """``schema.table.column`` of every column in the marts schema."""
    _, rows = _read(
        wh,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema = 'marts'",
    )
    return {f"{s}.{t}.{c}".lower() for s, t, c in rows}


def _fetch_dicts(wh: Warehouse, sql: str, params: tuple) -> list[dict]:
    names, rows = _read(wh, sql, params)
    return [dict(zip(names, row)) for row in rows]


_DQ_DDL = (
    "create schema if not exists dq",
    """
    create table if not exists dq.check_results (
        run_id varchar not null,
        suite_name varchar not null,
        expectation_name varchar not null,
        description varchar,
        success boolean,
        element_count bigint,
        unexpected_count bigint,
        unexpected_amount decimal(18, 2),
        checked_at timestamp,
        title varchar,
        severity varchar,
        status varchar,
        error varchar
    )
    """,
    """
    create table if not exists dq.findings (
        run_id varchar not null,
        suite_name varchar not null,
        expectation_name varchar not null,
        claim_id varchar,
        service_line_id varchar,
        payer_id varchar,
        file_id varchar,
        amount_at_stake decimal(18, 2),
        severity varchar,
        record_id varchar,
        observed_value varchar,
        checked_at timestamp
    )
    """,
)


def _write_results(
    wh: Warehouse,
    run_id: str,
    suite_names: list[str],
    results: list[CheckResult],
    skipped: list[SkippedCheck],
    checked_at: datetime,
) -> None:
    """Replace this run's rows for these suites in one transaction; only ``dq`` is written."""
    p = "?" if wh.kind == "duckdb" else "%s"
    in_suites = ", ".join([p] * len(suite_names))

    result_rows = [
        (
            run_id, r.suite_name, r.expectation_name, r.description, r.success,
            r.element_count, r.unexpected_count, r.unexpected_amount, checked_at,
            r.title, r.severity, r.status, r.error,
        )
        for r in results
    ] + [
        (
            run_id, s.suite_name, s.expectation_name, s.description, None,
            None, None, None, checked_at, None, s.severity, "skipped", s.reason,
        )
        for s in skipped
    ]
    finding_rows = [
        (
            run_id, f.suite_name, f.expectation_name, f.claim_id, f.service_line_id,
            f.payer_id, f.file_id, f.amount_at_stake, f.severity, f.record_id,
            f.observed_value, checked_at,
        )
        for r in results
        for f in r.findings
    ]

    with wh.connect() as con:
        cur = con.cursor() if wh.kind == "postgres" else con
        if wh.kind == "duckdb":
            cur.execute("begin transaction")
        try:
            for statement in _DQ_DDL:
                cur.execute(statement)
            for table in ("dq.check_results", "dq.findings"):
                cur.execute(
                    f"delete from {table} where run_id = {p} and suite_name in ({in_suites})",
                    [run_id, *suite_names],
                )
            if result_rows:
                cur.executemany(
                    "insert into dq.check_results (run_id, suite_name, expectation_name, "
                    "description, success, element_count, unexpected_count, "
                    "unexpected_amount, checked_at, title, severity, status, error) "
                    f"values ({', '.join([p] * 13)})",
                    result_rows,
                )
            if finding_rows:
                _insert_findings(wh, con, cur, finding_rows)
            con.commit()
        except Exception:
            con.rollback()
            raise
    log.info(
        "checks run %s: wrote %d check result(s) and %d finding(s) to dq",
        run_id, len(result_rows), len(finding_rows),
    )


_FINDING_COLUMNS = (
    "run_id", "suite_name", "expectation_name", "claim_id", "service_line_id", "payer_id",
    "file_id", "amount_at_stake", "severity", "record_id", "observed_value", "checked_at",
)


def _insert_findings(wh: Warehouse, con, cur, rows: list[tuple]) -> None:
    """Append findings in bulk: a check can fail on hundreds of thousands of rows, and a
    row-by-row ``executemany`` took seconds per ten thousand.

    DuckDB reads them from a data frame of text columns; the amount travels as the text
    of its Decimal and is cast to decimal(18, 2) in SQL, so it never passes through a
    float. PostgreSQL gets multi-row VALUES lists (psycopg2's ``execute_values``).
    """
    columns = ", ".join(_FINDING_COLUMNS)
    if wh.kind == "postgres":
        from psycopg2.extras import execute_values

        execute_values(cur, f"insert into dq.findings ({columns}) values %s", rows,
                       page_size=5000)
        return

    import pandas as pd

    # Every value as text (or None), each column cast back to its type in SQL.
    frame = pd.DataFrame(
        [tuple(None if v is None else str(v) for v in row) for row in rows],
        columns=list(_FINDING_COLUMNS), dtype=object,
    )
    types = {"amount_at_stake": "decimal(18, 2)", "checked_at": "timestamp"}
    select = ", ".join(f"cast({c} as {types.get(c, 'varchar')})" for c in _FINDING_COLUMNS)
    con.register("_eraflow_findings", frame)
    try:
        con.execute(f"insert into dq.findings ({columns}) select {select} from _eraflow_findings")
    finally:
        con.unregister("_eraflow_findings")


# -------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet_gx() -> Iterator[None]:
    """Keep GX's log lines, deprecation and pandas warnings out of our output while it runs."""
    import great_expectations  # noqa: F401 - creates GX's loggers

    # Some GX modules pin their own logger to INFO (data_context/types/base.py logs every
    # ephemeral docs directory it creates): let them inherit the package level instead.
    # data_context_variables.py names its logger by file path, outside the package tree.
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if name.startswith("great_expectations."):
            if logger.level != logging.NOTSET and logger.level < _GX_LOGGER.getEffectiveLevel():
                logger.setLevel(logging.NOTSET)
        elif f"{os.sep}great_expectations{os.sep}" in name and logger.level == logging.NOTSET:
            logger.setLevel(_GX_LOGGER.getEffectiveLevel())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


@contextlib.contextmanager
def _pg_url_in_environment(wh: Warehouse) -> Iterator[None]:
    """Expose the PostgreSQL URL to GX's ``${...}`` substitution for the run only."""
    if wh.kind != "postgres":
        yield
        return
    before = os.environ.get(_PG_URL_VARIABLE)
    # The check queries scan and aggregate whole marts. Their filters are correlated (a
    # dataset's own WHERE and the check's row condition name the same column), so the
    # planner can expect one row where thousands come, pick a nested loop over an
    # aggregate and take minutes (seen on a 50 MB warehouse); hash joins are always right
    # here, and JIT only adds compile time to such queries.
    os.environ[_PG_URL_VARIABLE] = (wh.sqlalchemy_url
                                    + "?options=-c%20enable_nestloop%3Doff%20-c%20jit%3Doff")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_PG_URL_VARIABLE, None)
        else:
            os.environ[_PG_URL_VARIABLE] = before


def _money(value: Any) -> Decimal:
    """A Decimal in cents. Our datasets hand over Decimals (DuckDB and psycopg2 both
    fetch decimal(18,2) as Decimal); anything else goes through its text form, so a
    float is never added up as a float."""
    if _missing(value):
        return Decimal("0.00")
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT)


def _text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def _missing(value: Any) -> bool:
    """None, or pandas' NaN / NA / NaT standing in for a SQL null."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def _one_line(value: Any) -> str:
    """An error as one short line; SQLAlchemy's echo of the whole statement is cut off."""
    text = " ".join(str(value).split())
    return text.split(" [SQL: ")[0][:500]
