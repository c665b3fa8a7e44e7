"""compose.yaml runs the shop beyond one process: a balancer, web replicas, workers, one migration."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
APP_IMAGE = "northwind-shop:local"
# Connections PostgreSQL keeps for superusers (its default), plus a few for an
# operator's psql and one-off management commands.
RESERVED_CONNECTIONS = 3 + 5
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$")
# "${NAME:-default}" or "${NAME-default}"
VARIABLE = re.compile(r"\$\{(?P<name>\w+):?-(?P<default>[^}]*)\}")
PLACEHOLDER = re.compile(r"change-me|local|placeholder", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def default(value: object) -> str:
    """Return `value` with every ${NAME:-default} replaced by its default, as compose would with no env."""
    return VARIABLE.sub(lambda match: match["default"], str(value))


def command_text(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def app_services(services: dict) -> dict:
    return {name: service for name, service in services.items() if service.get("image") == APP_IMAGE}


def test_web_runs_as_several_replicas_and_never_migrates(services):
    web = services["web"]
    assert int(default(web["deploy"]["replicas"])) > 1
    assert int(default(web["environment"]["WEB_WORKERS"])) >= 1
    # Replicas cannot share a host port: only the balancer is published.
    assert "ports" not in web and "container_name" not in web
    assert "command" not in web  # the image's own command: uvicorn, nothing else
    assert web["build"]["target"] == "app"  # the Dockerfile's last stage, whose command is its last CMD
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.match(r"\S+ AS app\n", dockerfile.rsplit("\nFROM ", 1)[1])
    image_command = [line for line in dockerfile.splitlines() if line.startswith("CMD")][-1]
    assert "uvicorn" in image_command and "migrate" not in image_command
    assert web["healthcheck"]["test"]


def test_migrations_run_once_before_anything_that_uses_the_database(services):
    migrate = services["migrate"]
    assert "manage.py migrate" in command_text(migrate)
    assert migrate["restart"] == "no"
    assert "deploy" not in migrate
    for name, service in app_services(services).items():
        if name == "migrate":
            continue
        assert "migrate " not in command_text(service), name
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


def test_postgres_has_a_healthcheck_that_the_others_wait_for(services):
    database = services["db"]
    assert database["image"].startswith("postgres:")
    assert "pg_isready" in database["healthcheck"]["test"]
    assert not database["healthcheck"].get("disable")
    for name, service in app_services(services).items():
        assert service["depends_on"]["db"] == {"condition": "service_healthy"}, name


def test_the_balancer_sends_every_request_to_the_web_replicas_with_forwarded_headers(services):
    balancer = services["balancer"]
    assert balancer["image"].startswith("nginx:")
    assert balancer["depends_on"]["web"] == {"condition": "service_healthy"}
    assert any(port.endswith(":80") for port in balancer["ports"])
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in balancer["volumes"]}
    config = (ROOT / mounts["/etc/nginx/nginx.conf"]).read_text()
    # Docker's DNS, asked again as replicas come and go.
    assert "resolver 127.0.0.11" in config
    assert re.search(r"upstream shop \{[^}]*server web:8000 resolve;", config)
    assert "proxy_pass http://shop;" in config
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in config
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in config
    # The shop trusts exactly that one proxy, and uvicorn outlasts the balancer's idle connections.
    web = services["web"]["environment"]
    assert web["NUM_PROXIES"] == "1"
    upstream_idle = int(re.search(r"keepalive_timeout (\d+)s;", config)[1])
    assert int(web["UVICORN_TIMEOUT_KEEP_ALIVE"]) > upstream_idle
    # Stripe's events reach the shop through the balancer, whose name the shop accepts.
    assert "--shop-url http://balancer" in command_text(services["migrate"])
    assert "balancer" in default(web["ALLOWED_HOSTS"]).split(",")


def test_background_work_has_its_own_services(services):
    assert "manage.py db_worker" in command_text(services["worker"])
    assert "manage.py release_expired_reservations" in command_text(services["expiry"])
    for name in ("worker", "expiry"):
        assert services[name]["restart"] == "unless-stopped"
        assert "ports" not in services[name]


def test_connection_pools_fit_in_postgres(services):
    """replicas × workers × pool max, plus one per other process, fits max_connections − reserve."""
    web = services["web"]
    replicas = int(default(web["deploy"]["replicas"]))
    workers = int(default(web["environment"]["WEB_WORKERS"]))
    pool_max = int(default(web["environment"]["DATABASE_POOL_MAX_SIZE"]))
    max_connections = int(re.search(r"max_connections=(\d+)", default(command_text(services["db"])))[1])
    others = len(app_services(services)) - 1  # migrate, worker, expiry: one connection each, no pool
    for name, service in app_services(services).items():
        if name != "web":
            assert service["environment"]["DATABASE_POOL"] == "false", name
    assert replicas * workers * pool_max + others <= max_connections - RESERVED_CONNECTIONS


def test_no_secret_has_a_real_looking_default():
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"(sk|pk|rk)_live_", text)
    compose = yaml.safe_load(text)
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                # Either a visible placeholder, or filled in from the environment with one as default.
                assert PLACEHOLDER.search(default(value)), f"{name}: {key} has a real-looking default"
            if key.startswith("STRIPE_") and SECRET_NAME.search(key):
                assert re.match(r"(sk_test|pk_test|whsec)_", default(value)), f"{name}: {key}"
    for match in VARIABLE.finditer(text):
        if SECRET_NAME.search(match["name"]):
            assert PLACEHOLDER.search(match["default"]), f"{match['name']} has a real-looking default"


def test_docker_compose_accepts_the_file():
    binary = shutil.which("docker-compose")
    if binary is None:
        missing = "docker-compose is not installed (apt-get install -y docker-compose; make test does)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{missing}: CI must check compose.yaml, not skip it")
        pytest.skip(f"{missing}; it needs no Docker engine")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_under_ci_a_missing_docker_compose_fails_the_check_instead_of_skipping_it(tmp_path):
    """CI must check compose.yaml: with no docker-compose on PATH the check fails there."""
    test = f"{Path(__file__).resolve()}::test_docker_compose_accepts_the_file"
    command = [sys.executable, "-m", "pytest", test, "-q", "-p", "no:cacheprovider"]
    environment = {
        **{name: value for name, value in os.environ.items() if name.startswith(("DATABASE_", "DJANGO_"))},
        "PATH": str(tmp_path),  # an empty folder: no docker-compose
        "HOME": str(tmp_path),
    }
    under_ci = subprocess.run(
        command, cwd=ROOT, env={**environment, "CI": "true"}, capture_output=True, text=True, timeout=60
    )
    assert under_ci.returncode == 1, under_ci.stdout
    assert "CI must check compose.yaml, not skip it" in under_ci.stdout
    elsewhere = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert elsewhere.returncode == 0, elsewhere.stdout
    assert "1 skipped" in elsewhere.stdout
