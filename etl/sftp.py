"""Fetch 835 files from a payer's SFTP inbox and archive them once they are handled.

The remote side is driven through the Airflow SFTP provider's ``SFTPHook`` (paramiko),
so the DAG and ``eraflow run --source sftp://...`` share one code path and one way of
naming a server: an Airflow connection (default id ``sftp_era``).

The life of a remote file:

1. :func:`fetch_new_files` lists the inbox and downloads each regular file into a
   local landing directory, under a temporary name that is renamed once the bytes
   are all there, so a half-written file is never handed to the loader.
2. The loader loads, skips (same bytes seen before) or rejects it.
3. :func:`archive_files` renames it on the server into the archive folder
   (``<inbox>/archive`` unless configured), so the next listing no longer sees it.
   If the load step fails, nothing is archived and the next run tries again; the
   loader's content-hash ledger makes that retry harmless.

Host keys are always verified (the provider's default since SFTP provider 7):
pin the server key in the connection's ``host_key`` extra or point at a
``known_hosts`` file. ``no_host_key_check`` is honoured only when asked for.

Logs name files and count them; file contents never reach a log.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import posixpath
import stat
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "sftp_era"
DEFAULT_INBOX = "/inbox"
DEFAULT_ARCHIVE = "archive"
DEFAULT_PATTERN = "*"

# Names senders give to files still being uploaded; such files are left alone.
IN_PROGRESS_SUFFIXES = (".part", ".partial", ".filepart", ".tmp", ".uploading")

_HOST_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)


class SftpError(RuntimeError):
    """The SFTP server could not be used; the message says why, without secrets."""


class SftpHostKeyError(SftpError):
    """The server's host key is unknown or does not match the pinned one."""


@dataclass(frozen=True)
class RemoteFile:
    """A regular file waiting in the inbox."""

    path: str
    name: str
    size: int
    mtime: int


@dataclass(frozen=True)
class FetchedFile:
    """A remote file and the local copy it was downloaded to (XCom friendly)."""

    remote_path: str
    local_path: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> "FetchedFile":
        return cls(remote_path=value["remote_path"], local_path=value["local_path"],
                   size=int(value["size"]))


@dataclass(frozen=True)
class SftpSource:
    """An SFTP inbox named by an ``sftp://`` URL, ready to hand to :func:`fetch_new_files`."""

    conn_id: str
    inbox: str
    archive_dir: str
    pattern: str
    host: str
    port: int
    login: str
    connection_json: str = field(repr=False)  # holds the password: never log it

    @property
    def env_var(self) -> str:
        return connection_env_var(self.conn_id)

    @property
    def display(self) -> str:
        """``sftp://user@host:port/inbox``: safe to log."""
        return f"sftp://{self.login}@{self.host}:{self.port}{self.inbox}"


# -- settings --------------------------------------------------------------------------


def settings_from_env() -> dict[str, Any]:
    """Inbox settings from ``ERAFLOW_SFTP_*`` (what the DAG uses)."""
    return {
        "conn_id": os.environ.get("ERAFLOW_SFTP_CONN_ID", DEFAULT_CONN_ID),
        "inbox": os.environ.get("ERAFLOW_SFTP_INBOX", DEFAULT_INBOX),
        "archive_dir": os.environ.get("ERAFLOW_SFTP_ARCHIVE", DEFAULT_ARCHIVE),
        "pattern": os.environ.get("ERAFLOW_SFTP_PATTERN", DEFAULT_PATTERN),
        "min_age_seconds": int(os.environ.get("ERAFLOW_SFTP_MIN_AGE_SECONDS", "0")),
    }


def connection_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return "AIRFLOW_CONN_" + conn_id.upper()


def archive_path(inbox: str, archive_dir: str = DEFAULT_ARCHIVE) -> str:
    """Absolute remote archive folder; a relative ``archive_dir`` lives inside the inbox."""
    if posixpath.isabs(archive_dir):
        return posixpath.normpath(archive_dir)
    return posixpath.normpath(posixpath.join(inbox, archive_dir))


# -- the hook --------------------------------------------------------------------------


