"""`make run` as a person uses it: stopped from a closed pipe, on a busy port, started twice.

The runner (scripts/devctl.py) runs as a real subprocess with its state directory
(SHOP_RUN_DIR) in a temporary folder, so the developer's own .run/ is never touched,
and everything it starts is killed at the end whatever happens.
"""

import contextlib
import fcntl
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "scripts" / "devctl.py"
sys.path.insert(0, str(ROOT / "scripts"))

import devctl  # noqa: E402
import devpg  # noqa: E402


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def run_dir():
    """A state directory the `postgres` user can enter (pytest's own tmp dirs are root-only)."""
    path = Path(tempfile.mkdtemp(prefix="shop-run-"))
    path.chmod(0o755)
    yield path
    data = path / "postgres" / "data"
    if (data / "postmaster.pid").exists():  # only if a test failed to see the cluster stopped
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        if psutil.pid_exists(postmaster):
            os.kill(postmaster, signal.SIGQUIT)
    shutil.rmtree(path, ignore_errors=True)


def runner_env(run_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("STRIPE_", "PORT"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(SHOP_RUN_DIR=str(run_dir), DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/shop")
    env.update(extra)
    return env


def start_runner(env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start `devctl.py run`; its stderr (and its children's logs) go to a file, never a full pipe."""
    errors = tempfile.TemporaryFile(mode="w+")
    runner = subprocess.Popen(
        [sys.executable, str(RUNNER), "run", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        start_new_session=True,  # its own group: the test can press "Ctrl-C" on it, and kill all of it
    )
    runner.errors = errors  # type: ignore[attr-defined]
    return runner


def finish(runner: subprocess.Popen, timeout: float) -> str:
    """Wait for the runner to end by itself; return what it wrote to stderr."""
    runner.wait(timeout=timeout)
    runner.errors.seek(0)  # type: ignore[attr-defined]
    return runner.errors.read()  # type: ignore[attr-defined]


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    process.errors.close()  # type: ignore[attr-defined]


def read_until(stream, text: str, timeout: float) -> list[str]:
    """Return the lines read from `stream` up to and including the first one containing `text`."""
    lines: list[str] = []
    found = threading.Event()

    def reader() -> None:
        for line in stream:
            lines.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    assert found.wait(timeout), f"{text!r} not printed within {timeout} s: {''.join(lines)}"
    return lines


def wait_gone(pids: set[int], timeout: float) -> set[int]:
    """Return the pids still alive (not zombies) after waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {pid for pid in alive if _running(pid)}
    return alive


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# Stopping -----------------------------------------------------------------------------


def test_printing_to_a_closed_stdout_raises_nothing():
    code = "import devutil\nfor _ in range(3):\n    devutil.say('Stopping')\ndevutil.blank_line()\n"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT / "scripts",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.stdout.close()  # the reader is gone before anything is printed, as `tee` after Ctrl-C
    stderr = child.stderr.read()
    assert child.wait(timeout=20) == 0, stderr
    assert stderr == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    "how",
    ["ctrl-c to the whole group", "sigterm to the runner", "sighup to the runner"],
)
def test_stopping_with_its_output_pipe_closed_stops_the_database_and_every_child(run_dir, how):
    """`make run | tee log`, then Ctrl-C: tee dies first, so every message about stopping
    goes to a closed pipe. The private cluster and every child must stop all the same."""
    runner = start_runner(runner_env(run_dir, PORT=str(closed_port())))
    try:
        read_until(runner.stdout, "Press Ctrl-C to stop it.", timeout=120)
        children = {child.pid for child in psutil.Process(runner.pid).children(recursive=True)}
        pid_file = run_dir / "postgres" / "data" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        assert len(children) >= 4 and _running(postmaster)
        runner.stdout.close()
        if how == "ctrl-c to the whole group":
            os.killpg(runner.pid, signal.SIGINT)
        else:
            runner.send_signal(signal.SIGTERM if how == "sigterm to the runner" else signal.SIGHUP)
        stderr = finish(runner, timeout=60)
        # (A child may still complain that its own last words found the pipe closed.)
        assert "scripts/dev" not in stderr, stderr
        assert wait_gone(children | {postmaster}, timeout=10) == set()
        assert not pid_file.exists()
        assert json.loads((run_dir / "shop.lock").read_text() or "{}") == {}
    finally:
        kill_group(runner)


def test_the_private_cluster_is_stopped_by_the_last_command_using_it_not_the_first():
    """`make run` started the cluster, then `make test` joined it: the run ending first must not
    stop the database under the tests; whoever leaves last stops it."""
    with tempfile.TemporaryDirectory(prefix="shop-pg-") as directory:
        Path(directory).chmod(0o755)
        first = devpg.PrivateCluster(fast=True, directory=Path(directory) / "postgres")
        second = devpg.PrivateCluster(fast=True, directory=Path(directory) / "postgres")
        try:
            url = first.start()
            assert second.start() == url
            first.stop()
            assert second.running() and devpg.server_answers(url)
            second.stop()
            assert not second.running()
        finally:
            for cluster in (first, second):
                if cluster.running():
                    cluster._pg_ctl("stop", "-m", "immediate", check=False)


# Ports --------------------------------------------------------------------------------


@pytest.fixture
def other_server():
    """Another program on a loopback port, answering 200 to every GET (with no run token)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"someone else")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_busy_port_given_as_port_is_refused_before_anything_starts(other_server):
    port = other_server.server_address[1]
    with tempfile.TemporaryDirectory() as state:
        runner = start_runner(runner_env(Path(state), PORT=str(port)))
        try:
            stderr = finish(runner, timeout=30)
        finally:
            kill_group(runner)
        assert runner.returncode == 1
        assert f"port {port} (PORT={port}) is in use by another program" in stderr
        assert "The shop is running" not in stderr
        assert not (Path(state) / "postgres").exists()


def test_another_server_answering_on_the_port_is_never_taken_for_the_shop(other_server):
    """Only an answer carrying this run's token counts: anything else on the port is a stranger."""
    base_url = f"http://127.0.0.1:{other_server.server_address[1]}"
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        problem = devctl.wait_for_own_server(base_url, "token-of-this-run", 1.5, stand_in)
    finally:
        stand_in.kill()
        stand_in.wait()
    assert problem == f"another program answers on port {other_server.server_address[1]}, " + (
        "so the shop's server could not use it"
    )


def test_the_server_started_by_the_run_is_recognised_by_its_token():
    token = "token-of-this-run"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)  # the database is still coming up: an answer all the same
            self.send_header(devctl.RUN_TOKEN_HEADER, token)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        problem = devctl.wait_for_own_server(
            f"http://127.0.0.1:{server.server_address[1]}", token, 10, stand_in
        )
    finally:
        stand_in.kill()
        stand_in.wait()
        server.shutdown()
        server.server_close()
    assert problem == ""


def test_healthz_carries_the_run_token_only_when_one_is_set():
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from shop.views import RUN_TOKEN_HEADER\n"
        "print(Client().get('/healthz').headers.get(RUN_TOKEN_HEADER, '-'))\n"
    )
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="config.test_settings", DATABASE_URL="postgres://x@127.0.0.1:1/x"
    )
    env.update(DATABASE_POOL="false")
    with_token = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "SHOP_RUN_TOKEN": "abc"},
        capture_output=True,
        text=True,
    )
    env.pop("SHOP_RUN_TOKEN", None)
    without = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert with_token.stdout.strip().splitlines()[-1] == "abc", with_token.stderr
    assert without.stdout.strip().splitlines()[-1] == "-", without.stderr


