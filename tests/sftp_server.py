"""Test helpers around the loopback SFTP server in ``etl.sftp_server``.

The server itself lives in the package so ``make demo`` and the tests run the
same code; this module adds what tests need on top: a served tree with an
``inbox/`` folder, publishing the server as the Airflow connection ``sftp_era``,
and client key pairs for key-based logins.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterable

from etl.sftp_server import LoopbackSftpServer, generate_host_key, public_key_line

__all__ = [
    "LoopbackSftpServer",
    "SftpFixture",
    "generate_host_key",
    "public_key_line",
    "write_client_key",
]

USER = "era"
PASSWORD = "era-test-password"


class SftpFixture:
    """A running loopback server plus the paths and connection a test needs."""

    def __init__(self, server: LoopbackSftpServer, inbox: str = "/inbox") -> None:
        self.server = server
        self.inbox = inbox
        self.inbox_dir = server.root / inbox.lstrip("/")
        self.inbox_dir.mkdir(parents=True, exist_ok=True)

    @property
    def archive_dir(self) -> Path:
        return self.inbox_dir / "archive"

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    @property
    def host_key_line(self) -> str:
        return self.server.host_key_line

    def put(self, *files: Path, names: Iterable[str] | None = None) -> list[Path]:
        """Drop local files into the inbox (optionally under other names)."""
        names = list(names) if names is not None else [f.name for f in files]
        out = []
        for src, name in zip(files, names, strict=True):
            dst = self.inbox_dir / name
            shutil.copyfile(src, dst)
            out.append(dst)
        return out

    def put_bytes(self, name: str, data: bytes) -> Path:
        dst = self.inbox_dir / name
        dst.write_bytes(data)
        return dst

    def inbox_files(self) -> list[str]:
        return sorted(p.name for p in self.inbox_dir.iterdir() if p.is_file())

    def archived_files(self) -> list[str]:
        if not self.archive_dir.exists():
            return []
        return sorted(p.name for p in self.archive_dir.iterdir() if p.is_file())

    def connection_json(self, **extra: str) -> str:
        """``AIRFLOW_CONN_*`` JSON for this server: password login, host key pinned."""
        extra = dict(extra)
        if extra.get("no_host_key_check") != "true":
            extra.setdefault("host_key", self.host_key_line)
        return json.dumps({
            "conn_type": "sftp",
            "host": self.server.host,
            "port": self.port,
            "login": self.server.username,
            "password": self.server.password,
            "extra": extra,
        })

    def url(self, **params: str) -> str:
        return self.server.url(self.inbox, **params)


def write_client_key(folder: Path) -> tuple[Path, str]:
    """A new ed25519 client key written as an OpenSSH private key file; (path, public line)."""
    key = generate_host_key()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "id_ed25519"
    key.write_private_key(str(path))
    path.chmod(0o600)
    return path, public_key_line(key)
