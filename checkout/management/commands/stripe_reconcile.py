"""Bring orders in line with Stripe: apply missed events and PaymentIntents whose state disagrees."""

from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from checkout.reconcile import areconcile
from shop.exceptions import ShopError


def since_argument(value: str) -> datetime:
    """Accept an ISO date or time ('2026-11-01', '2026-11-01T09:00') or a duration ('24h', '7d')."""
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1:] in units and value[:-1].isdigit():
        return timezone.now() - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"not a date, time or duration: {value!r}") from error
    return moment if moment.tzinfo else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Compare Stripe's recent PaymentIntents and events with our orders and repair what disagrees."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=since_argument,
            default="24h",
            help="How far back: an ISO date/time or a duration such as 24h or 7d (default 24h).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; change nothing."
        )

    def handle(self, *args: object, since: datetime, dry_run: bool, **options: object) -> None:
        with tqdm(desc="Checking", unit="item", disable=None, file=self.stderr) as bar:
            try:
                report = async_to_sync(areconcile)(since=since, dry_run=dry_run, progress=bar.update)
            except ShopError as error:
                raise CommandError(f"Stripe could not be read: {error}") from error
        for line in report.actions:
            self.stdout.write(f"  {line}")
        mode = " (dry run: nothing changed)" if dry_run else ""
        summary = ", ".join(f"{count} {kind}" for kind, count in report.counts.items()) or "nothing to repair"
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {report.checked_intents} PaymentIntents and {report.checked_events} events since "
                f"{since:%Y-%m-%d %H:%M}: {summary}{mode}."
            )
        )
