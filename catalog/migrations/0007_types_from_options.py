"""Give every product whose variants carry options a product type with those axes, and each variant
its values: what was typed as {"size": "M", "colour": "Navy"} becomes rows, exactly."""

from django.db import migrations

from catalog.option_types import types_from_options

NAMES = ["Product", "ProductType", "OptionAxis", "OptionValue", "VariantOption"]


def forwards(apps, schema_editor):
    models = {name: apps.get_model("catalog", name) for name in NAMES}
    products = models["Product"].objects.filter(variants__options__gt={}).distinct().prefetch_related("variants")
    pairs = ((product, list(product.variants.all())) for product in products.iterator(chunk_size=500))
    types_from_options(pairs, models=models)


def backwards(apps, schema_editor):
    apps.get_model("catalog", "VariantOption").objects.all().delete()
    apps.get_model("catalog", "Product").objects.update(product_type=None)
    apps.get_model("catalog", "ProductType").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_product_types_and_option_axes")]

    operations = [migrations.RunPython(forwards, backwards)]
