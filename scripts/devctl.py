"""Set up and run the shop or its tests on this machine.

    devctl.py run     database ready, migrated, demo data, staff login, server
    devctl.py test    database ready, then pytest (extra arguments go to pytest)
    devctl.py bench   benchmarks (tests/bench/suite.py; extra arguments go to it)
    devctl.py check   migrations and system checks
    devctl.py clean   stop the private database and remove local state

PostgreSQL is taken from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/shop).
When no server answers there, a private throwaway cluster is started under .run/
with the machine's PostgreSQL binaries, and stopped again on exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/shop"
PRIVATE_PG_DIR = RUN_DIR / "postgres"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(start: int) -> int:
    for port in range(start, start + 200):
        if port_is_free(port):
            return port
    fail(f"no free TCP port found from {start} upwards")
    raise AssertionError


def server_answers(url: str) -> bool:
    """Return True if a PostgreSQL server accepts connections for the URL's user."""
    import psycopg

    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or None,
            dbname="postgres",
            connect_timeout=3,
        ):
            return True
    except psycopg.Error:
        return False


def ensure_database_exists(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "shop"
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        connect_timeout=3,
        autocommit=True,
    ) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            say(f"Creating database {name}")
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def postgres_bin_dir() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    fail(
        "no PostgreSQL server answers at DATABASE_URL and no PostgreSQL server binaries "
        "(initdb, pg_ctl) were found in /usr/lib/postgresql/*/bin or on PATH.\n"
        "       Install them (Debian: apt-get install postgresql) or point DATABASE_URL at a server."
    )
    raise AssertionError


def as_postgres_user(command: list[str]) -> list[str]:
    """Return the command run as the `postgres` user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(shlex_quote, command))]


def shlex_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


class PrivateCluster:
    """A throwaway PostgreSQL cluster under .run/postgres, on a free loopback port."""

    def __init__(self, *, fast: bool) -> None:
        self.data_dir = PRIVATE_PG_DIR / "data"
        self.port_file = PRIVATE_PG_DIR / "port"
        self.log_file = PRIVATE_PG_DIR / "server.log"
        self.fast = fast
        self.bin_dir = postgres_bin_dir()
        self.started_here = False
        self.port = 0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/shop"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            as_postgres_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args]),
            check=check,
            capture_output=True,
            text=True,
        )

    def running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    def start(self) -> str:
        PRIVATE_PG_DIR.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PRIVATE_PG_DIR, "postgres", "postgres")
        if self.running() and self.port_file.exists():
            self.port = int(self.port_file.read_text())
            say(f"Using the private PostgreSQL already running on port {self.port}")
            return self.url
        if not (self.data_dir / "PG_VERSION").exists():
            say(f"Creating a private PostgreSQL cluster in {self.data_dir.relative_to(ROOT)}")
            shutil.rmtree(self.data_dir, ignore_errors=True)
            subprocess.run(
                as_postgres_user(
                    [
                        str(self.bin_dir / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        "postgres",
                        "--auth=trust",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                check=True,
                capture_output=True,
                text=True,
            )
        self.port = free_port(54329)
        options = f"-p {self.port} -k {PRIVATE_PG_DIR} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if self.fast:
            # A throwaway test database need not survive a power cut.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        say(f"Starting the private PostgreSQL on 127.0.0.1:{self.port}")
        result = subprocess.run(
            as_postgres_user(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            start_new_session=True,
        )
        if result.returncode != 0:
            log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            fail(f"the private PostgreSQL did not start:\n{result.stdout}{result.stderr}{log}")
        self.port_file.write_text(str(self.port))
        self.started_here = True
        return self.url

    def stop(self) -> None:
        if self.started_here and self.running():
            say("Stopping the private PostgreSQL")
            self._pg_ctl("stop", "-m", "fast", check=False)


@contextlib.contextmanager
def database(*, fast: bool = False) -> Iterator[str]:
    """Yield a DATABASE_URL whose server answers and whose database exists."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    cluster = None
    if server_answers(url):
        say(f"Using PostgreSQL at {redact(url)}")
    else:
        say(f"No PostgreSQL answers at {redact(url)}; starting a private one")
        cluster = PrivateCluster(fast=fast)
        private = cluster.start()
        # Keep the database name the caller asked for.
        name = urlsplit(url).path or "/shop"
        parts = urlsplit(private)
        url = urlunsplit((parts.scheme, parts.netloc, name, "", ""))
    try:
        ensure_database_exists(url)
        yield url
    finally:
        if cluster is not None:
            cluster.stop()


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def development_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url
    env.setdefault("DEBUG", "true")
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return env


