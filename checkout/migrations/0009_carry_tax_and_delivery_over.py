"""Carry the old flat tables over: each country's tax rate becomes the standard class's rate
there, the delivery methods become a zone of the countries the shop offered, and each order
placed so far gets the tax snapshot the new receipts show, worked out from what it charged."""

from fractions import Fraction
from math import floor

from django.db import migrations

OLD_COUNTRIES = ["GB", "IE", "FR", "DE", "NL", "BE", "ES", "IT", "SE", "DK", "US", "CA"]


def _shares(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` into whole parts adding up to it (largest remainder)."""
    whole = sum(weights)
    if whole == 0:
        return [total] + [0] * (len(weights) - 1)
    exact = [Fraction(total * weight, whole) for weight in weights]
    parts = [floor(value) for value in exact]
    for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))[: total - sum(parts)]:
        parts[i] += 1
    return parts


def rates_and_methods_over(apps, schema_editor):
    OldRate = apps.get_model("checkout", "TaxRate")
    OldMethod = apps.get_model("checkout", "ShippingMethod")
    TaxClass = apps.get_model("taxes", "TaxClass")
    TaxRate = apps.get_model("taxes", "TaxRate")
    Zone = apps.get_model("shipping", "ShippingZone")
    Method = apps.get_model("shipping", "ShippingMethod")
    Band = apps.get_model("shipping", "ShippingBand")
    standard = TaxClass.objects.get(code="standard")
    for old in OldRate.objects.all():
        TaxRate.objects.get_or_create(
            tax_class=standard, country=old.country, defaults={"rate": old.rate * 100}
        )
    methods = list(OldMethod.objects.all())
    if methods:
        zone = Zone.objects.create(name="Everywhere we deliver", countries=OLD_COUNTRIES)
        for old in methods:
            method = Method.objects.create(
                zone=zone,
                code=old.code,
                name=old.name,
                description=old.description,
                currency=old.currency,
                free_over=old.free_over,
                is_active=old.is_active,
                position=old.position,
            )
            Band.objects.create(method=method, lower=0, price=old.price)


def orders_over(apps, schema_editor):
    """Share each old order's tax (on goods and delivery together) out to its lines and delivery."""
    Order = apps.get_model("checkout", "Order")
    OrderLine = apps.get_model("checkout", "OrderLine")
    OrderTax = apps.get_model("checkout", "OrderTax")
    for order in Order.objects.filter(prices_include_tax=False).iterator():
        lines = list(OrderLine.objects.filter(order=order).order_by("id"))
        parts = _shares(order.tax_total, [line.line_total for line in lines] + [order.shipping_total])
        for line, tax in zip(lines, parts, strict=False):
            line.net, line.tax, line.tax_rate = line.line_total, tax, order.tax_rate * 100
        OrderLine.objects.bulk_update(lines, ["net", "tax", "tax_rate"])
        order.shipping_tax = parts[-1]
        order.save(update_fields=["shipping_tax"])
        OrderTax.objects.create(
            order=order,
            rate=order.tax_rate * 100,
            net=order.subtotal + order.shipping_total,
            tax=order.tax_total,
        )


def orders_back(apps, schema_editor):
    Order = apps.get_model("checkout", "Order")
    OrderTax = apps.get_model("checkout", "OrderTax")
    OrderTax.objects.filter(order__prices_include_tax=False).delete()
    Order.objects.filter(prices_include_tax=False).update(shipping_tax=0)


class Migration(migrations.Migration):
    dependencies = [
        ("checkout", "0008_order_tax_snapshot"),
        ("taxes", "0002_tax_classes"),
        ("shipping", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(rates_and_methods_over, migrations.RunPython.noop),
        migrations.RunPython(orders_over, orders_back),
    ]
