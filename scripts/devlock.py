"""The lock a running `make run` holds, so that a second one says where the first runs."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from devutil import ROOT, RUN_DIR, fail

LOCK_FILE = RUN_DIR / "shop.lock"


class RunLock:
    """The lock a running `make run` holds (flock on .run/shop.lock), with its PID and URL inside.

    The kernel drops the lock when its process ends, however it ends, so a file left by a
    process that died is simply taken over."""

    def __init__(self, path: Path = LOCK_FILE) -> None:
        self.path = path
        self.file = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the whole run
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _lock_info(handle.read())
            handle.close()
            fail(already_running_message(holder))
        self.file = handle
        self.note(url="")

    def note(self, *, url: str) -> None:
        """Record who holds the lock and, once it answers, where the shop is."""
        assert self.file is not None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(json.dumps({"pid": os.getpid(), "url": url, "root": str(ROOT)}) + "\n")
        self.file.flush()

    def release(self) -> None:
        if self.file is not None:
            self.file.truncate(0)
            self.file.close()
            self.file = None


def _lock_info(text: str) -> dict:
    try:
        info = json.loads(text)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def already_running_message(holder: dict) -> str:
    pid = holder.get("pid", "?")
    where = f"at {holder['url']}" if holder.get("url") else "(still starting)"
    return (
        f"the shop is already running {where}, PID {pid}, started by `make run` in "
        f"{holder.get('root', ROOT)}.\n"
        f"       Use that one, or stop it first (Ctrl-C in its terminal, or `kill {pid}`), "
        "then run `make run` again."
    )
