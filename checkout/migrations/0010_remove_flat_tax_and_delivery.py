from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0009_carry_tax_and_delivery_over"),
    ]

    operations = [
        migrations.RemoveField(model_name="order", name="tax_rate"),
        migrations.DeleteModel(name="ShippingMethod"),
        migrations.DeleteModel(name="TaxRate"),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.CheckConstraint(
                condition=models.Q(shipping_tax__lte=models.F("tax_total")), name="order_shipping_tax"
            ),
        ),
    ]
