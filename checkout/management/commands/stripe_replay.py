"""Apply a stored Stripe event again, e.g. one whose first application failed."""

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkout import webhooks
from checkout.models import WebhookEvent
from shop.exceptions import ShopError


class Command(BaseCommand):
    help = "Re-apply a stored Stripe event by its id (idempotent: nothing is counted twice)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event_id", help="Stripe's event id, e.g. evt_1Q…")

    def handle(self, *args: object, event_id: str, **options: object) -> None:
        stored = WebhookEvent.objects.filter(stripe_event_id=event_id).first()
        if stored is None:
            raise CommandError(
                f"No stored event {event_id}. (stripe_reconcile fetches events we never received.)"
            )
        try:
            outcome = async_to_sync(webhooks.aevent_apply)(stored, force=True)
        except ShopError as error:
            raise CommandError(f"{stored.type} {event_id} failed again: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"{stored.type} {event_id}: {outcome}"))
