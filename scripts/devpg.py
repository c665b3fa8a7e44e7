"""PostgreSQL for the runner: the server at DATABASE_URL, or a private throwaway cluster under
the state directory (.run/postgres) started with the machine's PostgreSQL binaries."""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from devutil import RUN_DIR, fail, free_port, say, signals_held

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/shop"
PRIVATE_PG_DIR = RUN_DIR / "postgres"


def _connect(url: str, **options: object):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        connect_timeout=3,
        **options,
    )


def server_answers(url: str) -> bool:
    """Return True if a PostgreSQL server accepts connections for the URL's user."""
    import psycopg

    try:
        with _connect(url):
            return True
    except psycopg.Error:
        return False


def ensure_database_exists(url: str) -> None:
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/") or "shop"
    with _connect(url, autocommit=True) as connection:
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
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(shlex.quote, command))]


class PrivateCluster:
    """A throwaway PostgreSQL cluster under .run/postgres, on a free loopback port.

    Every command using it (`make run`, `make test`, ...) holds a shared flock on
    `users.lock` while it does; the last one to leave stops the cluster, so one command
    never stops the database under another, and none is left running when all are done."""

    def __init__(self, *, fast: bool, directory: Path = PRIVATE_PG_DIR) -> None:
        self.directory = directory
        self.data_dir = directory / "data"
        self.port_file = directory / "port"
        self.log_file = directory / "server.log"
        self.fast = fast
        self.bin_dir = postgres_bin_dir()
        self.users: TextIO | None = None
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

    def _initdb(self) -> None:
        say(f"Creating a private PostgreSQL cluster in {self.data_dir}")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        command = [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres"]
        command += ["--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
        subprocess.run(as_postgres_user(command), check=True, capture_output=True, text=True)

    def join(self) -> None:
        """Count this command among the cluster's users (a shared lock, dropped when it ends)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.users = open(self.directory / "users.lock", "a")  # noqa: SIM115 - held while in use
        fcntl.flock(self.users, fcntl.LOCK_SH)

    def start(self) -> str:
        self.join()
        # One command at a time decides whether to start it.
        with open(self.directory / "start.lock", "a") as starting:
            fcntl.flock(starting, fcntl.LOCK_EX)
            if self.running() and self.port_file.exists():
                self.port = int(self.port_file.read_text())
                say(f"Using the private PostgreSQL already running on port {self.port}")
                return self.url
            self._start()
        return self.url

    def _start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self.port = free_port(54329)
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if self.fast:
            # A throwaway test database need not survive a power cut.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        say(f"Starting the private PostgreSQL on 127.0.0.1:{self.port}")
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file)]
        command += ["-o", options, "-w", "-t", "60", "start"]
        # Its own session: a Ctrl-C meant for the runner must not reach the database, which is
        # stopped in order once the programs using it have stopped.
        result = subprocess.run(
            as_postgres_user(command), capture_output=True, text=True, start_new_session=True
        )
        if result.returncode != 0:
            log = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            fail(f"the private PostgreSQL did not start:\n{result.stdout}{result.stderr}{log}")
        self.port_file.write_text(str(self.port))

    def is_last_user(self) -> bool:
        """Return True (holding the users lock alone from then on) if no other command uses it."""
        assert self.users is not None
        try:
            fcntl.flock(self.users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def stop(self) -> None:
        """Leave the cluster; stop it if no other command still uses it."""
        if self.users is None:
            return
        with signals_held():
            try:
                if not self.is_last_user():
                    say("The private PostgreSQL is still used by another make run or make test: left running")
                elif self.running():
                    say("Stopping the private PostgreSQL")
                    self._pg_ctl("stop", "-m", "fast", check=False)
            finally:
                self.users.close()
                self.users = None


@contextlib.contextmanager
def database(*, fast: bool = False) -> Iterator[str]:
    """Yield a DATABASE_URL whose server answers and whose database exists."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    cluster = None
    try:
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
