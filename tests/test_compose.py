"""docker-compose.yml read as data: services, commands, dependencies, health, volumes.

No Docker engine runs where the tests run, so the stack is checked for the
mistakes that would stop it from coming up or from working: a service missing
or started with the wrong Airflow 3 command, a start order that lets Airflow
run before its metadata DB is migrated, an SFTP connection that skips host-key
verification or names another host, a warehouse URL pointing at a database the
init script does not create.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "docker" / "Dockerfile"

pytestmark = pytest.mark.unit

AIRFLOW_SERVICES = {
    "airflow-init": ["db", "migrate"],
    "airflow-api-server": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
}
LONG_RUNNING = ["postgres", "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
                "airflow-triggerer", "sftp"]

_VAR = re.compile(r"(?<!\$)\$\{(\w+)(?::?-([^}]*))?\}")  # `$${X}` is an escaped `${X}`


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with no .env: every variable takes its default."""
    def sub(m: re.Match) -> str:
        if m.group(2) is None:
            raise AssertionError(f"${{{m.group(1)}}} has no default: the stack needs a .env")
        return m.group(2)

    return _VAR.sub(sub, value).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _command(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def _depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {d: "service_started" for d in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def _mounts(service: dict) -> dict[str, str]:
    """container path -> source, for short-syntax volume strings."""
    out = {}
    for v in service.get("volumes", []):
        source, target, *mode = v.split(":")
        out[target] = source + (f":{mode[0]}" if mode else "")
    return out


def test_every_service_is_there(services):
    assert set(AIRFLOW_SERVICES) | {"postgres", "sftp", "sftp-keygen"} <= set(services)


@pytest.mark.parametrize("name, command", AIRFLOW_SERVICES.items())
def test_airflow_services_run_the_airflow_3_commands(services, name, command):
    service = services[name]
    assert _command(service) == command
    assert service["build"]["dockerfile"] == "docker/Dockerfile"
    assert service["image"] == services["airflow-scheduler"]["image"]


def test_start_order(services):
    assert _depends(services["airflow-init"]) == {"postgres": "service_healthy"}
    for name in set(AIRFLOW_SERVICES) - {"airflow-init"}:
        deps = _depends(services[name])
        assert deps["postgres"] == "service_healthy", name
        assert deps["airflow-init"] == "service_completed_successfully", name
        assert deps["sftp-keygen"] == "service_completed_successfully", name
    scheduler = _depends(services["airflow-scheduler"])
    assert scheduler["sftp"] == "service_healthy"
    assert scheduler["airflow-api-server"] == "service_healthy"
    assert _depends(services["sftp"]) == {"sftp-keygen": "service_completed_successfully"}
    assert services["airflow-init"]["restart"] == "no"
    assert services["sftp-keygen"]["restart"] == "no"


def test_no_dependency_cycles(services):
    seen: dict[str, int] = {}

    def visit(name: str) -> None:
        if seen.get(name) == 1:
            raise AssertionError(f"dependency cycle through {name}")
        if seen.get(name) == 2:
            return
        seen[name] = 1
        for dep in _depends(services[name]):
            assert dep in services, f"{name} depends on unknown service {dep}"
            visit(dep)
        seen[name] = 2

    for name in services:
        visit(name)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks(services, name):
    check = services[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert {"interval", "timeout", "retries"} <= set(check)
    assert services[name]["restart"] == "unless-stopped"


def test_healthchecks_probe_the_right_thing(services):
    probe = {name: " ".join(services[name]["healthcheck"]["test"][1:]) for name in LONG_RUNNING}
    assert "pg_isready" in probe["postgres"]
    assert "/api/v2/version" in probe["airflow-api-server"]
    assert ":8974/health" in probe["airflow-scheduler"]
    assert "DagProcessorJob" in probe["airflow-dag-processor"]
    assert "TriggererJob" in probe["airflow-triggerer"]
    assert "ssh-keyscan" in probe["sftp"]
    env = _env(services["airflow-scheduler"])
    assert env["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_airflow_talks_to_postgres_and_its_api_server(services):
    for name in AIRFLOW_SERVICES:
        env = _env(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
            "postgresql+psycopg2://airflow:")
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        api = re.match(r"http://([\w-]+):8080/execution/$",
                       env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert api and api.group(1) == "airflow-api-server"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"]  # shared by every Airflow process
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/eraflow/dags"
    secrets = {_env(services[n])["AIRFLOW__API_AUTH__JWT_SECRET"] for n in AIRFLOW_SERVICES}
    assert len(secrets) == 1


def test_sftp_connection_verifies_the_host_key(services):
    env = _env(services["airflow-scheduler"])
    conn = json.loads(env["AIRFLOW_CONN_SFTP_ERA"])
    assert conn["conn_type"] == "sftp"
    assert conn["host"] == "sftp" and conn["host"] in services
    assert conn["port"] == 22
    assert "no_host_key_check" not in conn.get("extra", {})
    assert env["ERAFLOW_SFTP_CONN_ID"] == "sftp_era"

    # the known_hosts entry Airflow checks against names the same host and is mounted as
    # the airflow user's ~/.ssh, read-only
    keygen = services["sftp-keygen"]["entrypoint"][-1]
    assert "printf 'sftp %s\\n'" in keygen and "ssh-keygen -q -t ed25519" in keygen
    assert _mounts(services["airflow-scheduler"])["/home/airflow/.ssh"] == "sftp-known-hosts:ro"
    assert _mounts(services["sftp-keygen"])["/known_hosts"] == "sftp-known-hosts"
    # the SFTP server uses that same key, not a fresh one per start
    assert _mounts(services["sftp"])["/hostkey"] == "sftp-hostkey:ro"
    assert "/etc/ssh/ssh_host_ed25519_key" in services["sftp"]["entrypoint"][2]
    # ssh-keygen and ssh-keyscan (the healthcheck) ship in the Debian image, not Alpine's
    assert services["sftp"]["image"] == services["sftp-keygen"]["image"] == "atmoz/sftp:debian"


def test_sftp_inbox(services):
    sftp = services["sftp"]
    user, password, uid, gid, folders = interpolate(_command(sftp)[0]).split(":")
    assert (user, folders) == ("era", "inbox,ledger")
    conn = json.loads(_env(services["airflow-scheduler"])["AIRFLOW_CONN_SFTP_ERA"])
    assert (conn["login"], conn["password"]) == (user, password)
    env = _env(services["airflow-scheduler"])
    assert (env["ERAFLOW_SFTP_INBOX"], env["ERAFLOW_LEDGER_SFTP_INBOX"]) == ("/inbox", "/ledger")
    seed = services["sftp-seed"]
    assert seed["profiles"] == ["demo"]
    for folder in folders.split(","):
        assert _mounts(sftp)[f"/home/era/{folder}"] == f"sftp-{folder}"
        assert _mounts(seed)[f"/{folder}"] == f"sftp-{folder}"
    # the volumes are mounted root-owned; the user must own them to create archive/ and
    # rename
    assert f"chown {uid}:{gid} /home/era/inbox /home/era/ledger" in sftp["entrypoint"][2]
    assert "cp /ledger-samples/*.csv /ledger/" in seed["command"][2]


def test_warehouse_is_the_database_postgres_creates(services):
    env = _env(services["airflow-scheduler"])
    url = re.match(r"postgresql://(\w+):([^@]+)@postgres:5432/(\w+)$", env["ERAFLOW_WAREHOUSE"])
    assert url, env["ERAFLOW_WAREHOUSE"]
    pg = _env(services["postgres"])
    assert url.groups() == (pg["ERAFLOW_WAREHOUSE_USER"], pg["ERAFLOW_WAREHOUSE_PASSWORD"],
                            pg["ERAFLOW_WAREHOUSE_DB"])
    assert _mounts(services["postgres"])["/docker-entrypoint-initdb.d"] == "./docker/postgres:ro"
    init = (REPO / "docker" / "postgres" / "10-eraflow-warehouse.sh")
    assert init.stat().st_mode & 0o111, "init script must be executable"
    text = init.read_text()
    assert "CREATE DATABASE ${ERAFLOW_WAREHOUSE_DB} OWNER ${ERAFLOW_WAREHOUSE_USER}" in text
    assert pg["POSTGRES_PASSWORD"] in _env(services["airflow-init"])[
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


def test_volumes_are_declared_and_shared(compose, services):
    declared = set(compose["volumes"])
    for name, service in services.items():
        for target, source in _mounts(service).items():
            source = source.split(":")[0]
            if not source.startswith("."):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    for name in AIRFLOW_SERVICES:
        mounts = _mounts(services[name])
        assert mounts["/opt/eraflow/var"] == "eraflow-data"
        assert mounts["/opt/airflow/logs"] == "airflow-logs"
    assert _env(services["airflow-scheduler"])["ERAFLOW_DATA_DIR"].startswith("/opt/eraflow/var/")
    assert _mounts(services["postgres"])["/var/lib/postgresql/data"] == "postgres-data"


def test_ports_stay_on_loopback_except_the_ui(services):
    assert services["airflow-api-server"]["ports"] == ["8080:8080"]
    for name in ("postgres", "sftp"):
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"]), name


def test_dockerfile_matches_the_pinned_versions():
    text = DOCKERFILE.read_text()
    pinned = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    airflow = next(d for d in pinned if d.startswith("apache-airflow=="))
    version = airflow.split("==")[1]
    assert f"apache/airflow:{version}-python3.11" in text
    assert "-c constraints.txt" in text
    for folder in ("dags/", "dbt_project/", "expectations/", "etl/"):
        assert f"COPY --chown=airflow:0 {folder}" in text
    assert "AIRFLOW__CORE__DAGS_FOLDER=/opt/eraflow/dags" in text
    assert (REPO / "docker" / "Dockerfile.dockerignore").exists()


def test_every_variable_has_a_default():
    for m in _VAR.finditer(COMPOSE.read_text()):
        assert m.group(2) is not None, f"${{{m.group(1)}}} has no default"


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_docker_compose_config_accepts_the_file():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("docker compose plugin not installed")
    proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