def wait_for_http(url: str, timeout: float, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def start_localstripe(port: int) -> subprocess.Popen:
    """Start the Stripe stand-in on loopback, state kept in memory (see scripts/localstripe_server.py)."""
    return subprocess.Popen(
        [PYTHON, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(port), "--quiet"],
        cwd=ROOT,
    )


def command_run() -> int:
    children: list[subprocess.Popen] = []
    with database() as database_url:
        env = development_env(database_url)
        port = int(env.get("PORT") or free_port(8000))
        base_url = f"http://127.0.0.1:{port}"
        if not env.get("STRIPE_API_BASE") and not env.get("STRIPE_SECRET_KEY"):
            stripe_port = free_port(8420)
            stripe_url = f"http://127.0.0.1:{stripe_port}"
            env.update(
                STRIPE_API_BASE=stripe_url,
                STRIPE_JS_URL=f"{stripe_url}/js.stripe.com/v3/",
                STRIPE_SECRET_KEY="sk_test_localstripe",
                STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
                STRIPE_WEBHOOK_SECRET="whsec_localstripe_development",
            )
            say(f"Starting the Stripe stand-in (localstripe) on {stripe_url}")
            children.append(start_localstripe(stripe_port))
        env.setdefault("INVENTORY_API_URL", f"{base_url}/inventory/v1")
        env.setdefault("SHOP_URL", base_url)
        say("Migrating")
        manage("migrate", "--noinput", "-v", "0", env=env)
        say("Loading the demo catalogue")
        manage("seed_demo", env=env)
        manage(
            "ensure_staff",
            "--password-file",
            str(RUN_DIR / "staff-password"),
            "--url",
            f"{base_url}/admin/",
            env=env,
        )
        say("Starting the web server (uvicorn)")
        server = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ],
            env=env,
            cwd=ROOT,
        )
        children.append(server)
        say("Starting the background task worker (e-mails, retries)")
        children.append(
            subprocess.Popen(
                [PYTHON, str(ROOT / "manage.py"), "db_worker", "--no-reload", "--queue-name", "*"],
                env=env,
                cwd=ROOT,
            )
        )
        say("Starting the reservation expiry loop")
        children.append(
            subprocess.Popen(
                [PYTHON, str(ROOT / "manage.py"), "release_expired_reservations", "--every", "30"],
                env=env,
                cwd=ROOT,
            )
        )
        try:
            if not wait_for_http(f"{base_url}/healthz", 60, server):
                fail("the web server did not come up; see its output above")
            if env.get("STRIPE_API_BASE", "").startswith("http://127.0.0.1"):
                manage("localstripe_register_webhook", "--shop-url", base_url, env=env)
            print(flush=True)
            say(f"The shop is running at {base_url}/   (staff: {base_url}/admin/)")
            if env.get("STRIPE_API_BASE", "").startswith("http://127.0.0.1"):
                say(
                    "Payments go to a local Stripe stand-in: pay with 4242 4242 4242 4242, "
                    "any future date, any CVC"
                )
                say("(4000 0025 0000 3155 asks for 3-D Secure; 4000 0000 0000 0341 is declined)")
            say("Press Ctrl-C to stop it.")
            return server.wait()
        except KeyboardInterrupt:
            print(flush=True)
            say("Stopping")
            return 0
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests when it is missing (Playwright's own download
    is not used: it fetches a browser build from outside the package registries)."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        fail(
            "the browser tests need Chromium and it is not installed. "
            "Install Debian's package (apt-get install -y chromium) and run make test again."
        )
    say("Installing Chromium for the browser tests (Debian package)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([apt, "install", "-y", "-qq", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)


def command_test(pytest_args: list[str]) -> int:
    ensure_chromium()
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
        apt = shutil.which("apt-get")
        if os.geteuid() != 0 or apt is None:
            fail("the benchmarks need wrk: install it (Debian: apt-get install -y wrk), then run make bench.")
        say("Installing wrk (Debian package)")
        subprocess.run([apt, "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
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
    cluster = PrivateCluster(fast=False) if PRIVATE_PG_DIR.exists() else None
    if cluster and cluster.running():
        cluster.started_here = True
        cluster.stop()
    for path in (RUN_DIR, ROOT / "media", ROOT / "staticfiles", ROOT / ".venv"):
        shutil.rmtree(path, ignore_errors=True)
    say("Removed .run/, media/, staticfiles/ and .venv/")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "bench", "check", "clean", "install"}:
        print(__doc__)
        return 2
    RUN_DIR.mkdir(exist_ok=True)
    (ROOT / "staticfiles").mkdir(exist_ok=True)  # WhiteNoise warns when STATIC_ROOT is missing
    command, rest = argv[0], argv[1:]
    if command == "install":
        return 0
    try:
        if command == "run":
            return command_run()
        if command == "test":
            return command_test(rest)
        if command == "bench":
            return command_bench(rest)
        if command == "check":
            return command_check()
        return command_clean()
    except KeyboardInterrupt:
        return 130
    except subprocess.CalledProcessError as error:
        print(f"error: {' '.join(map(str, error.cmd))} exited with {error.returncode}", file=sys.stderr)
        return error.returncode or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
