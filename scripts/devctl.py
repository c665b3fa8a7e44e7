"""Set up and run the shop or its tests on this machine.

    devctl.py run [--reset-staff-password]
                      database ready, migrated, demo data, staff login, server
    devctl.py test    database ready, then pytest (extra arguments go to pytest)
    devctl.py bench   benchmarks (tests/bench/suite.py; extra arguments go to it)
    devctl.py check   migrations and system checks
    devctl.py clean   stop the private database and remove local state

PostgreSQL is taken from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/shop).
When no server answers there, a private throwaway cluster is started under .run/
with the machine's PostgreSQL binaries, and stopped again on exit.
State lives in .run/ (SHOP_RUN_DIR moves it).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devlock import RunLock
from devpg import PRIVATE_PG_DIR, PrivateCluster, database
from devutil import (
    PYTHON,
    ROOT,
    RUN_DIR,
    Failure,
    blank_line,
    fail,
    free_port,
    port_is_free,
    report_failure,
    say,
    signals_held,
    spawn,
    stop_children,
    stop_on_signals,
)

RUN_TOKEN_HEADER = "X-Shop-Run-Token"


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def development_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env.setdefault("DEBUG", "true")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def _healthz_token(url: str) -> str | None:
    """Return the run token the server at `url` answers with ("" for none), None if none answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.headers.get(RUN_TOKEN_HEADER, "")
    except urllib.error.HTTPError as error:  # a 503 (database down) is still an answer
        return error.headers.get(RUN_TOKEN_HEADER, "")
    except OSError:
        return None


def wait_for_own_server(base_url: str, token: str, timeout: float, process: subprocess.Popen) -> str:
    """Wait until the server just started answers /healthz with this run's token.

    Return "" when it does, otherwise what went wrong. Another program answering on the
    port (which our server then cannot bind) is never mistaken for the shop."""
    deadline = time.monotonic() + timeout
    stranger = False
    while time.monotonic() < deadline:
        answer = _healthz_token(f"{base_url}/healthz")
        if answer == token:
            return ""
        stranger = stranger or answer is not None
        if process.poll() is not None:
            break
        time.sleep(0.2)
    port = base_url.rsplit(":", 1)[1]
    if stranger:
        return f"another program answers on port {port}, so the shop's server could not use it"
    if process.poll() is not None:
        return f"the web server exited with status {process.returncode}; see its output above"
    return f"the web server did not answer within {timeout:.0f} s; see its output above"


def choose_port(env: dict[str, str]) -> int:
    """Return the port the shop will listen on: PORT if given (and free), else the first free from 8000."""
    if env.get("PORT"):
        port = int(env["PORT"])
        if not port_is_free(port):
            fail(
                f"port {port} (PORT={port}) is in use by another program. "
                "Stop that program, or choose another port: PORT=8001 make run"
            )
        return port
    port = free_port(8000)
    if port != 8000:
        say(f"Port 8000 is in use by another program; the shop takes port {port}")
    return port


def start_localstripe(port: int) -> subprocess.Popen:
    """Start the Stripe stand-in on loopback, state kept in memory (see scripts/localstripe_server.py)."""
    command = [PYTHON, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(port), "--quiet"]
    return spawn(command, cwd=ROOT)


def uses_localstripe(env: dict[str, str]) -> bool:
    return env.get("STRIPE_API_BASE", "").startswith("http://127.0.0.1")


def configure_stripe(env: dict[str, str], children: list[subprocess.Popen]) -> None:
    if env.get("STRIPE_API_BASE") or env.get("STRIPE_SECRET_KEY"):
        return
    stripe_url = f"http://127.0.0.1:{free_port(8420)}"
    env.update(
        STRIPE_API_BASE=stripe_url,
        STRIPE_JS_URL=f"{stripe_url}/js.stripe.com/v3/",
        STRIPE_SECRET_KEY="sk_test_localstripe",
        STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
        STRIPE_WEBHOOK_SECRET="whsec_localstripe_development",
    )
    say(f"Starting the Stripe stand-in (localstripe) on {stripe_url}")
    children.append(start_localstripe(int(stripe_url.rsplit(":", 1)[1])))


