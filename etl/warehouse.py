"""Where the data goes: a DuckDB file (the default) or a PostgreSQL database.

A warehouse is named by one string so that the CLI, the DAG and the tests agree:
a filesystem path means DuckDB, a ``postgresql://`` URL means PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlparse

DEFAULT_DUCKDB = "var/warehouse.duckdb"


class WarehouseError(RuntimeError):
    """The warehouse string cannot be used."""


@dataclass(frozen=True)
class Warehouse:
    kind: str  # "duckdb" or "postgres"
    path: Path | None = None  # DuckDB file
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    dbname: str = "postgres"

    @classmethod
    def from_url(cls, value: str | os.PathLike | None) -> "Warehouse":
        value = str(value or os.environ.get("ERAFLOW_WAREHOUSE") or DEFAULT_DUCKDB)
        if value.startswith(("postgresql://", "postgres://", "postgresql+psycopg2://")):
            url = urlparse(value)
            return cls(
                kind="postgres",
                host=url.hostname or "127.0.0.1",
                port=url.port or 5432,
                user=unquote(url.username or "postgres"),
                password=unquote(url.password or ""),
                dbname=(url.path or "/postgres").lstrip("/") or "postgres",
            )
        if "://" in value and not value.startswith("duckdb://"):
            raise WarehouseError(f"unsupported warehouse URL scheme in {value.split('://')[0]!r}")
        path = Path(value.removeprefix("duckdb://")).expanduser().resolve()
        return cls(kind="duckdb", path=path)

    @property
    def url(self) -> str:
        """The warehouse as a string (password left out)."""
        if self.kind == "duckdb":
            return str(self.path)
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    @property
    def sqlalchemy_url(self) -> str:
        if self.kind == "duckdb":
            return f"duckdb:///{self.path}"
        auth = self.user + (f":{self.password}" if self.password else "")
        return f"postgresql+psycopg2://{auth}@{self.host}:{self.port}/{self.dbname}"

    def dbt_env(self) -> dict[str, str]:
        """Environment read by ``dbt_project/profiles.yml``."""
        if self.kind == "duckdb":
            return {"ERAFLOW_DBT_TARGET": "duckdb", "ERAFLOW_DUCKDB_PATH": str(self.path)}
        return {
            "ERAFLOW_DBT_TARGET": "postgres",
            "ERAFLOW_PG_HOST": self.host,
            "ERAFLOW_PG_PORT": str(self.port),
            "ERAFLOW_PG_USER": self.user,
            "ERAFLOW_PG_PASSWORD": self.password,
            "ERAFLOW_PG_DBNAME": self.dbname,
        }

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        """A DB-API connection; closed on exit. DuckDB allows one writer process at a time."""
        if self.kind == "duckdb":
            import duckdb

            assert self.path is not None
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.path), read_only=read_only)
        else:
            import psycopg2

            con = psycopg2.connect(
                host=self.host, port=self.port, user=self.user,
                password=self.password or None, dbname=self.dbname,
            )
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: tuple | list | None = None) -> list[tuple]:
        """Run one read query and return all rows."""
        # Read-write even for reads: DuckDB refuses a read-only connection to a file that
        # this process (an in-process dbt run, say) already holds read-write.
        with self.connect() as con:
            cur = con if self.kind == "duckdb" else con.cursor()
            cur.execute(sql, params or ())
            return cur.fetchall()

    def frame(self, sql: str):
        """Run one read query and return a pandas DataFrame (Decimal money stays Decimal)."""
        import pandas as pd

        with self.connect() as con:
            cur = con if self.kind == "duckdb" else con.cursor()
            cur.execute(sql)
            cols = [d[0] for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=cols)
