"""Settings for the test suite: the real settings, made fast and hermetic."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 48)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SECURE_COOKIES", "false")
# Tests share one connection per thread; a pool would hide connection leaks.
os.environ.setdefault("DATABASE_POOL", "false")
os.environ.setdefault("INVENTORY_API_TOKEN", "test-inventory-token")
os.environ.setdefault("STRIPE_SECRET_KEY", "sk_test_suite")
os.environ.setdefault("STRIPE_PUBLISHABLE_KEY", "pk_test_suite")
os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_test_suite")

from config.settings import *  # noqa: E402,F403
from config.settings import BASE_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = BASE_DIR / ".run" / "test-media"
SECURE_HSTS_SECONDS = 0
# Tests change the catalogue between requests; they read it fresh (one test covers the cache).
CATALOG_CACHE_SECONDS = 0
CATALOG_LISTING_CACHE_SECONDS = 0
SALES_CACHE_SECONDS = 0
