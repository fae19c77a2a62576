"""etl.sftp against a real SFTP server on loopback (asyncssh), through the Airflow SFTPHook."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import paramiko
import pytest
from sftp_server import (
    LoopbackSftpServer,
    SftpFixture,
    generate_host_key,
    public_key_line,
    write_client_key,
)

from etl import sftp as esftp

pytestmark = pytest.mark.integration

ERA = b"ISA*00*          *00*          *ZZ*PAYER*ZZ*PROVIDER*240101*1200*^*00501*000000001*0*P*:~"


def _hook(**kw):
    return esftp.open_hook("sftp_era", conn_retry_attempts=1, **kw)


# -- listing ---------------------------------------------------------------------------


def test_list_inbox_returns_waiting_regular_files_oldest_first(sftp_conn: SftpFixture):
    sftp_conn.put_bytes("b.835", ERA + b"b")
    sftp_conn.put_bytes("a.835", ERA + b"a")
    old = time.time() - 3600
    os.utime(sftp_conn.inbox_dir / "b.835", (old, old))
    sftp_conn.put_bytes(".hidden.835", ERA)
    sftp_conn.put_bytes("c.835.part", ERA)  # an upload in progress
    (sftp_conn.inbox_dir / "archive").mkdir()
    (sftp_conn.inbox_dir / "sub.835").mkdir()

    files = esftp.list_inbox(_hook(), sftp_conn.inbox)

    assert [f.name for f in files] == ["b.835", "a.835"]
    assert files[0].path == "/inbox/b.835"
    assert files[0].size == len(ERA) + 1


def test_list_inbox_pattern_and_min_age(sftp_conn: SftpFixture):
    sftp_conn.put_bytes("x.835", ERA)
    sftp_conn.put_bytes("x.txt", ERA)
    old = time.time() - 600
    os.utime(sftp_conn.inbox_dir / "x.txt", (old, old))

    assert [f.name for f in esftp.list_inbox(_hook(), "/inbox", pattern="*.835")] == ["x.835"]
    assert [f.name for f in esftp.list_inbox(_hook(), "/inbox", min_age_seconds=60)] == ["x.txt"]


def test_missing_inbox_is_a_clear_error(sftp_conn: SftpFixture):
    with pytest.raises(esftp.SftpError, match="inbox '/nope' does not exist"):
        esftp.list_inbox(_hook(), "/nope")


# -- downloading -----------------------------------------------------------------------


def test_fetch_downloads_exact_bytes_atomically(sftp_conn: SftpFixture, tmp_path: Path):
    payload = {f"f{i}.835": ERA + os.urandom(50_000 + i) for i in range(3)}
    for name, data in payload.items():
        sftp_conn.put_bytes(name, data)
    landing = tmp_path / "landing"

    fetched = esftp.fetch_new_files(landing, conn_id="sftp_era", inbox="/inbox")

    assert sorted(Path(f.local_path).name for f in fetched) == sorted(payload)
    for f in fetched:
        assert Path(f.local_path).read_bytes() == payload[Path(f.local_path).name]
        assert f.size == len(payload[Path(f.local_path).name])
    assert sorted(p.name for p in landing.iterdir()) == sorted(payload)  # no .part left
    # the inbox is untouched until the files are archived
    assert sftp_conn.inbox_files() == sorted(payload)


def test_fetch_never_downloads_a_file_twice(sftp_conn: SftpFixture, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch):
    sftp_conn.put_bytes("a.835", ERA + b"a")
    sftp_conn.put_bytes("b.835", ERA + b"b")
    calls: list[str] = []
    real_get = paramiko.SFTPClient.get

    def counting_get(self, remotepath, localpath, *args, **kwargs):
        calls.append(remotepath)
        return real_get(self, remotepath, localpath, *args, **kwargs)

    monkeypatch.setattr(paramiko.SFTPClient, "get", counting_get)
    landing = tmp_path / "landing"

    first = esftp.fetch_new_files(landing, conn_id="sftp_era")
    again = esftp.fetch_new_files(landing, conn_id="sftp_era")  # e.g. a retried task

    assert sorted(calls) == ["/inbox/a.835", "/inbox/b.835"]
    assert [f.to_dict() for f in again] == [f.to_dict() for f in first]


def test_fetched_file_round_trips_through_xcom_json():
    f = esftp.FetchedFile(remote_path="/inbox/a.835", local_path="/tmp/a.835", size=3)
    assert esftp.FetchedFile.from_dict(json.loads(json.dumps(f.to_dict()))) == f


def test_logs_name_files_but_never_contents(sftp_conn: SftpFixture, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture):
    secret = b"CLP*PATIENT-CONTROL-4711*1*100*80~NM1*QC*1*DOE*JANE~"
    sftp_conn.put_bytes("claims.835", ERA + secret)
    with caplog.at_level(logging.DEBUG):
        fetched = esftp.fetch_new_files(tmp_path / "l", conn_id="sftp_era")
        esftp.archive_files([f.remote_path for f in fetched], conn_id="sftp_era")
    text = caplog.text
    assert "claims.835" in text
    assert "PATIENT-CONTROL-4711" not in text and "DOE" not in text
    assert sftp_conn.server.password not in text


# -- archiving -------------------------------------------------------------------------


def test_archive_moves_files_and_rerun_fetches_nothing(sftp_conn: SftpFixture, tmp_path: Path):
    sftp_conn.put_bytes("a.835", ERA + b"a")
    sftp_conn.put_bytes("b.835", ERA + b"b")
    fetched = esftp.fetch_new_files(tmp_path / "run1", conn_id="sftp_era")

    moved = esftp.archive_files([f.remote_path for f in fetched], conn_id="sftp_era")

    assert sorted(moved) == ["/inbox/archive/a.835", "/inbox/archive/b.835"]
    assert sftp_conn.inbox_files() == []
    assert sftp_conn.archived_files() == ["a.835", "b.835"]
    assert esftp.fetch_new_files(tmp_path / "run2", conn_id="sftp_era") == []
    assert not any((tmp_path / "run2").iterdir())


def test_archive_never_overwrites_and_tolerates_vanished_files(sftp_conn: SftpFixture):
    sftp_conn.archive_dir.mkdir()
    (sftp_conn.archive_dir / "a.835").write_bytes(b"first delivery")
    sftp_conn.put_bytes("a.835", b"second delivery")

    moved = esftp.archive_files(["/inbox/a.835", "/inbox/gone.835", "/inbox/a.835"],
                                conn_id="sftp_era")

    assert len(moved) == 1 and moved[0].startswith("/inbox/archive/a.835.")
    assert (sftp_conn.archive_dir / "a.835").read_bytes() == b"first delivery"
    assert (sftp_conn.server.root / moved[0].lstrip("/")).read_bytes() == b"second delivery"


def test_archive_folder_is_configurable(sftp_conn: SftpFixture):
    sftp_conn.put_bytes("a.835", ERA)
    moved = esftp.archive_files(["/inbox/a.835"], conn_id="sftp_era", archive_dir="/done/2024")
    assert moved == ["/done/2024/a.835"]
    assert (sftp_conn.server.root / "done" / "2024" / "a.835").exists()
    assert esftp.archive_path("/inbox") == "/inbox/archive"
    assert esftp.archive_path("/inbox", "../processed") == "/processed"


# -- host keys -------------------------------------------------------------------------


def test_pinned_host_key_is_verified(sftp_conn: SftpFixture):
    sftp_conn.put_bytes("a.835", ERA)
    assert [f.name for f in esftp.list_inbox(_hook(), "/inbox")] == ["a.835"]


def test_wrong_host_key_fails_clearly(sftp: SftpFixture, monkeypatch: pytest.MonkeyPatch):
    impostor = public_key_line(generate_host_key())
    conn = json.loads(sftp.connection_json())
    conn["extra"]["host_key"] = impostor
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_ERA", json.dumps(conn))

    with pytest.raises(esftp.SftpHostKeyError, match="does not match the pinned host key"):
        esftp.list_inbox(_hook(), "/inbox")


def test_unknown_host_key_fails_clearly(sftp: SftpFixture, monkeypatch: pytest.MonkeyPatch):
    conn = json.loads(sftp.connection_json())
    del conn["extra"]["host_key"]
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_ERA", json.dumps(conn))

    with pytest.raises(esftp.SftpHostKeyError, match="no known host key"):
        esftp.list_inbox(_hook(), "/inbox")


def test_no_host_key_check_only_when_asked(sftp: SftpFixture, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_ERA", sftp.connection_json(no_host_key_check="true"))
    assert esftp.list_inbox(_hook(), "/inbox") == []


def test_wrong_password_fails_clearly(sftp: SftpFixture, monkeypatch: pytest.MonkeyPatch):
    conn = json.loads(sftp.connection_json())
    conn["password"] = "not-the-password"
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_ERA", json.dumps(conn))
    with pytest.raises(esftp.SftpError, match="authentication .* failed") as err:
        esftp.list_inbox(_hook(), "/inbox")
    assert "not-the-password" not in str(err.value)


# -- sftp:// URLs ----------------------------------------------------------------------


def test_url_with_host_key_and_password(sftp: SftpFixture, tmp_path: Path):
    sftp.put_bytes("a.835", ERA)
    url = sftp.url(archive="done")
    with esftp.sftp_connection_env(url, "cli_sftp") as source:
        assert source.inbox == "/inbox" and source.archive_dir == "done"
        assert "password" not in repr(source) and sftp.server.password not in source.display
        conn = json.loads(os.environ["AIRFLOW_CONN_CLI_SFTP"])
        assert conn["extra"]["host_key"] == sftp.host_key_line
        fetched = esftp.fetch_new_files(tmp_path, conn_id="cli_sftp", inbox=source.inbox)
        esftp.archive_files([f.remote_path for f in fetched], conn_id="cli_sftp",
                            inbox=source.inbox, archive_dir=source.archive_dir)
    assert "AIRFLOW_CONN_CLI_SFTP" not in os.environ
    assert (sftp.inbox_dir / "done" / "a.835").exists()


def test_url_host_key_written_with_plus_for_space(sftp: SftpFixture):
    key_type, b64 = sftp.host_key_line.split()
    url = f"sftp://era@127.0.0.1:{sftp.port}/inbox?host_key={key_type}+{b64}"
    source = esftp.source_from_url(url)
    assert json.loads(source.connection_json)["extra"]["host_key"] == sftp.host_key_line


@pytest.mark.parametrize("hashed", [False, True])
def test_url_with_known_hosts_file(sftp: SftpFixture, tmp_path: Path, hashed: bool):
    name = f"[127.0.0.1]:{sftp.port}"
    if hashed:
        name = paramiko.HostKeys.hash_host(name)
    known = tmp_path / "known_hosts"
    known.write_text(f"otherhost ssh-ed25519 {public_key_line(generate_host_key()).split()[1]}\n"
                     f"{name} {sftp.host_key_line}\n")
    sftp.put_bytes("a.835", ERA)
    url = f"sftp://era:{sftp.server.password}@127.0.0.1:{sftp.port}/inbox?known_hosts={known}"
    with esftp.sftp_connection_env(url, "kh") as source:
        files = esftp.list_inbox(esftp.open_hook("kh", conn_retry_attempts=1), source.inbox)
    assert [f.name for f in files] == ["a.835"]


def test_known_hosts_without_the_server_is_an_error(sftp: SftpFixture, tmp_path: Path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(esftp.SftpHostKeyError, match="no entry for"):
        esftp.source_from_url(f"sftp://era@127.0.0.1:{sftp.port}/inbox?known_hosts={known}")


def test_url_with_key_file_login(tmp_path: Path, sftp_host_key, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    key_path, public = write_client_key(tmp_path / "keys")
    root = tmp_path / "root"
    (root / "inbox").mkdir(parents=True)
    (root / "inbox" / "a.835").write_bytes(ERA)
    with LoopbackSftpServer(root, authorized_keys=[public], host_key=sftp_host_key) as server:
        url = server.url("/inbox", key_file=str(key_path))
        assert "@" in url and ":" not in url.split("@")[0].removeprefix("sftp://")
        with esftp.sftp_connection_env(url, "keyed") as source:
            files = esftp.list_inbox(esftp.open_hook("keyed", conn_retry_attempts=1),
                                     source.inbox)
    assert [f.name for f in files] == ["a.835"]


def test_url_decodes_credentials_and_rejects_nonsense():
    source = esftp.source_from_url(
        "sftp://us%40er:p%40ss%2Fw@sftp.example.com/drop/835?no_host_key_check=true")
    conn = json.loads(source.connection_json)
    assert (conn["login"], conn["password"], conn["port"]) == ("us@er", "p@ss/w", 22)
    assert conn["extra"] == {"no_host_key_check": "true"}
    assert source.inbox == "/drop/835"

    with pytest.raises(esftp.SftpError, match="unknown sftp:// URL parameter"):
        esftp.source_from_url("sftp://h/inbox?hostkey=x")
    with pytest.raises(esftp.SftpError, match="expected an sftp:// URL"):
        esftp.source_from_url("ftp://h/inbox")
    with pytest.raises(esftp.SftpError, match="host_key must look like"):
        esftp.source_from_url("sftp://h/inbox?host_key=AAAA")
    with pytest.raises(esftp.SftpError, match="contradicts"):
        esftp.source_from_url(
            "sftp://h/inbox?no_host_key_check=true&host_key=ssh-ed25519%20AAAAC3Nza")
