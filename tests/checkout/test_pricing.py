from decimal import Decimal

from checkout.pricing import tax_amount, totals_compute


def test_totals_add_shipping_and_tax_on_goods_plus_shipping():
    totals = totals_compute(
        currency="GBP",
        subtotal=2999,
        shipping_price=495,
        free_over=7500,
        tax_name="VAT",
        tax_rate=Decimal("0.2"),
    )
    assert (totals.subtotal, totals.shipping, totals.tax, totals.total) == (2999, 495, 699, 4193)


def test_shipping_is_free_from_the_threshold():
    at = totals_compute(
        currency="GBP", subtotal=7500, shipping_price=495, free_over=7500, tax_name="VAT", tax_rate=Decimal(0)
    )
    below = totals_compute(
        currency="GBP", subtotal=7499, shipping_price=495, free_over=7500, tax_name="VAT", tax_rate=Decimal(0)
    )
    never = totals_compute(
        currency="GBP",
        subtotal=10**7,
        shipping_price=995,
        free_over=None,
        tax_name="VAT",
        tax_rate=Decimal(0),
    )
    assert (at.shipping, below.shipping, never.shipping) == (0, 495, 995)


def test_tax_rounds_half_up_to_a_whole_minor_unit():
    assert tax_amount(taxable=1, rate=Decimal("0.5")) == 1
    assert tax_amount(taxable=3, rate=Decimal("0.19")) == 1  # 0.57
    assert tax_amount(taxable=2, rate=Decimal("0.2")) == 0  # 0.4
    assert tax_amount(taxable=12345, rate=Decimal("0.2300")) == 2839  # 2839.35