# A second run -------------------------------------------------------------------------


def test_a_second_run_says_where_the_first_one_runs(other_server):
    with tempfile.TemporaryDirectory() as state:
        lock_path = Path(state) / "shop.lock"
        with open(lock_path, "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            held.write(json.dumps({"pid": 4242, "url": "http://127.0.0.1:8000/", "root": "/somewhere"}))
            held.flush()
            runner = start_runner(runner_env(Path(state)))
            try:
                stderr = finish(runner, timeout=30)
            finally:
                kill_group(runner)
        assert runner.returncode == 1
        assert "the shop is already running at http://127.0.0.1:8000/, PID 4242" in stderr
        assert "`kill 4242`" in stderr
        assert not (Path(state) / "postgres").exists()


def test_a_lock_file_left_by_a_run_that_died_is_ignored(other_server):
    """Nobody holds the lock: the run goes on (here to the busy port it was given, and stops there)."""
    port = other_server.server_address[1]
    with tempfile.TemporaryDirectory() as state:
        (Path(state) / "shop.lock").write_text(json.dumps({"pid": 4242, "url": "http://127.0.0.1:8000/"}))
        runner = start_runner(runner_env(Path(state), PORT=str(port)))
        try:
            stderr = finish(runner, timeout=30)
        finally:
            kill_group(runner)
        assert "already running" not in stderr
        assert f"port {port} (PORT={port}) is in use" in stderr