def start_setup(
    env: dict[str, str], base_url: str, children: list[subprocess.Popen], *, reset_staff_password: bool
) -> list[subprocess.Popen]:
    """Start what fills the migrated database (demo catalogue, staff login) and return those
    processes; they run while the web server starts, which needs neither."""
    say("Loading the demo catalogue")
    staff = ["ensure_staff", "--password-file", str(RUN_DIR / "staff-password")]
    staff += ["--url", f"{base_url}/admin/"]
    if reset_staff_password:
        staff.append("--reset-password")
    setup = [
        spawn([PYTHON, str(ROOT / "manage.py"), *command], env=env, cwd=ROOT)
        for command in (["seed_demo"], staff)
    ]
    children.extend(setup)
    return setup


def finish_setup(setup: list[subprocess.Popen]) -> None:
    for process in setup:
        if process.wait() != 0:
            raise subprocess.CalledProcessError(process.returncode, process.args)


def register_webhook(env: dict[str, str], base_url: str) -> None:
    """Point localstripe's webhook at the shop, once localstripe answers."""
    deadline = time.monotonic() + 30
    while _healthz_token(f"{env['STRIPE_API_BASE']}/js.stripe.com/v3/") is None:
        if time.monotonic() > deadline:
            fail(f"the Stripe stand-in did not answer at {env['STRIPE_API_BASE']}")
        time.sleep(0.1)
    manage("localstripe_register_webhook", "--shop-url", base_url, env=env)


