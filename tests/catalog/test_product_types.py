"""Product types and option axes: the migration makes them from the options variants carried,
exactly; the demo seed and the admin's edits keep them; the database refuses what cannot be."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from catalog.models import OptionAxis, OptionValue, Product, ProductType, Variant, VariantOption
from catalog.services import product_options_sync
from tests.factories import ProductFactory, VariantFactory

BEFORE = [("catalog", "0005_product_tax_class_variant_weight_grams")]
AFTER = [("catalog", "0007_types_from_options")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_the_latest():
    """Leave the database migrated to the end, as the tests after this one expect it."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def typed(variant_id: int) -> dict[str, str]:
    """Return a variant's values on each axis as rows say them, by axis name."""
    rows = VariantOption.objects.filter(variant_id=variant_id).select_related("axis", "value")
    return {row.axis.name: row.value.value for row in rows}


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_each_product_the_type_its_options_name(back_to_the_latest):
    old = _migrate(BEFORE)
    Category, Product_, Variant_ = (
        old.get_model("catalog", name) for name in ("Category", "Product", "Variant")
    )
    category = Category.objects.create(name="Clothing", slug="clothing")
    jumper = Product_.objects.create(category=category, title="Jumper", slug="jumper")
    chinos = Product_.objects.create(category=category, title="Chinos", slug="chinos")
    plain = Product_.objects.create(category=category, title="Mug", slug="mug")
    made = {}
    for sku, product, options in [
        ("J-L-NAVY", jumper, {"size": "L", "colour": "Navy"}),
        ("J-XS-CREAM", jumper, {"size": "XS", "colour": "Cream"}),
        ("J-M-NAVY", jumper, {"size": "M", "colour": "Navy"}),
        ("C-32", chinos, {"waist": 32}),
        ("C-28", chinos, {"waist": 28}),
        ("MUG", plain, {}),
    ]:
        made[sku] = Variant_.objects.create(product=product, sku=sku, options=options, price=1000).pk

    new = _migrate(AFTER)  # its models: the live ones may have columns later migrations add
    Product_, Variant_ = new.get_model("catalog", "Product"), new.get_model("catalog", "Variant")

    clothing = Product_.objects.get(slug="jumper").product_type
    assert clothing.name == "Size and colour"
    assert [(axis.name, axis.label, axis.is_colour) for axis in clothing.axes.all()] == [
        ("size", "Size", False),
        ("colour", "Colour", True),
    ]
    size, colour = clothing.axes.all()
    assert list(size.values.values_list("value", flat=True)) == ["XS", "M", "L"]  # as worn
    assert list(colour.values.values_list("value", flat=True)) == ["Cream", "Navy"]
    waist = Product_.objects.get(slug="chinos").product_type.axes.get()
    assert list(waist.values.values_list("value", flat=True)) == ["28", "32"]  # by number
    assert Product_.objects.get(slug="mug").product_type is None
    for sku, variant_id in made.items():
        options = {name: str(value) for name, value in Variant_.objects.get(pk=variant_id).options.items()}
        assert typed(variant_id) == options, sku
    assert VariantOption.objects.count() == 3 * 2 + 2


@pytest.mark.django_db
def test_an_admin_edit_of_the_options_rewrites_the_type_and_the_values():
    product = ProductFactory()
    variant = VariantFactory(product=product, options={"colour": "Navy"})
    product_options_sync(product_id=product.pk)
    assert product.__class__.objects.get(pk=product.pk).product_type.name == "Colour"
    assert typed(variant.pk) == {"colour": "Navy"}

    Variant.objects.filter(pk=variant.pk).update(options={"colour": "Rust", "size": "M"})
    product_options_sync(product_id=product.pk)
    product.refresh_from_db()
    assert product.product_type.name == "Size and colour"  # PostgreSQL keeps JSON keys shortest first
    assert typed(variant.pk) == {"colour": "Rust", "size": "M"}

    Variant.objects.filter(pk=variant.pk).update(options={})
    product_options_sync(product_id=product.pk)
    product.refresh_from_db()
    # No option left: no values, and the type chosen stays (its variants may be made from it).
    assert product.product_type.name == "Size and colour" and not VariantOption.objects.exists()


@pytest.mark.django_db
def test_the_demo_seed_types_every_product_with_options_and_colours_have_swatches():
    call_command("seed_demo", products=40, verbosity=0)
    with_options = Product.objects.filter(variants__options__gt={}).distinct()
    assert with_options.exists() and not with_options.filter(product_type__isnull=True).exists()
    rows = sum(len(variant.options) for variant in Variant.objects.all())
    assert VariantOption.objects.count() == rows
    colours = OptionValue.objects.filter(axis__is_colour=True)
    assert colours.exists() and not colours.filter(swatch="").exists()
    assert all(len(value.swatch) == 7 and value.swatch.startswith("#") for value in colours)
    call_command("seed_demo", products=40, verbosity=0)  # again: nothing doubled
    assert VariantOption.objects.count() == rows and ProductType.objects.count() == len(
        set(ProductType.objects.values_list("name", flat=True))
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make",
    [
        lambda: VariantFactory(price=2000, compare_at_price=2000),  # "was" must be above the price
        lambda: OptionValue.objects.create(
            axis=OptionAxis.objects.create(
                product_type=ProductType.objects.create(name="T", slug="t"), name="c"
            ),
            value="Navy",
            swatch="navy",
        ),
        lambda: [
            OptionAxis.objects.create(
                product_type=ProductType.objects.get_or_create(name="U", slug="u")[0], name="c"
            )
            for _ in range(2)
        ],
    ],
    ids=["compare-at-not-above-price", "swatch-not-hex", "axis-twice-on-a-type"],
)
def test_the_database_refuses_what_cannot_be(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.django_db
def test_a_type_staff_chose_is_kept_when_its_axes_are_the_options():
    hats = ProductType.objects.create(name="Hats", slug="hats")
    OptionAxis.objects.create(product_type=hats, name="colour", label="Colour", is_colour=True)
    OptionValue.objects.create(axis=hats.axes.get(), value="Navy", swatch="#1f2d5a")
    product = ProductFactory(product_type=hats)
    variant = VariantFactory(product=product, options={"colour": "Navy"})
    product_options_sync(product_id=product.pk)
    product.refresh_from_db()
    assert product.product_type == hats
    assert VariantOption.objects.get(variant=variant).value.swatch == "#1f2d5a"
