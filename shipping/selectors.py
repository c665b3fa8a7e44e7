"""Which delivery methods reach a country, and what each costs for a basket.

Every promise about delivery on the site (the home page, product pages, the cart's
"spend £x more") is read from here, never typed into a template.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django_countries import countries

from shipping.models import ShippingBand, ShippingMethod, ShippingZone


@dataclass(frozen=True)
class Basket:
    """What delivery is priced on: the goods' value as the catalogue prices it, and their weight."""

    value: int
    grams: int


@dataclass(frozen=True)
class DeliveryOffer:
    code: str
    name: str
    description: str
    estimate: str
    zone: str
    price: int  # for this basket, as catalogue prices carry tax
    free_over: int | None
    currency: str

    @property
    def is_free(self) -> bool:
        return self.price == 0

    def short_of_free(self, value: int) -> int | None:
        """Return how much more the goods must be worth to ship free (None: never; 0: already)."""
        return None if self.free_over is None else max(self.free_over - value, 0)


def _price(method: ShippingMethod, bands: list[ShippingBand], basket: Basket) -> int | None:
    """Return the method's price for the basket, or None when no band covers it."""
    if method.free_over is not None and basket.value >= method.free_over:
        return 0
    measure = basket.grams if method.basis == ShippingMethod.Basis.WEIGHT else basket.value
    for band in bands:
        if band.lower <= measure and (band.upper is None or measure < band.upper):
            return band.price
    return None


def _bands_query(country: str):
    return (
        ShippingBand.objects.filter(
            method__is_active=True,
            method__zone__is_active=True,
            method__zone__countries__contains=[country],
            method__currency=settings.SHOP_CURRENCY,
        )
        .select_related("method__zone")
        .order_by(
            "method__zone__position",
            "method__zone_id",
            "method__position",
            "method__name",
            "method_id",
            "lower",
        )
    )


def _offers(bands: list[ShippingBand], basket: Basket) -> list[DeliveryOffer]:
    by_method: dict[int, tuple[ShippingMethod, list[ShippingBand]]] = {}
    for band in bands:
        # Zones may not overlap (staff are refused); should two, the first by position serves.
        if band.method.zone_id == bands[0].method.zone_id:
            by_method.setdefault(band.method_id, (band.method, []))[1].append(band)
    offers = []
    for method, method_bands in by_method.values():
        price = _price(method, method_bands, basket)
        if price is not None:
            offers.append(
                DeliveryOffer(
                    code=method.code,
                    name=method.name,
                    description=method.description,
                    estimate=method.estimate,
                    zone=method.zone.name,
                    price=price,
                    free_over=method.free_over,
                    currency=method.currency,
                )
            )
    return offers


def delivery_offers(*, country: str, basket: Basket) -> list[DeliveryOffer]:
    """Return the methods that deliver this basket to `country`, cheapest zone order first (one query)."""
    return _offers(list(_bands_query(country)), basket)


async def adelivery_offers(*, country: str, basket: Basket) -> list[DeliveryOffer]:
    return _offers([band async for band in _bands_query(country)], basket)


@dataclass(frozen=True)
class DeliveryPromise:
    """What the shop can promise about delivery to its home country, for banners and product pages."""

    country: str
    cheapest: int | None  # the lowest price a small basket pays; None: no delivery there
    free_over: int | None  # the lowest free-delivery threshold; None: none
    currency: str

    @property
    def country_name(self) -> str:
        return countries.name(self.country) or self.country

    def short_of_free(self, value: int) -> int | None:
        """Return how much more goods worth `value` need to ship free (None: never; 0: they do)."""
        return None if self.free_over is None else max(self.free_over - value, 0)


async def ahome_delivery_promise() -> DeliveryPromise:
    """Return the promise for deliveries to SHOP_COUNTRY (one query)."""
    country = settings.SHOP_COUNTRY
    bands = [band async for band in _bands_query(country)]
    offers = _offers(bands, Basket(value=1, grams=1))
    thresholds = {band.method.free_over for band in bands if band.method.free_over is not None}
    return DeliveryPromise(
        country=country,
        cheapest=min((offer.price for offer in offers), default=None),
        free_over=min(thresholds, default=None),
        currency=settings.SHOP_CURRENCY,
    )


async def aserved_countries() -> list[tuple[str, str]]:
    """Return (code, name) of every country an active zone delivers to, by name (one query)."""
    codes: set[str] = set()
    async for zone_countries in ShippingZone.objects.filter(is_active=True).values_list(
        "countries", flat=True
    ):
        codes.update(zone_countries)
    return sorted(((code, countries.name(code) or code) for code in codes), key=lambda item: item[1])
