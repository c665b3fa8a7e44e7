"""The three staff roles, and every staff account that is not a superuser put in all three, so
that nobody loses what they could do before roles existed."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from accounts.roles import roles_ensure


def forwards(apps, schema_editor):
    for app_config in apps.get_app_configs():  # permissions are otherwise made after migrating
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    groups = roles_ensure(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))
    User = apps.get_model("auth", "User")
    for user in User.objects.filter(is_staff=True, is_superuser=False):
        user.groups.add(*groups.values())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_alter_address_country"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0009_images_to_colours"),
        ("checkout", "0013_order_discounts_and_sale_prices"),
        ("inventory", "0001_initial"),
        ("promotions", "0003_sales_and_combinable_codes"),
        ("shipping", "0001_initial"),
        ("taxes", "0002_tax_classes"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