def open_hook(conn_id: str = DEFAULT_CONN_ID, *, conn_retry_attempts: int = 3) -> Any:
    """An ``SFTPHook`` for ``conn_id``; the connection is opened on first use."""
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    return SFTPHook(ssh_conn_id=conn_id, conn_retry_attempts=conn_retry_attempts)


@contextlib.contextmanager
def _session(hook: Any) -> Iterator[Any]:
    """One SSH session for a batch of calls, with paramiko's errors made readable."""
    import paramiko

    where = f"{getattr(hook, 'remote_host', '?')}:{getattr(hook, 'port', '?')}"
    try:
        with hook.get_managed_conn() as client:
            yield client
    except paramiko.BadHostKeyException as exc:
        raise SftpHostKeyError(
            f"host key of {where} does not match the pinned host key: server offered "
            f"{exc.key.get_name()} {exc.key.fingerprint}, connection expects "
            f"{exc.expected_key.get_name()} {exc.expected_key.fingerprint}. If the server's "
            "key really changed, confirm the new key with the server's owner and update the "
            "connection's host_key extra."
        ) from None
    except paramiko.AuthenticationException:
        raise SftpError(f"authentication to {where} as {hook.username!r} failed") from None
    except paramiko.SSHException as exc:
        if "known_hosts" in str(exc):
            raise SftpHostKeyError(
                f"no known host key for {where}: set the connection's host_key extra "
                "(or known_hosts=FILE in an sftp:// URL). no_host_key_check=true skips the "
                "check and is not recommended."
            ) from None
        raise SftpError(f"SSH error talking to {where}: {exc}") from exc


# -- list, fetch, archive --------------------------------------------------------------


def _is_candidate(name: str, pattern: str) -> bool:
    if name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES):
        return False
    return fnmatch.fnmatch(name, pattern)


def list_inbox(
    hook: Any,
    inbox: str = DEFAULT_INBOX,
    *,
    pattern: str = DEFAULT_PATTERN,
    min_age_seconds: int = 0,
) -> list[RemoteFile]:
    """Regular files in ``inbox`` matching ``pattern``, oldest first.

    Folders (the archive among them), dot files, names that look like uploads in
    progress and, with ``min_age_seconds``, files modified too recently are left out.
    """
    now = time.time()
    files = []
    with _session(hook) as client:
        try:
            entries = client.listdir_attr(inbox)
        except FileNotFoundError:
            raise SftpError(f"inbox {inbox!r} does not exist on the server") from None
        for entry in entries:
            if not stat.S_ISREG(entry.st_mode or 0) or not _is_candidate(entry.filename, pattern):
                continue
            mtime = int(entry.st_mtime or 0)
            if min_age_seconds and now - mtime < min_age_seconds:
                log.info("leaving %s for the next run: modified %ds ago", entry.filename,
                         now - mtime)
                continue
            files.append(RemoteFile(path=posixpath.join(inbox, entry.filename),
                                    name=entry.filename, size=int(entry.st_size or 0),
                                    mtime=mtime))
    files.sort(key=lambda f: (f.mtime, f.name))
    return files


