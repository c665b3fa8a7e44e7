"""An order's money and goods get their own states; its own status becomes open, canceled or closed.

Existing orders are carried over from the one status they had, with the shipment
time, payments and refunds telling what it had hidden; going back maps them home.
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Exists, OuterRef, Q

SHIPPED = Q(fulfilled_at__isnull=False)


def states_split(apps, schema_editor):
    Order = apps.get_model("checkout", "Order")
    Payment = apps.get_model("checkout", "Payment")
    Refund = apps.get_model("checkout", "Refund")
    orders = Order.objects.all()
    orders.filter(status="pending_payment").update(
        status="open", payment_status="awaiting", fulfilment_status="unfulfilled"
    )
    orders.filter(status="paid").update(status="open", payment_status="paid", fulfilment_status="unfulfilled")
    orders.filter(status="fulfilled").update(
        status="closed", payment_status="paid", fulfilment_status="fulfilled"
    )
    canceled = orders.filter(status="canceled")
    canceled.update(payment_status="voided", fulfilment_status="unfulfilled")
    # Money taken and given back: the canceled order's payment is refunded, not voided.
    canceled.filter(
        Exists(Payment.objects.filter(order=OuterRef("pk"), status="succeeded", amount_received__gt=0)),
        Exists(Refund.objects.filter(order=OuterRef("pk"), status__in=["succeeded", "pending"])),
    ).update(payment_status="refunded")
    for old in ("refunded", "partially_refunded"):
        orders.filter(SHIPPED, status=old).update(
            status="closed", payment_status=old, fulfilment_status="fulfilled"
        )
        orders.filter(~SHIPPED, status=old).update(
            status="closed" if old == "refunded" else "open",
            payment_status=old,
            fulfilment_status="unfulfilled",
        )


def states_join(apps, schema_editor):
    orders = apps.get_model("checkout", "Order").objects.all()
    orders.filter(payment_status="voided").update(status="canceled")
    kept = orders.exclude(status="canceled")
    kept.filter(payment_status="awaiting").update(status="pending_payment")
    kept.filter(payment_status__in=["refunded", "partially_refunded"]).update(
        status=models.F("payment_status")
    )
    paid = kept.filter(payment_status="paid")
    paid.filter(fulfilment_status="unfulfilled").update(status="paid")
    paid.exclude(fulfilment_status="unfulfilled").update(status="fulfilled")


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0006_address_moves_to_accounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="order",
            name="order_awaiting_fulfilment",
        ),
        migrations.AddField(
            model_name="order",
            name="fulfilment_status",
            field=models.CharField(
                choices=[
                    ("unfulfilled", "Not shipped"),
                    ("partially_fulfilled", "Partly shipped"),
                    ("fulfilled", "Shipped"),
                ],
                default="unfulfilled",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="payment_status",
            field=models.CharField(
                choices=[
                    ("awaiting", "Awaiting payment"),
                    ("paid", "Paid"),
                    ("partially_refunded", "Partially refunded"),
                    ("refunded", "Refunded"),
                    ("voided", "Voided"),
                ],
                default="awaiting",
                max_length=20,
            ),
        ),
        migrations.RunPython(states_split, states_join),
        migrations.AlterField(
            model_name="order",
            name="status",
            field=models.CharField(
                choices=[("open", "Open"), ("canceled", "Canceled"), ("closed", "Closed")],
                default="open",
                max_length=20,
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(
                    ("fulfilment_status__in", ["unfulfilled", "partially_fulfilled"]),
                    ("payment_status__in", ["paid", "partially_refunded"]),
                    ("status", "open"),
                ),
                fields=["paid_at"],
                name="order_awaiting_fulfilment",
            ),
        ),
    ]
