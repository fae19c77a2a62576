"""`dbt docs generate` works, and every mart and column finance reads is documented.

The warehouse is the hand-written 835 set of test_dbt_build, built by ``dbt build``;
``dbt docs generate`` then reads the database's catalog. Its catalog.json (what the
database holds) is walked against manifest.json (what the yml files say): every
model of schema ``marts`` is in the catalog, states its grain, says how it is
materialized, and every column the database has carries a description; money
columns say their unit. A failure lists every gap at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etl.transform import PROJECT_DIR, run_dbt
from etl.warehouse import Warehouse
from test_dbt_build import fresh_pg_wh, sample_files, warehouse, write_raw  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MONEY_TYPES = ("decimal(18,2)", "numeric(18,2)")


def docs_generate(wh: Warehouse, target: Path) -> tuple[dict, dict]:
    """``dbt docs generate`` as a subprocess (run_dbt has no docs command); returns the
    manifest and the catalog it wrote."""
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run(
        [str(dbt), "docs", "generate", "--project-dir", str(PROJECT_DIR),
         "--profiles-dir", str(PROJECT_DIR), "--target-path", str(target),
         "--log-path", str(target / "logs"), "--no-use-colors", "--no-version-check"],
        env={**os.environ, **wh.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    assert not catalog.get("errors"), catalog["errors"]
    return manifest, catalog


def mart_models(manifest: dict) -> dict[str, dict]:
    return {
        unique_id: node for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }


def documentation_gaps(manifest: dict, catalog: dict) -> list[str]:
    """One line per undocumented mart, column, or money column without its unit."""
    gaps = []
    for unique_id, node in sorted(mart_models(manifest).items()):
        name = node["name"]
        description = node.get("description") or ""
        if "Grain:" not in description:
            gaps.append(f"{name}: description does not state the grain")
        if "Materialized:" not in description:
            gaps.append(f"{name}: description does not say how it is materialized")
        entry = catalog["nodes"].get(unique_id)
        if entry is None:
            gaps.append(f"{name}: not in catalog.json")
            continue
        documented = {
            column.lower(): spec for column, spec in node["columns"].items()
        }
        for column, spec in entry["columns"].items():
            doc = documented.get(column.lower())
            if doc is None or not (doc.get("description") or "").strip():
                gaps.append(f"{name}.{column}: no description")
                continue
            declared = (doc.get("data_type") or "").replace(" ", "").lower()
            text = doc["description"].lower()
            if declared in MONEY_TYPES and "dollar" not in text:
                gaps.append(f"{name}.{column}: money column without its unit (dollars)")
        for column in documented:
            if column not in {c.lower() for c in entry["columns"]}:
                gaps.append(f"{name}.{column}: documented but not in the table")
    return gaps


def test_docs_generate_lists_every_mart_documented(warehouse: Warehouse,
                                                   tmp_path: Path) -> None:
    write_raw(warehouse, sample_files())
    result = run_dbt(warehouse, command="build", quiet=True)
    assert result.success, result.failures

    manifest, catalog = docs_generate(warehouse, tmp_path / "target")

    marts = mart_models(manifest)
    names = {node["name"] for node in marts.values()}
    assert {"fct_claims", "fct_adjustments", "rpt_sequestration_monthly",
            "rpt_denial_review_queue", "rec_remittances"} <= names
    assert set(marts) <= set(catalog["nodes"])

    # fct_claims: every column the database has, described in the yml.
    claims = next(uid for uid, node in marts.items() if node["name"] == "fct_claims")
    catalog_columns = {c.lower() for c in catalog["nodes"][claims]["columns"]}
    assert {"claim_id", "paid_amount", "sequestration_amount", "is_duplicate_payment"} \
        <= catalog_columns
    assert all(
        (marts[claims]["columns"].get(c) or {}).get("description")
        for c in catalog_columns
    )

    gaps = documentation_gaps(manifest, catalog)
    assert not gaps, "\n".join(gaps)

    # The exposures name the BI-facing marts they read.
    exposures = manifest["exposures"]
    assert exposures
    for exposure in exposures.values():
        assert exposure["owner"].get("name") or exposure["owner"].get("email")
        assert exposure["maturity"] in ("low", "medium", "high")
        assert exposure["depends_on"]["nodes"]
    read = {uid for e in exposures.values() for uid in e["depends_on"]["nodes"]}
    assert {uid for uid, node in marts.items()
            if node["name"].startswith(("rpt_", "rec_"))} <= read
