from django.db import migrations

CLASSES = [
    ("standard", "Standard rate"),
    ("reduced", "Reduced rate"),
    ("zero", "Zero rate"),
    ("exempt", "Exempt"),
]


def classes_create(apps, schema_editor):
    TaxClass = apps.get_model("taxes", "TaxClass")
    for position, (code, name) in enumerate(CLASSES):
        TaxClass.objects.get_or_create(code=code, defaults={"name": name, "position": position})


class Migration(migrations.Migration):
    dependencies = [("taxes", "0001_initial")]

    operations = [migrations.RunPython(classes_create, migrations.RunPython.noop)]
