"""ASGI entry point: `uvicorn config.asgi:application --lifespan off`."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from shop.asgi import ShopASGIHandler  # noqa: E402 - needs the apps loaded

application = ShopASGIHandler()