def fetch_new_files(
    landing_dir: Path,
    *,
    conn_id: str = DEFAULT_CONN_ID,
    inbox: str = DEFAULT_INBOX,
    pattern: str = DEFAULT_PATTERN,
    min_age_seconds: int = 0,
    max_files: int | None = None,
    hook: Any = None,
) -> list[FetchedFile]:
    """Download every waiting inbox file into ``landing_dir``; return what was fetched.

    Each remote path is downloaded at most once per call. A file already in
    ``landing_dir`` with the remote size (a retried task) is reused, not fetched
    again. The download goes to ``.<name>.part`` and is renamed into place only when
    its size matches the server's.
    """
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)
    hook = hook or open_hook(conn_id)

    fetched: list[FetchedFile] = []
    seen: set[str] = set()
    reused = 0
    with _session(hook) as client:
        waiting = list_inbox(hook, inbox, pattern=pattern, min_age_seconds=min_age_seconds)
        if max_files is not None:
            waiting = waiting[:max_files]

        for remote in waiting:
            if remote.path in seen:
                continue
            seen.add(remote.path)
            final = landing_dir / remote.name

            if final.exists() and final.stat().st_size == remote.size:
                reused += 1
            else:
                partial = landing_dir / f".{remote.name}.part"
                client.get(remote.path, str(partial), prefetch=True)
                got = partial.stat().st_size
                if got != remote.size:
                    partial.unlink(missing_ok=True)
                    raise SftpError(f"{remote.name}: downloaded {got} bytes, server listed "
                                    f"{remote.size}; will retry")
                os.replace(partial, final)

            fetched.append(FetchedFile(remote_path=remote.path, local_path=str(final),
                                       size=remote.size))
            log.info("fetched %s (%d bytes)", remote.name, remote.size)

    log.info("fetched %d file(s) from %s (%d already in the landing folder)", len(fetched),
             inbox, reused)
    return fetched


def archive_files(
    remote_paths: Sequence[str],
    *,
    conn_id: str = DEFAULT_CONN_ID,
    inbox: str = DEFAULT_INBOX,
    archive_dir: str = DEFAULT_ARCHIVE,
    hook: Any = None,
) -> list[str]:
    """Move handled files into the archive folder on the server; return their new paths.

    The archive is never overwritten: a name already there (a payer re-sending a
    file under the same name) gets a UTC timestamp suffix. A file that is already
    gone from the inbox is logged and skipped, so archiving can be retried.
    """
    if not remote_paths:
        return []
    hook = hook or open_hook(conn_id)
    target_dir = archive_path(inbox, archive_dir)

    moved: list[str] = []
    with _session(hook) as client:
        hook.create_directory(target_dir)
        for src in dict.fromkeys(remote_paths):  # each path once, order kept
            name = posixpath.basename(src)
            try:
                client.stat(src)
            except FileNotFoundError:
                log.warning("%s is no longer in the inbox; nothing to archive", name)
                continue
            dst = _free_name(client, target_dir, name)
            client.rename(src, dst)
            moved.append(dst)
            log.info("archived %s to %s", name, dst)
    log.info("archived %d file(s) into %s", len(moved), target_dir)
    return moved


def _free_name(client: Any, folder: str, name: str) -> str:
    candidate = posixpath.join(folder, name)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    n = 0
    while _exists(client, candidate):
        n += 1
        candidate = posixpath.join(folder, f"{name}.{stamp}" + (f"-{n}" if n > 1 else ""))
    return candidate


def _exists(client: Any, path: str) -> bool:
    try:
        client.stat(path)
    except FileNotFoundError:
        return False
    return True


# -- sftp:// URLs for the command line -------------------------------------------------


def _query_params(query: str) -> dict[str, str]:
    """Query string to a dict, decoding ``%xx`` but keeping ``+`` (base64 host keys use it)."""
    params: dict[str, str] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        params[unquote(key)] = unquote(value)
    return params


def _normalise_host_key(value: str) -> str:
    value = value.strip()
    # ``ssh-ed25519+AAAA...``: a space written as ``+`` by a form encoder.
    for key_type in _HOST_KEY_TYPES:
        if value.startswith(key_type + "+"):
            value = key_type + " " + value[len(key_type) + 1:]
    parts = value.split()
    if len(parts) < 2 or parts[0] not in _HOST_KEY_TYPES:
        raise SftpError("host_key must look like 'ssh-ed25519 AAAA...' (key type, space, "
                        "base64 key)")
    return f"{parts[0]} {parts[1]}"


def host_key_from_known_hosts(known_hosts: Path, host: str, port: int) -> str:
    """The ``host_key`` line for ``host:port`` from an OpenSSH known_hosts file (hashed or not)."""
    import paramiko

    path = Path(known_hosts).expanduser()
    if not path.is_file():
        raise SftpError(f"known_hosts file {path} does not exist")
    keys = paramiko.HostKeys(str(path))
    name = host if port == 22 else f"[{host}]:{port}"
    entry = keys.lookup(name)
    if not entry:
        raise SftpHostKeyError(f"no entry for {name} in {path}")
    for key_type in _HOST_KEY_TYPES:  # prefer ed25519, like OpenSSH
        if key_type in entry:
            key = entry[key_type]
            return f"{key.get_name()} {key.get_base64()}"
    key_type, key = next(iter(entry.items()))
    raise SftpHostKeyError(f"{name} in {path} only has an unsupported {key_type} key")


