"""Development only: ask the local Stripe stand-in (localstripe) to send its events to this shop."""

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from checkout.webhooks import HANDLERS


class Command(BaseCommand):
    help = "Register this shop's webhook endpoint with localstripe (not needed with real Stripe)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--shop-url", required=True, help="Where localstripe reaches the shop, e.g. http://web:8000"
        )

    def handle(self, *args: object, shop_url: str, **options: object) -> None:
        if not settings.STRIPE_API_BASE:
            raise CommandError(
                "STRIPE_API_BASE is empty: this shop talks to real Stripe; configure webhooks there."
            )
        endpoint = f"{shop_url.rstrip('/')}/webhooks/stripe/"
        try:
            response = httpx.post(
                f"{settings.STRIPE_API_BASE.rstrip('/')}/_config/webhooks/shop",
                # Only the types the shop acts on, as a Stripe endpoint is set up in production.
                json={"url": endpoint, "secret": settings.STRIPE_WEBHOOK_SECRET, "events": sorted(HANDLERS)},
                timeout=10,
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise CommandError(f"localstripe did not accept the webhook: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(f"localstripe will deliver {', '.join(sorted(HANDLERS))} to {endpoint}")
        )
