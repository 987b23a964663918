"""The docker-compose development stack in deploy/compose/.

No Docker engine runs here, so the stack is checked three ways: the file validates against the
Compose Specification JSON schema (vendored, see tests/ship/vendor/README.md); the wiring
between services is checked (volumes, users, shared tokens, the agent's own CLI accepting the
commands); and the stack's flow is replayed with real processes: ``s4e-secret-agent bootstrap``
with the compose file's arguments against a real OpenBao and PostgreSQL, then ``init`` with the
compose agent configuration, then a shell that sources the env file and connects to PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from s4e_secret_agent.cli import build_parser
from tests.ship.dockerfile import REPO_ROOT
from tests.testbed.openbao import OpenBaoServer
from tests.testbed.postgres import PostgresCluster

COMPOSE_DIR = REPO_ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
AGENT_CONFIG = COMPOSE_DIR / "agent.yaml"
SCHEMA = Path(__file__).with_name("vendor") / "compose_spec.json"
OUR_IMAGE = "s4e-secret-agent:dev"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return document


def _schema() -> dict[str, Any]:
    """The vendored schema. It names draft 2019-09 with a URI spelling jsonschema does not
    recognise ("http://json-schema.org/draft/2019-09/schema#"), so the draft is chosen here."""
    schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert "2019-09" in schema["$schema"]
    return schema


def _volumes(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """mount path -> (source, read-only) for a service's short-syntax volumes."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target, *options = entry.split(":")
        mounts[target] = (source, "ro" in options)
    return mounts


def _argv(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    assert isinstance(command, list), "exec-form command, so no shell re-splits the arguments"
    return [str(word) for word in command]


def test_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = _schema()
    jsonschema.Draft201909Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose),
                    key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []


def test_schema_check_catches_mistakes(compose: dict[str, Any]) -> None:
    """Guards the test above: a misspelt key and a wrong type are reported."""
    validator = jsonschema.Draft201909Validator(_schema())
    broken = json.loads(json.dumps(compose))
    broken["services"]["agent"]["depends_onn"] = ["vault"]
    broken["services"]["app"]["read_only"] = "yes"
    messages = [error.message for error in validator.iter_errors(broken)]
    assert any("depends_onn" in message for message in messages)
    assert any("'yes' is not of type 'boolean'" in message for message in messages)


def test_services_and_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"vault", "postgres", "bootstrap", "agent", "app"}
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            wanted = condition["condition"]
            if wanted == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image tag"
        for source, _ in _volumes(service).values():
            assert source.startswith("./") or source in compose["volumes"], source
    assert services["bootstrap"]["depends_on"] == {
        "vault": {"condition": "service_healthy"}, "postgres": {"condition": "service_healthy"}}
    assert services["agent"]["depends_on"] == {
        "bootstrap": {"condition": "service_completed_successfully"}}
    assert services["app"]["depends_on"] == {"agent": {"condition": "service_healthy"}}
    assert services["vault"]["image"].startswith("hashicorp/vault:")


def test_our_services_run_non_root_from_the_repository_dockerfile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("bootstrap", "agent"):
        service = services[name]
        assert service["image"] == OUR_IMAGE
        assert service["build"] == {"context": "../..", "dockerfile": "Dockerfile"}
        assert (COMPOSE_DIR / service["build"]["context"] / "Dockerfile").resolve() == (
            REPO_ROOT / "Dockerfile")
        uid, gid = service["user"].split(":")
        assert int(uid) > 0 and int(gid) > 0
    agent = services["agent"]
    assert agent["read_only"] is True and agent["tmpfs"] == ["/tmp"]
    assert agent["cap_drop"] == ["ALL"]
    assert services["app"]["user"] == agent["user"], "the app reads the agent's 0640 files"


def test_shared_values_agree(compose: dict[str, Any]) -> None:
    services = compose["services"]
    root_token = services["vault"]["environment"]["VAULT_DEV_ROOT_TOKEN_ID"]
    assert services["bootstrap"]["environment"]["VAULT_TOKEN"] == root_token
    assert services["bootstrap"]["environment"]["S4E_POSTGRES_PASSWORD"] == (
        services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    argv = _argv(services["bootstrap"])
    assert f"--postgres-username={services['postgres']['environment']['POSTGRES_USER']}" in argv
    database = services["postgres"]["environment"]["POSTGRES_DB"]
    assert f"--set=database.name={database}" in argv
    assert any(a.startswith("--postgres-url=") and f"@postgres:5432/{database}?" in a
               for a in argv)


def test_the_agent_cli_accepts_every_command(compose: dict[str, Any]) -> None:
    parser = build_parser()
    services = compose["services"]
    bootstrap = parser.parse_args(_argv(services["bootstrap"]))
    assert bootstrap.auth == "approle"
    agent = parser.parse_args(_argv(services["agent"]))
    assert agent.config == ["/etc/s4e-secret-agent/agent.yaml"]
    assert agent.metrics_listen == "0.0.0.0:9102"
    # The health check asks the port the agent listens on.
    assert ":9102/readyz" in " ".join(services["agent"]["healthcheck"]["test"])


def test_files_flow_between_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    argv = _argv(services["bootstrap"])
    written = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in argv if "-file=" in a}
    bootstrap_mounts = _volumes(services["bootstrap"])
    agent_mounts = _volumes(services["agent"])
    config = yaml.safe_load(AGENT_CONFIG.read_text(encoding="utf-8"))
    method = config["auto_auth"]["method"]["config"]
    for flag, key in (("--approle-role-id-file", "role_id_file_path"),
                      ("--approle-secret-id-file", "secret_id_file_path")):
        directory, name = written[flag].rsplit("/", 1)
        volume, read_only = bootstrap_mounts[directory]
        assert not read_only
        agent_directory, agent_name = method[key].rsplit("/", 1)
        assert agent_mounts[agent_directory] == (volume, True)
        assert agent_name == name
    assert method["remove_secret_id_file_after_reading"] is False  # the volume is read-only
    # The agent's config file is the one next to compose.yaml.
    assert agent_mounts["/etc/s4e-secret-agent/agent.yaml"] == ("./agent.yaml", True)
    # The app reads the secrets volume the agent writes, read-only.
    assert agent_mounts["/vault/secrets"] == ("secrets", False)
    assert _volumes(services["app"])["/vault/secrets"] == ("secrets", True)
    destinations = {t["destination"] for t in config["template"]}
    assert "/vault/secrets/db" in destinations
    assert ". /vault/secrets/db" in services["app"]["command"][0]


