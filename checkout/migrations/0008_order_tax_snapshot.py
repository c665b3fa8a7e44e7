import django.db.models.deletion
import django_countries.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0007_order_payment_and_fulfilment_states"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderTax",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("rate", models.DecimalField(decimal_places=3, max_digits=6)),
                ("net", models.PositiveBigIntegerField()),
                ("tax", models.PositiveBigIntegerField()),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="taxes", to="checkout.order"
                    ),
                ),
            ],
            options={"ordering": ["rate"]},
        ),
        migrations.AddConstraint(
            model_name="ordertax",
            constraint=models.UniqueConstraint(fields=("order", "rate"), name="ordertax_one_per_rate"),
        ),
        # Orders placed before this migration had tax added on top of their prices.
        migrations.AddField(
            model_name="order", name="prices_include_tax", field=models.BooleanField(default=False)
        ),
        migrations.AlterField(
            model_name="order", name="prices_include_tax", field=models.BooleanField(default=True)
        ),
        migrations.AddField(
            model_name="order", name="shipping_tax", field=models.PositiveBigIntegerField(default=0)
        ),
        migrations.AddField(model_name="orderline", name="net", field=models.PositiveBigIntegerField(default=0)),
        migrations.AddField(model_name="orderline", name="tax", field=models.PositiveBigIntegerField(default=0)),
        migrations.AddField(
            model_name="orderline",
            name="tax_rate",
            field=models.DecimalField(decimal_places=3, default=0, max_digits=6),
        ),
        migrations.AlterField(
            model_name="order", name="country", field=django_countries.fields.CountryField(max_length=2)
        ),
    ]