def source_from_url(url: str, conn_id: str = DEFAULT_CONN_ID) -> SftpSource:
    """Parse ``sftp://user[:password]@host[:port]/inbox?...`` into an Airflow connection.

    Query parameters: ``host_key=ssh-ed25519 AAAA...`` (URL-encoded) or
    ``known_hosts=FILE`` pins the server key; ``key_file=FILE`` (and
    ``private_key_passphrase``) logs in with a key; ``no_host_key_check=true`` turns
    verification off and must be asked for explicitly; ``archive=DIR``, ``pattern=GLOB``
    and ``conn_timeout=SECONDS`` tune the fetch. Without ``host_key``/``known_hosts``
    the hook falls back to ``~/.ssh/known_hosts``.
    """
    from airflow.sdk import Connection

    parts = urlsplit(url)
    if parts.scheme != "sftp":
        raise SftpError(f"expected an sftp:// URL, got {parts.scheme or 'no'} scheme")
    if not parts.hostname:
        raise SftpError("the sftp:// URL names no host")
    params = _query_params(parts.query)
    known = {"host_key", "known_hosts", "key_file", "private_key_passphrase",
             "no_host_key_check", "archive", "pattern", "conn_timeout"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SftpError(f"unknown sftp:// URL parameter(s): {', '.join(unknown)}")

    host, port = parts.hostname, parts.port or 22
    extra: dict[str, Any] = {}
    if "host_key" in params and "known_hosts" in params:
        raise SftpError("give host_key or known_hosts, not both")
    if "host_key" in params:
        extra["host_key"] = _normalise_host_key(params["host_key"])
    elif "known_hosts" in params:
        extra["host_key"] = host_key_from_known_hosts(Path(params["known_hosts"]), host, port)
    if params.get("no_host_key_check", "").lower() == "true":
        if "host_key" in extra:
            raise SftpError("no_host_key_check=true contradicts a pinned host key")
        extra["no_host_key_check"] = "true"
        log.warning("host key verification is OFF for %s:%s (asked for in the URL)", host, port)
    if "key_file" in params:
        extra["key_file"] = str(Path(params["key_file"]).expanduser())
    if "private_key_passphrase" in params:
        extra["private_key_passphrase"] = params["private_key_passphrase"]
    if "conn_timeout" in params:
        extra["conn_timeout"] = int(params["conn_timeout"])

    inbox = unquote(parts.path) or DEFAULT_INBOX
    conn = Connection(
        conn_id=conn_id,
        conn_type="sftp",
        host=host,
        port=port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        extra=json.dumps(extra) if extra else None,
    )
    return SftpSource(
        conn_id=conn_id,
        inbox=inbox,
        archive_dir=params.get("archive", DEFAULT_ARCHIVE),
        pattern=params.get("pattern", DEFAULT_PATTERN),
        host=host,
        port=port,
        login=conn.login or "",
        connection_json=conn.as_json(),
    )


def export_connection(source: SftpSource) -> str:
    """Publish the connection as ``AIRFLOW_CONN_<ID>`` so ``SFTPHook`` finds it without a DB."""
    os.environ[source.env_var] = source.connection_json
    return source.env_var


@contextlib.contextmanager
def sftp_connection_env(url: str, conn_id: str = DEFAULT_CONN_ID) -> Iterator[SftpSource]:
    """Export the connection for ``url`` for the duration of the block, then restore."""
    source = source_from_url(url, conn_id)
    previous = os.environ.get(source.env_var)
    export_connection(source)
    try:
        yield source
    finally:
        if previous is None:
            os.environ.pop(source.env_var, None)
        else:
            os.environ[source.env_var] = previous