def start_processes(env: dict[str, str], port: int, children: list[subprocess.Popen]) -> subprocess.Popen:
    """Start the web server, the task worker and the expiry loop; return the web server."""
    say("Starting the web server (uvicorn)")
    uvicorn = [str(Path(PYTHON).parent / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1"]
    uvicorn += ["--port", str(port), "--lifespan", "off", "--loop", "uvloop", "--http", "httptools"]
    server = spawn(uvicorn, env=env, cwd=ROOT)
    children.append(server)
    say("Starting the background task worker (e-mails, retries)")
    worker = [PYTHON, str(ROOT / "manage.py"), "db_worker", "--no-reload", "--queue-name", "*"]
    children.append(spawn(worker, env=env, cwd=ROOT))
    say("Starting the reservation expiry loop")
    expiry = [PYTHON, str(ROOT / "manage.py"), "release_expired_reservations", "--every", "30"]
    children.append(spawn(expiry, env=env, cwd=ROOT))
    return server


def announce(env: dict[str, str], base_url: str) -> None:
    blank_line()
    say(f"The shop is running at {base_url}/   (staff: {base_url}/admin/)")
    if uses_localstripe(env):
        say("Payments go to a local Stripe stand-in: pay with 4242 4242 4242 4242, any future date, any CVC")
        say("(4000 0025 0000 3155 asks for 3-D Secure; 4000 0000 0000 0341 is declined)")
    say("Press Ctrl-C to stop it.")


def serve(env: dict[str, str], port: int, lock: RunLock, *, reset_staff_password: bool) -> int:
    base_url = f"http://127.0.0.1:{port}"
    token = secrets.token_urlsafe(16)
    env.update(SHOP_RUN_TOKEN=token)
    env.setdefault("INVENTORY_API_URL", f"{base_url}/inventory/v1")
    env.setdefault("SHOP_URL", base_url)
    children: list[subprocess.Popen] = []
    try:
        configure_stripe(env, children)
        say("Migrating")
        manage("migrate", "--noinput", "-v", "0", env=env)
        setup = start_setup(env, base_url, children, reset_staff_password=reset_staff_password)
        server = start_processes(env, port, children)
        problem = wait_for_own_server(base_url, token, 60, server)
        if problem:
            fail(problem)
        if uses_localstripe(env):
            register_webhook(env, base_url)
        finish_setup(setup)
        lock.note(url=f"{base_url}/")
        announce(env, base_url)
        return server.wait()
    except KeyboardInterrupt:
        blank_line()
        say("Stopping")
        return 0
    finally:
        with signals_held():
            stop_children(children)


def command_run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make run ARGS=...")
    parser.add_argument(
        "--reset-staff-password",
        action="store_true",
        help="set the staff account's password again (to the one kept in .run/staff-password)",
    )
    options = parser.parse_args(argv)
    lock = RunLock()
    lock.acquire()
    try:
        port = choose_port(dict(os.environ))
        with database() as database_url:
            env = development_env(database_url)
            return serve(env, port, lock, reset_staff_password=options.reset_staff_password)
    finally:
        lock.release()


def apt_install(package: str, purpose: str) -> None:
    """Install a Debian package, or fail saying how, when it is missing and we cannot."""
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        fail(f"{purpose} need(s) {package} and it is not installed: apt-get install -y {package}")
    say(f"Installing {package} ({purpose}; Debian package)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([apt, "install", "-y", "-qq", package], check=True, env=env, stdout=subprocess.DEVNULL)


def ensure_test_tools() -> None:
    """Install what the suite needs from Debian when missing: Chromium for the browser tests
    (Playwright's own download fetches a browser build from outside the package registries)
    and docker-compose, which checks compose.yaml without a Docker engine."""
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        apt_install("chromium", "the browser tests")
    if not shutil.which("docker-compose"):
        apt_install("docker-compose", "the compose.yaml check")


def command_test(pytest_args: list[str]) -> int:
    ensure_test_tools()
    with database(fast=True) as database_url:
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url
        env["DJANGO_SETTINGS_MODULE"] = "config.test_settings"
        env.pop("DEBUG", None)
        say("Running the test suite")
        started = time.monotonic()
        result = subprocess.run([PYTHON, "-m", "pytest", *pytest_args], env=env, cwd=ROOT)
        say(f"Test suite finished in {time.monotonic() - started:.0f} s")
        return result.returncode


def command_bench(bench_args: list[str]) -> int:
    if not shutil.which("wrk"):
        apt_install("wrk", "the benchmarks")
    with database() as database_url:
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url
        return subprocess.run(
            [PYTHON, str(ROOT / "tests" / "bench" / "suite.py"), *bench_args], env=env, cwd=ROOT
        ).returncode


def command_check() -> int:
    with database() as database_url:
        env = development_env(database_url)
        manage("makemigrations", "--check", "--dry-run", env=env)
        manage("check", env=env)
    return 0


def command_clean() -> int:
    lock = RunLock()
    lock.acquire()  # refuses while a `make run` uses the database and files about to go
    lock.release()
    if PRIVATE_PG_DIR.exists():
        cluster = PrivateCluster(fast=False)
        cluster.join()
        if not cluster.is_last_user():
            fail("the private PostgreSQL is in use (make test?): stop that first, then make clean")
        cluster.stop()
    for path in (RUN_DIR, ROOT / "media", ROOT / "staticfiles", ROOT / ".venv"):
        shutil.rmtree(path, ignore_errors=True)
    say(f"Removed {RUN_DIR}, media/, staticfiles/ and .venv/")
    return 0


def dispatch(command: str, rest: list[str]) -> int:
    if command == "run":
        return command_run(rest)
    if command == "test":
        return command_test(rest)
    if command == "bench":
        return command_bench(rest)
    if command == "check":
        return command_check()
    return command_clean()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "bench", "check", "clean", "install"}:
        print(__doc__)
        return 2
    stop_on_signals()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    (ROOT / "staticfiles").mkdir(exist_ok=True)  # WhiteNoise warns when STATIC_ROOT is missing
    if argv[0] == "install":
        return 0
    try:
        return dispatch(argv[0], argv[1:])
    except KeyboardInterrupt:
        return 130
    except Failure as failure:
        report_failure(str(failure))
        return 1
    except subprocess.CalledProcessError as error:
        report_failure(f"{' '.join(map(str, error.cmd))} exited with {error.returncode}")
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