def test_shell_variables_are_escaped_from_compose_interpolation() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    # Compose replaces $NAME / ${NAME} from the host environment; the app's shell needs $$.
    unescaped = re.findall(r"(?<!\$)\$(?!\$)\{?\w+", text.replace("$$", ""))
    assert unescaped == []


def test_agent_config_check_accepts_the_compose_config() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "s4e_secret_agent", "config", "check", "--config",
         str(AGENT_CONFIG)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database/creds/s4e-app" in result.stdout


@pytest.mark.integration
@pytest.mark.postgres
@pytest.mark.slow
def test_stack_flow_with_real_servers(
    compose: dict[str, Any], postgres: PostgresCluster, tmp_path: Path
) -> None:
    """bootstrap -> agent init -> app sources /vault/secrets/db and logs in to PostgreSQL."""
    services = compose["services"]
    shared = tmp_path / "approle"
    secrets_dir = tmp_path / "secrets"
    with OpenBaoServer() as vault:
        # The compose file's own bootstrap arguments, with container addresses and paths mapped
        # to the local servers.
        replacements = {
            "http://vault:8200": vault.address,
            "/vault/secrets/": f"{shared}/",
            "@postgres:5432/": f"@{postgres.host}:{postgres.port}/",
            "database.host=postgres": f"database.host={postgres.host}",
            "database.port=5432": f"database.port={postgres.port}",
        }
        argv = []
        for word in _argv(services["bootstrap"]):
            for old, new in replacements.items():
                word = word.replace(old, new)
            argv.append(word)
        env = {
            **os.environ,
            **services["bootstrap"]["environment"],
            "VAULT_TOKEN": vault.root_token,
            "S4E_POSTGRES_PASSWORD": postgres.admin_password,
        }
        argv = [a for a in argv if not a.startswith("--postgres-username=")]
        argv.append(f"--postgres-username={postgres.admin_username}")
        bootstrap = subprocess.run(
            [sys.executable, "-m", "s4e_secret_agent", *argv], env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr
        assert (shared / "role-id").stat().st_mode & 0o077 == 0

        # The agent with the compose configuration, paths moved under tmp.
        config_text = (
            AGENT_CONFIG.read_text(encoding="utf-8")
            .replace("http://vault:8200", vault.address)
            .replace("/vault/approle/", f"{shared}/")
            .replace("/vault/secrets/", f"{secrets_dir}/")
        )
        config_file = tmp_path / "agent.yaml"
        config_file.write_text(config_text)
        agent_env = {k: v for k, v in os.environ.items()
                     if not k.startswith(("VAULT_", "BAO_"))}
        init = subprocess.run(
            [sys.executable, "-m", "s4e_secret_agent", "init", "--config", str(config_file)],
            env=agent_env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert init.returncode == 0, init.stdout + init.stderr
        env_file = secrets_dir / "db"
        assert env_file.stat().st_mode & 0o777 == 0o640

        # The app's way: source the file in a shell, then connect with what it exported.
        connect = (
            "import os, psycopg\n"
            "conninfo = dict(host=os.environ['DB_HOST'], port=os.environ['DB_PORT'],\n"
            "                dbname=os.environ['DB_NAME'], user=os.environ['DB_USER'],\n"
            "                password=os.environ['DB_PASS'], sslmode='disable')\n"
            "with psycopg.connect(**conninfo) as conn:\n"
            "    print(conn.execute('select current_user').fetchone()[0])\n"
        )
        app = subprocess.run(
            ["sh", "-ec", f'. "{env_file}"; exec "{sys.executable}" -c "$0"', connect],
            env=agent_env, capture_output=True, text=True, timeout=60, check=False,
        )
        assert app.returncode == 0, app.stderr
        user = app.stdout.strip()
        # Vault names database users after the login (approle) and the role (s4e-app).
        assert user.startswith("v-approle-s4e-app-"), user
        assert postgres.role_exists(user)
        assert "DB_PASS" not in init.stdout + init.stderr

        # The static secrets file round-trips through the shell exactly (shellQuote).
        stored = vault.client().secrets.kv.v2.read_secret_version(
            path="app", mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
        printed = subprocess.run(
            ["sh", "-ec", f'. "{secrets_dir / "app"}"; printf "%s\\n%s" "$SECRET_KEY" '
                          '"$SMTP_PASSWORD"'],
            env=agent_env, capture_output=True, text=True, timeout=60, check=False,
        )
        assert printed.returncode == 0, printed.stderr
        assert printed.stdout.split("\n") == [stored["secret_key"], stored["smtp_password"]]
