from django.db import migrations, models
from django.db.models import F


def received_is_what_was_asked(apps, schema_editor):
    """Before Stripe's own figure was kept, a succeeded payment was taken to have received its amount."""
    Payment = apps.get_model("checkout", "Payment")
    Payment.objects.filter(status="succeeded").update(amount_received=F("amount"))


class Migration(migrations.Migration):
    dependencies = [("checkout", "0004_shipping_notice")]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="amount_received",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.RunPython(received_is_what_was_asked, migrations.RunPython.noop),
    ]
