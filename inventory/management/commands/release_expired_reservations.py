"""Expire held reservations whose time has passed and give their stock back.

Run once (e.g. from cron), or keep running with `--every SECONDS` as the
periodic task. Several copies may run at once: each reservation is expired once.
"""

import logging
import signal
import threading
from types import FrameType

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from inventory.services import reservations_expire

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Expire held reservations past their expiry time and give their stock back."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--every",
            type=float,
            metavar="SECONDS",
            help="Keep running, expiring reservations every SECONDS, until interrupted (Ctrl-C or SIGTERM).",
        )

    def handle(self, *args: object, every: float | None, **options: object) -> None:
        if every is None:
            self._report(reservations_expire(), always=True)
            return
        if not 0 < every <= 24 * 60 * 60:
            raise CommandError("--every must be more than 0 and at most 86400 seconds.")
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        # Finish the batch in hand rather than die inside a transaction.
        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while not stop.is_set():
                # Drop a connection the database closed (restart, idle timeout) before using it.
                close_old_connections()
                try:
                    self._report(reservations_expire(), always=False)
                except DatabaseError:
                    logger.exception("Expiring reservations failed; trying again in %s s", every)
                stop.wait(every)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            close_old_connections()
        self.stdout.write("Stopped.")

    def _report(self, count: int, *, always: bool) -> None:
        if count or always:
            self.stdout.write(f"Expired {count} reservation{'' if count == 1 else 's'}.")
