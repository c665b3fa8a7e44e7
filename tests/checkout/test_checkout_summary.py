"""The checkout's summary lists each line at what the order will charge for it."""

import pytest

from tests.factories import product_with_stock

pytestmark = pytest.mark.django_db


def test_abroad_with_net_plus_destination_the_lines_show_what_is_charged(client, settings, shipping):
    settings.TAX_CROSS_BORDER = "net_plus_destination"
    variant = product_with_stock(title="Wool Beanie", price=1200).variants.get()
    client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})

    home = client.get("/checkout/totals/", {"country": "GB", "shipping_method": "standard"})
    abroad = client.get("/checkout/totals/", {"country": "DE", "shipping_method": "standard"})

    assert home.status_code == abroad.status_code == 200
    assert "£12.00" in home.json()["summary"]
    summary = " ".join(abroad.json()["summary"].split())
    # £12.00 incl. 20 % UK VAT is £10.00 net; plus German VAT at 19 %: 10.00 + 1.90 = £11.90.
    # Delivery £9.95 incl. 20 %: net 995 / 1.2 = 829.17 -> 829; + 19 % = 157.51 -> 158: £9.87.
    assert 'Wool Beanie <span class="muted">× 1</span></td><td class="num">£11.90</td>' in summary
    assert '<td class="num" data-total="subtotal">£11.90</td>' in summary
    assert '<td class="num" data-total="delivery">£9.87</td>' in summary
    assert '<td class="num" data-total="total">£21.77</td>' in summary


def test_delivery_priced_by_weight_takes_the_band_the_cart_weighs(client, shipping):
    from shipping.models import ShippingBand, ShippingMethod

    europe = ShippingMethod.objects.get(zone__name="Europe")
    europe.basis = ShippingMethod.Basis.WEIGHT
    europe.save()
    ShippingBand.objects.filter(method=europe).update(upper=2000)  # £9.95 up to 2 kg
    ShippingBand.objects.create(method=europe, lower=2000, price=1795)  # £17.95 from 2 kg
    variant = product_with_stock(title="Cast Iron Pan", price=4000).variants.get()
    variant.weight_grams = 1200
    variant.save()

    def delivery(quantity: int) -> str:
        client.post("/cart/update/", {"variant": variant.pk, "quantity": quantity})
        page = client.get("/checkout/totals/", {"country": "DE", "shipping_method": "standard"})
        assert page.status_code == 200
        return page.json()["summary"].split('data-total="delivery">')[1].split("<")[0]

    client.post("/cart/add/", {"variant": variant.pk, "quantity": 1})
    assert delivery(1) == "£9.95"  # 1,200 g
    assert delivery(2) == "£17.95"  # 2,400 g
