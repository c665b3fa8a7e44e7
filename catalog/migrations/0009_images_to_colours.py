"""Tie existing images to the colour their alt text names ("… in Navy")."""

from django.db import migrations

from catalog.option_types import images_to_colours


def forwards(apps, schema_editor):
    ProductImage = apps.get_model("catalog", "ProductImage")
    images = ProductImage.objects.filter(colour__isnull=True, product__product_type__isnull=False)
    images_to_colours(images.select_related("product").iterator(chunk_size=500), models={"OptionValue": apps.get_model("catalog", "OptionValue")})


class Migration(migrations.Migration):
    dependencies = [("catalog", "0008_productimage_colour")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
