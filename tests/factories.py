import factory
from django.contrib.auth import get_user_model

from catalog.models import Category, Product, ProductImage, Variant
from checkout.models import Cart, CartLine, Order, OrderDiscount, OrderLine, Payment, Refund
from inventory.models import Stock
from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from taxes.models import TaxClass, TaxRate


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = "A useful thing."
    price_from = 1000
    currency = "GBP"


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    options = factory.LazyFunction(dict)
    price = 1000
    currency = "GBP"


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stock

    variant = factory.SubFactory(VariantFactory)
    on_hand = 10


class ProductImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.Sequence(lambda n: f"products/test-{n}.jpg")
    alt_text = "A picture"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password("correct horse battery")

    @factory.post_generation
    def roles(user, create: bool, extracted, **kwargs) -> None:
        """Staff get every role unless `roles=[...]` names theirs (as staff had before roles)."""
        if not create or not user.is_staff or user.is_superuser:
            return
        from django.contrib.auth.models import Group

        from accounts.roles import ROLES, roles_ensure

        roles_ensure()
        user.groups.set(Group.objects.filter(name__in=ROLES if extracted is None else extracted))


class OrderFactory(factory.django.DjangoModelFactory):
    """A paid order for £12.00 (no lines), numbered as the shop numbers them."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"NW{900001 + n}")
    checkout_key = factory.LazyAttribute(lambda order: f"key-{order.number}")
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    full_name = "Ann Walker"
    line1 = "1 Road"
    city = "Kendal"
    postcode = "LA9 4DT"
    country = "GB"
    shipping_method_code = "standard"
    shipping_method_name = "Standard"
    currency = "GBP"
    subtotal = 1200
    shipping_total = 0
    tax_total = 0
    total = 1200
    payment_status = Order.PaymentStatus.PAID


class OrderLineFactory(factory.django.DjangoModelFactory):
    """One item of an order at £12.00, its price snapshot adding up."""

    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    variant = None
    sku = factory.Sequence(lambda n: f"LINE-{n:05d}")
    product_title = "Enamel Mug"
    unit_price = 1200
    quantity = 1
    line_total = factory.LazyAttribute(lambda line: line.unit_price * line.quantity)
    net = factory.LazyAttribute(lambda line: line.line_total)


class PaymentFactory(factory.django.DjangoModelFactory):
    """A succeeded payment of the whole order."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    payment_intent_id = factory.Sequence(lambda n: f"pi_factory{n:06d}")
    amount = factory.LazyAttribute(lambda payment: payment.order.total)
    currency = factory.LazyAttribute(lambda payment: payment.order.currency)
    status = Payment.Status.SUCCEEDED
    amount_received = factory.LazyAttribute(
        lambda payment: payment.amount if payment.status == Payment.Status.SUCCEEDED else 0
    )


class RefundFactory(factory.django.DjangoModelFactory):
    """A £5.00 refund that Stripe made on a succeeded payment."""

    class Meta:
        model = Refund

    payment = factory.SubFactory(PaymentFactory)
    order = factory.SelfAttribute("payment.order")
    stripe_refund_id = factory.Sequence(lambda n: f"re_factory{n:06d}")
    amount = 500
    currency = factory.SelfAttribute("payment.currency")
    status = Refund.Status.SUCCEEDED


class TaxClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaxClass
        django_get_or_create = ["code"]

    code = "standard"
    name = factory.LazyAttribute(lambda tax_class: f"{tax_class.code.title()} rate")


class TaxRateFactory(factory.django.DjangoModelFactory):
    """The standard rate in the UK, 20 %."""

    class Meta:
        model = TaxRate

    tax_class = factory.SubFactory(TaxClassFactory)
    country = "GB"
    rate = 20


class ShippingZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingZone

    name = "United Kingdom"
    countries = factory.LazyFunction(lambda: ["GB"])


class ShippingMethodFactory(factory.django.DjangoModelFactory):
    """A method priced by order value; pass `price` for its one band from 0 up."""

    class Meta:
        model = ShippingMethod
        skip_postgeneration_save = True

    zone = factory.SubFactory(ShippingZoneFactory)
    code = "standard"
    name = "Standard"
    currency = "GBP"

    @factory.post_generation
    def price(method, create, extracted, **kwargs):
        if create and extracted is not None:
            ShippingBand.objects.create(method=method, lower=0, price=extracted)


class ShippingBandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingBand

    method = factory.SubFactory(ShippingMethodFactory)
    lower = 0
    upper = None
    price = 495


class CartFactory(factory.django.DjangoModelFactory):
    """A guest's empty cart (pass `user` for a signed-in shopper's)."""

    class Meta:
        model = Cart


class CartLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory)
    quantity = 1


def product_with_stock(
    *,
    title: str = "Product",
    price: int = 1000,
    on_hand: int = 10,
    options: dict | None = None,
    **product_fields,
) -> Product:
    """Return a product with one variant and its stock; price_from matches the variant."""
    product = ProductFactory(title=title, price_from=price, **product_fields)
    variant = VariantFactory(product=product, price=price, options=options or {})
    StockFactory(variant=variant, on_hand=on_hand)
    return product


def order_codes(order: Order) -> tuple[str, ...]:
    """Return the codes the order was discounted with, in the order they were applied."""
    rows = OrderDiscount.objects.filter(order=order, kind=OrderDiscount.Kind.CODE).order_by("position")
    return tuple(rows.values_list("code", flat=True))


def order_code_discount(
    order: Order, *, code: str, name: str, amount: int, delivery: int = 0, promotion=None
) -> OrderDiscount:
    """Record on `order` that `code` of `promotion` (a new 10 % off one when None) took `amount`
    off it, of which `delivery` off delivery."""
    from promotions.models import Promotion

    if promotion is None:
        promotion = Promotion.objects.create(name=name, reward="percent", percent=10)
    return OrderDiscount.objects.create(
        order=order, promotion=promotion, kind="code", code=code, name=name, amount=amount, delivery=delivery
    )
