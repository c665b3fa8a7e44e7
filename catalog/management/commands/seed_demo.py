"""Load the demo catalogue. Idempotent: running it again adds only what is missing."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from catalog.demo import (
    CATEGORIES,
    COLOURS,
    FINISHES,
    PROMOTIONS,
    TAX_RATES,
    ZONES,
    demo_image,
    image_name,
    product_spec,
)
from catalog.models import Category, Product, ProductImage, Variant
from catalog.option_types import images_to_colours, types_from_options
from catalog.services import TYPE_MODELS
from inventory.models import Stock
from promotions.models import Promotion
from promotions.staff import code_add, promotion_save
from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from taxes.models import TaxClass, TaxRate

BATCH_SIZE = 500
SWATCHES = {name: "#{:02x}{:02x}{:02x}".format(*rgb) for name, rgb in {**COLOURS, **FINISHES}.items()}


class Command(BaseCommand):
    help = "Create the demo catalogue: categories, products, variants, stock and images."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--products",
            type=int,
            default=240,
            help="How many products the catalogue should have (default 240).",
        )

    def handle(self, *args: object, products: int, verbosity: int, **options: object) -> None:
        if products < 0 or products > 1_000_000:
            self.stderr.write("--products must be between 0 and 1,000,000.")
            raise SystemExit(2)
        categories = self._categories()
        self._checkout_settings()
        self._promotions(categories)
        specs = [product_spec(index) for index in range(products)]
        missing = self._missing(specs, self._unique_slugs(specs))
        now = timezone.now()
        created_products = created_variants = 0
        with tqdm(
            total=len(missing), desc="Products", unit="product", disable=verbosity == 0 or None
        ) as progress:
            for start in range(0, len(missing), BATCH_SIZE):
                batch = missing[start : start + BATCH_SIZE]
                variant_count = self._create_batch(batch, categories, now)
                created_products += len(batch)
                created_variants += variant_count
                progress.update(len(batch))
        if created_products:
            # Fresh statistics, so the planner sees the catalogue as it now is.
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE catalog_product, catalog_variant, catalog_stock, catalog_productimage"
                )
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo catalogue ready: {len(categories)} categories, {products} products "
                    f"({created_products} new, {created_variants} new variants)."
                )
            )

    @staticmethod
    def _checkout_settings() -> None:
        """Add the demo's tax rates where none is set, and its delivery zones when there are none."""
        classes = {tax_class.code: tax_class for tax_class in TaxClass.objects.all()}
        for code, by_country in TAX_RATES.items():
            for country, rate in by_country.items():
                TaxRate.objects.get_or_create(
                    tax_class=classes[code], country=country, defaults={"rate": rate}
                )
        if ShippingZone.objects.exists():
            return
        for zone_position, zone_row in enumerate(ZONES):
            zone = ShippingZone.objects.create(
                name=zone_row["name"], countries=zone_row["countries"], position=zone_position
            )
            for position, row in enumerate(zone_row["methods"]):
                fields = {key: value for key, value in row.items() if key != "bands"}
                method = ShippingMethod.objects.create(zone=zone, position=position, **fields)
                ShippingBand.objects.bulk_create(
                    [ShippingBand(method=method, **band) for band in row["bands"]]
                )

    @staticmethod
    def _promotions(categories: dict[str, Category]) -> None:
        """Add the demo's sale and codes when the shop has no promotion yet."""
        if Promotion.objects.exists():
            return
        for row in PROMOTIONS:
            fields = {key: value for key, value in row.items() if key not in ("categories", "codes")}
            promotion = promotion_save(
                promotion=Promotion(**fields),
                categories=[categories[slug] for slug in row.get("categories", [])],
            )
            for code in row.get("codes", []):
                code_add(promotion=promotion, code=code, usage_limit=None)

    def _categories(self) -> dict[str, Category]:
        categories: dict[str, Category] = {}
        for position, row in enumerate(CATEGORIES):
            category, _ = Category.objects.get_or_create(
                slug=row["slug"],
                defaults={
                    "name": row["name"],
                    "description": row["description"],
                    "parent": categories.get(row.get("parent")),
                    "position": position,
                },
            )
            categories[row["slug"]] = category
        return categories

    @staticmethod
    def _missing(specs: list, slugs: list[str], chunk: int = 5000) -> list:
        """Return the (spec, slug) pairs not in the database yet. A demo product is known by its
        number (its SKUs start NW<number>-), so an older seeding whose titles differ is kept as it
        is, not made again; a slug taken by another product is left alone too."""
        missing = []
        for start in range(0, len(specs), chunk):
            pairs = list(zip(specs[start : start + chunk], slugs[start : start + chunk], strict=True))
            skus = Variant.objects.filter(sku__gte=f"NW{start:06d}-", sku__lt=f"NW{start + chunk:06d}-")
            numbers = {int(sku[2:8]) for sku in skus.values_list("sku", flat=True) if sku[2:8].isdigit()}
            taken = set(
                Product.objects.filter(slug__in=[slug for _, slug in pairs]).values_list("slug", flat=True)
            )
            missing += [
                (spec, slug) for spec, slug in pairs if spec.index not in numbers and slug not in taken
            ]
        return missing

    @staticmethod
    def _unique_slugs(specs: list) -> list[str]:
        seen: dict[str, int] = {}
        slugs = []
        for spec in specs:
            count = seen.get(spec.base_slug, 0) + 1
            seen[spec.base_slug] = count
            slugs.append(spec.base_slug if count == 1 else f"{spec.base_slug}-{count}")
        return slugs

    def _create_batch(self, batch: list, categories: dict[str, Category], now) -> int:
        images_needed = {variant.image_key for spec, _ in batch for variant in spec.variants}
        for noun, shade in images_needed:
            name = image_name(noun, shade)
            if not default_storage.exists(name):
                default_storage.save(name, ContentFile(demo_image(noun, shade)))
        tax_classes = {tax_class.code: tax_class for tax_class in TaxClass.objects.all()}
        with transaction.atomic():
            products = Product.objects.bulk_create(
                [
                    Product(
                        category=categories[spec.category_slug],
                        tax_class=tax_classes.get(spec.tax_class),
                        title=spec.title,
                        slug=slug,
                        description=spec.description,
                        is_featured=spec.is_featured,
                        price_from=min(variant.price for variant in spec.variants),
                        # Older indexes look older, so "newest" has a meaningful order.
                        created_at=now - timezone.timedelta(minutes=spec.index),
                    )
                    for spec, slug in batch
                ]
            )
            variants = Variant.objects.bulk_create(
                [
                    Variant(
                        product=product,
                        sku=variant.sku,
                        options=variant.options,
                        price=variant.price,
                        weight_grams=spec.grams,
                        position=position,
                    )
                    for product, (spec, _) in zip(products, batch, strict=True)
                    for position, variant in enumerate(spec.variants)
                ]
            )
            specs_flat = [variant for spec, _ in batch for variant in spec.variants]
            Stock.objects.bulk_create(
                [
                    Stock(variant=variant, on_hand=spec.on_hand)
                    for variant, spec in zip(variants, specs_flat, strict=True)
                ]
            )
            images = []
            for product, (spec, _) in zip(products, batch, strict=True):
                keys = list(dict.fromkeys(variant.image_key for variant in spec.variants))
                for position, (noun, shade) in enumerate(keys):
                    images.append(
                        ProductImage(
                            product=product,
                            image=image_name(noun, shade),
                            alt_text=f"{spec.title} in {shade}",
                            position=position,
                        )
                    )
            ProductImage.objects.bulk_create(images)
            self._types(products, variants)
        return len(variants)

    @staticmethod
    def _types(products: list[Product], variants: list[Variant]) -> None:
        """Give the new products their types and values, and their pictures their colours."""
        by_product: dict[int, list[Variant]] = {}
        for variant in variants:
            by_product.setdefault(variant.product_id, []).append(variant)
        pairs = [(product, by_product.get(product.pk, [])) for product in products]
        types_from_options(pairs, models=TYPE_MODELS, swatches=SWATCHES)
        made = ProductImage.objects.filter(product__in=products).select_related("product")
        images_to_colours(made, models=TYPE_MODELS)
