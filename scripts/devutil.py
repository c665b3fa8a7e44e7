"""What every devctl command shares: where state lives, printing that never stops the work,
loopback ports, and child processes that stop with the runner."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where the runner keeps its state (private cluster, lock, staff password); tests point it elsewhere.
RUN_DIR = Path(os.environ.get("SHOP_RUN_DIR") or ROOT / ".run").resolve()
PYTHON = sys.executable
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
except (OSError, AttributeError):
    _prctl = None


def _silence(stream: object) -> None:
    """Point a closed stream's file descriptor at /dev/null, so later writes (and the flush at
    exit) succeed quietly instead of raising BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _write(stream: object, text: str) -> None:
    try:
        print(text, file=stream, flush=True)  # type: ignore[arg-type]
    except (OSError, ValueError):
        # The reader went away (`make run | tee log` after Ctrl-C): keep working without output.
        _silence(stream)


def say(message: str) -> None:
    _write(sys.stdout, f"==> {message}")


def blank_line() -> None:
    _write(sys.stdout, "")


class Failure(Exception):
    """A problem the runner explains in one message and exits 1 for."""


def fail(message: str) -> None:
    raise Failure(message)


def report_failure(message: str) -> None:
    _write(sys.stderr, f"error: {message}")


def _stop_requested(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_on_signals() -> None:
    """Treat SIGTERM and SIGHUP (terminal closed) like Ctrl-C: unwind and stop what was started."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_requested)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ignore a second Ctrl-C (or SIGTERM, SIGHUP) while stopping, so the stop runs to its end."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def die_with_parent() -> None:
    """In a child between fork and exec: ask Linux to send SIGTERM when the parent dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(command: list[str], **options: object) -> subprocess.Popen:
    """Start a child that gets SIGTERM if the runner itself is killed."""
    return subprocess.Popen(command, preexec_fn=die_with_parent, **options)  # type: ignore[call-overload]


def stop_children(children: list[subprocess.Popen], timeout: float = 10) -> None:
    """Ask every child still running to stop (SIGINT, as Ctrl-C would), then kill any that linger."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGINT)
    for child in children:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


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
