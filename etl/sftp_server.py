"""A small SFTP server on loopback, for the demo and the tests.

It stands in for a payer's or clearinghouse's SFTP drop box: a real SSH server
(asyncssh) with a real host key, password or public-key login, and a chrooted
directory tree. The pipeline talks to it through the Airflow SFTP provider exactly
as it would talk to a production server, so host-key verification, listing,
download and the archive rename are all exercised for real.

The server runs its own asyncio loop in a daemon thread, so synchronous code
(pytest, ``dag.test()``) can use it without any event-loop plumbing::

    with LoopbackSftpServer(root=tmp_dir, password="s3cret") as server:
        server.url("/inbox")   # sftp://era:s3cret@127.0.0.1:PORT/inbox?host_key=...

Known limitation: it binds 127.0.0.1 only and is meant for a handful of
connections; it is not a production SFTP server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

DEFAULT_USER = "era"


def generate_host_key() -> Any:
    """A new ed25519 private key (``asyncssh.SSHKey``)."""
    import asyncssh

    return asyncssh.generate_private_key("ssh-ed25519")


def load_or_create_host_key(path: Path) -> Any:
    """Read an OpenSSH private key from ``path``, creating an ed25519 one if it is missing.

    The demo keeps its host key under ``var/`` so the key stays the same from
    one demo run to the next, like a real server's key.
    """
    import asyncssh

    path = Path(path)
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_host_key()
    key.write_private_key(str(path))
    path.chmod(0o600)
    return key


def public_key_line(key: Any) -> str:
    """``ssh-ed25519 AAAA...`` for a private or public asyncssh key, without a comment."""
    algorithm, data = key.export_public_key("openssh").decode().split()[:2]
    return f"{algorithm} {data}"


class LoopbackSftpServer:
    """An asyncssh SFTP server on 127.0.0.1 serving ``root`` as ``/``.

    ``password`` and/or ``authorized_keys`` (public keys as ``ssh-ed25519 AAAA...``
    lines or asyncssh keys) say how the one user may log in. ``port=0`` picks a
    free port; read it from :attr:`port` after :meth:`start`.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str = DEFAULT_USER,
        password: str | None = None,
        authorized_keys: list[Any] | None = None,
        host_key: Any = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if password is None and not authorized_keys:
            raise ValueError("give a password, authorized_keys or both")
        self.root = Path(root).resolve()
        self.username = username
        self.password = password
        self.authorized_keys = list(authorized_keys or [])
        self.host_key = host_key if host_key is not None else generate_host_key()
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: Any = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "LoopbackSftpServer":
        if self._thread is not None:
            return self
        import asyncssh

        logging.getLogger("asyncssh").setLevel(logging.WARNING)
        self.root.mkdir(parents=True, exist_ok=True)

        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._acceptor = loop.run_until_complete(self._listen(asyncssh))
                self.port = self._acceptor.get_port()
            except BaseException as exc:  # reported to the caller of start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="eraflow-sftp", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if failure:
            self._thread = None
            raise failure[0]
        if self.port is None:
            raise RuntimeError("the SFTP server did not start within 30 s")
        log.info("SFTP server listening on %s:%s serving %s", self.host, self.port, self.root)
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        loop, acceptor = self._loop, self._acceptor

        async def close() -> None:
            acceptor.close()
            await acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=30)
        self._thread = None
        self._loop = None
        log.info("SFTP server on port %s stopped", self.port)

    def __enter__(self) -> "LoopbackSftpServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self, asyncssh: Any) -> Any:
        server = self

        allowed = {
            (k if isinstance(k, str) else public_key_line(k)).split()[1]
            for k in self.authorized_keys
        }

        class _Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True  # always ask for credentials

            def password_auth_supported(self) -> bool:
                return server.password is not None

            def validate_password(self, username: str, password: str) -> bool:
                return username == server.username and password == server.password

            def public_key_auth_supported(self) -> bool:
                return bool(allowed)

            def validate_public_key(self, username: str, key: Any) -> bool:
                return username == server.username and public_key_line(key).split()[1] in allowed

        def sftp_factory(chan: Any) -> Any:
            return asyncssh.SFTPServer(chan, chroot=str(self.root).encode())

        return await asyncssh.listen(
            self.host,
            self._requested_port,
            server_host_keys=[self.host_key],
            server_factory=_Server,
            sftp_factory=sftp_factory,
            allow_scp=False,
        )

    # -- what a client needs -----------------------------------------------------------

    @property
    def host_key_line(self) -> str:
        """The server's public host key as ``ssh-ed25519 AAAA...`` (the ``host_key`` extra)."""
        return public_key_line(self.host_key)

    def known_hosts_line(self) -> str:
        """A ``known_hosts`` entry for this server (``[127.0.0.1]:PORT ssh-ed25519 AAAA...``)."""
        return f"[{self.host}]:{self.port} {self.host_key_line}"

    def url(self, path: str = "/inbox", *, password: bool = True, **params: str) -> str:
        """An ``sftp://`` source URL for ``eraflow run --source`` with the host key pinned."""
        auth = quote(self.username, safe="")
        if password and self.password is not None:
            auth += ":" + quote(self.password, safe="")
        query = {"host_key": self.host_key_line, **params}
        qs = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
        return f"sftp://{auth}@{self.host}:{self.port}/{path.lstrip('/')}?{qs}"

    def connection_extra(self) -> dict[str, str]:
        return {"host_key": self.host_key_line}
