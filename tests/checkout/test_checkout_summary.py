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
