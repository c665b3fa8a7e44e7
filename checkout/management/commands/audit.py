"""Check the shop's invariants (orders, payments, refunds, stock) and report what does not hold."""

from django.core.management.base import BaseCommand, CommandError

from checkout.audit import audit_run


class Command(BaseCommand):
    help = (
        "Check that paid orders have their payment and stock, stock adds up with reservations, refunds "
        "stay within payments and canceled orders keep nothing. Exits non-zero if any check fails."
    )

    def handle(self, *args: object, **options: object) -> None:
        report = audit_run()
        if report.passed:
            self.stdout.write(self.style.SUCCESS(report.text()))
            return
        self.stdout.write(report.text())
        raise CommandError(f"{len(report.failed)} of {len(report.results)} audit checks failed.")
