"""Settings for the shop, read from the environment (and a `.env` file when present).

Development works with no `.env` when DEBUG is on; production (DEBUG off) refuses
to start without a real SECRET_KEY and ALLOWED_HOSTS.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

_DEVELOPMENT_SECRET_KEY = "development-only-secret-key-never-use-in-production"  # noqa: S105 - refused when DEBUG is off
SECRET_KEY = env.str("SECRET_KEY", default=_DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and (
    SECRET_KEY == _DEVELOPMENT_SECRET_KEY
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
    or SECRET_KEY.startswith("django-insecure")
):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off."
    )

_LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=_LOOPBACK_HOSTS if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
# DEBUG pages show settings, SQL and source code to whoever sees an error: on a
# machine reached by a public name it is refused unless development is declared.
if (
    DEBUG
    and env.str("DJANGO_ENV", default="") != "development"
    and not all(host in _LOOPBACK_HOSTS or host.endswith(".localhost") for host in ALLOWED_HOSTS)
):
    raise ImproperlyConfigured(
        "DEBUG=true is for development: it is refused when ALLOWED_HOSTS names anything but this "
        "machine's loopback names. Turn DEBUG off, or set DJANGO_ENV=development on a development machine."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_tasks_db",
    "django_countries",
    "shop",
    "taxes",
    "shipping",
    "catalog",
    "promotions",
    "inventory",
    "checkout",
    "accounts",
    "dashboard",
]

MIDDLEWARE = [
    # Django's own middleware, subclassed so that under ASGI their hooks run in the
    # event loop rather than two thread hops each (see shop/middleware.py).
    "shop.middleware.SecurityMiddleware",
    "shop.middleware.ContentSecurityPolicyMiddleware",
    "shop.middleware.StaticFilesMiddleware",
    "shop.middleware.unstorable_cookie_middleware",
    "shop.middleware.SessionMiddleware",
    "shop.middleware.CommonMiddleware",
    "shop.middleware.CsrfViewMiddleware",
    "shop.middleware.AuthenticationMiddleware",
    "shop.middleware.resolve_user_middleware",
    "shop.middleware.MessageMiddleware",
    "shop.middleware.XFrameOptionsMiddleware",
    "shop.middleware.private_pages_middleware",
]
# Django's deploy checks for these three look for its own middleware paths; the
# subclasses above are checked by class instead (shop/checks.py).
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "config.urls"
# Django's error report, able to show a request whose query string is the error (shop/errors.py).
DEFAULT_EXCEPTION_REPORTER = "shop.errors.ExceptionReporter"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.context_processors.shop",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# PostgreSQL only. Under ASGI every request runs in a new thread, so persistent
# connections are never reused: use psycopg's pool and CONN_MAX_AGE = 0.
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/shop"),
}
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Pooled connections are checked before use: after the database restarts or the network
# drops, a dead connection is replaced instead of failing the request that draws it.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
if env.bool("DATABASE_POOL", default=True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        # How long a request may wait for a free connection. Every request takes one
        # first thing, so a burst (a sale opening) queues here, and a wait that gives up
        # is an error page: long enough for a burst to drain, shorter than the balancer's
        # 60 s read timeout so that the shop still answers first.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=30.0),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Product images are served by the app itself unless a web server or object store does it.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
# Pictures staff upload: at most this many bytes each, and this many pixels (a "decompression bomb"
# of a few KB can claim billions).
IMAGE_UPLOAD_MAX_BYTES = env.int("IMAGE_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Messages live in a cookie: the session store would need a synchronous
# database read while an async view renders its template.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

SESSION_COOKIE_SECURE = not DEBUG and env.bool("SECURE_COOKIES", default=True)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# The payment page's script reads the token from its form, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "shop.errors.csrf_failure"
# How many load balancers or proxies of ours stand in front of the shop, each appending
# the address it was reached from to X-Forwarded-For (see shop.ratelimit.client_ip).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# A TLS-terminating proxy tells the shop the request came over https in this header,
# "<META name>,<value>" (default HTTP_X_FORWARDED_PROTO,https when NUM_PROXIES > 0).
# Only trust it when every request passes through a proxy that sets or strips it.
_proxy_ssl_header = env.list(
    "SECURE_PROXY_SSL_HEADER", default=["HTTP_X_FORWARDED_PROTO", "https"] if NUM_PROXIES else []
)
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise ImproperlyConfigured(
        'SECURE_PROXY_SSL_HEADER is "<header>,<value>", e.g. HTTP_X_FORWARDED_PROTO,https.'
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if _proxy_ssl_header else None
SECURE_CONTENT_TYPE_NOSNIFF = True
# Order pages carry their secret link in the URL: never send it to another site.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
# The inventory API is exempt: the checkout calls it in its own process over plain http
# on loopback (INVENTORY_API_URL), and an API client would not follow the redirect anyway.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^inventory/v1/"]
X_FRAME_OPTIONS = "DENY"

# EMAIL_URL, e.g. smtp+tls://user:password@smtp.example.com:587 or consolemail://
_email = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
_smtp_options = {
    "host": _email.get("EMAIL_HOST"),
    "port": _email.get("EMAIL_PORT"),
    "username": _email.get("EMAIL_HOST_USER"),
    "password": _email.get("EMAIL_HOST_PASSWORD"),
    "use_tls": _email.get("EMAIL_USE_TLS", False),
    "use_ssl": _email.get("EMAIL_USE_SSL", False),
    "timeout": 10,
}
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": (
            {key: value for key, value in _smtp_options.items() if value not in (None, "")}
            if _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Northwind Supply <shop@localhost>")

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Rendered product grids, per process, for as long as their listing page is kept
    # (CATALOG_LISTING_CACHE_SECONDS); in memory, so a template may read it from async code.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "fragments",
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}

LOGIN_URL = "account:login"
LOGIN_REDIRECT_URL = "account:home"
LOGOUT_REDIRECT_URL = "catalog:home"

# Background work that must not be lost (e-mails, webhook follow-ups) goes through
# Django's tasks framework on a persistent queue in PostgreSQL; `manage.py
# db_worker` runs it. Switching BACKEND (e.g. to Redis) moves the same tasks.
TASKS = {"default": {"BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend")}}

# Shop
SHOP_NAME = env.str("SHOP_NAME", default="Northwind Supply")
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="GBP")
# Where shoppers reach the shop, for links in e-mails (e.g. https://shop.example.com).
SHOP_URL = env.str("SHOP_URL", default="http://127.0.0.1:8000").rstrip("/")
# Tax. Catalogue and delivery prices include tax (VAT) by default, as UK and EU consumers
# must be shown them; false for a shop that adds tax on top (US-style, or B2B). Tax is
# rounded half up once per line ("line") or once per rate over the order ("order"). With
# prices including tax, a destination whose rate differs from the home country's pays
# the same gross price ("same_gross") or the home net price plus its own tax
# ("net_plus_destination").
SHOP_COUNTRY = env.str("SHOP_COUNTRY", default="GB")
PRICES_INCLUDE_TAX = env.bool("PRICES_INCLUDE_TAX", default=SHOP_CURRENCY in {"GBP", "EUR"})
TAX_ROUNDING = env.str("TAX_ROUNDING", default="line")
TAX_CROSS_BORDER = env.str("TAX_CROSS_BORDER", default="same_gross")
TAX_NAME = env.str("TAX_NAME", default="VAT")
TAX_DEFAULT_CLASS = "standard"  # the tax class of a product that names none
# The seller named on VAT receipts.
SHOP_LEGAL_NAME = env.str("SHOP_LEGAL_NAME", default="Northwind Supply Ltd")
SHOP_ADDRESS = env.str("SHOP_ADDRESS", default="1 Harbour Street, Bristol BS1 4AA, United Kingdom")
SHOP_VAT_NUMBER = env.str("SHOP_VAT_NUMBER", default="GB 123 4567 89")
PRODUCTS_PER_PAGE = env.int("PRODUCTS_PER_PAGE", default=24)
# How long each process keeps the category tree and option facets (0: read them every time).
CATALOG_CACHE_SECONDS = env.int("CATALOG_CACHE_SECONDS", default=60)
CATALOG_LISTING_CACHE_SECONDS = env.int("CATALOG_LISTING_CACHE_SECONDS", default=10)
# How long each process keeps the sales it read (whether each runs is still decided on the second).
SALES_CACHE_SECONDS = env.int("SALES_CACHE_SECONDS", default=5)

# Inventory API: served by `catalog` under /inventory/v1/, called by checkout over HTTP.
# By default the checkout reaches this same process; point it at any service
# that speaks the contract (inventory/openapi.yaml).
INVENTORY_API_URL = env.str("INVENTORY_API_URL", default="http://127.0.0.1:8000/inventory/v1")
_DEVELOPMENT_INVENTORY_TOKEN = "development-inventory-token"  # noqa: S105 - refused when DEBUG is off
INVENTORY_API_TOKEN = env.str("INVENTORY_API_TOKEN", default=_DEVELOPMENT_INVENTORY_TOKEN if DEBUG else "")
if not DEBUG and (not INVENTORY_API_TOKEN or INVENTORY_API_TOKEN == _DEVELOPMENT_INVENTORY_TOKEN):
    raise ImproperlyConfigured("INVENTORY_API_TOKEN must be set to a secret value when DEBUG is off.")
INVENTORY_API_TIMEOUT = env.float("INVENTORY_API_TIMEOUT", default=5.0)
INVENTORY_API_MAX_CONNECTIONS = env.int("INVENTORY_API_MAX_CONNECTIONS", default=50)
RESERVATION_TTL = env.int("RESERVATION_TTL", default=15 * 60)  # seconds
# Benchmarks only: a bare async view at /bench/ping, the ceiling the pages are compared with.
BENCH_ENDPOINTS = env.bool("BENCH_ENDPOINTS", default=False)
# Benchmark baseline only: make the PaymentIntent and the reservation one after the other.
CHECKOUT_SEQUENTIAL_OUTSIDE_CALLS = env.bool("CHECKOUT_SEQUENTIAL_OUTSIDE_CALLS", default=False)

# Stripe. STRIPE_API_BASE empty means real Stripe; development and tests point
# it at a local stand-in (localstripe) and load its Stripe.js from STRIPE_JS_URL.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_development" if DEBUG else "")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_development" if DEBUG else "")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_development" if DEBUG else "")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_TIMEOUT = env.float("STRIPE_TIMEOUT", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
STRIPE_WEBHOOK_TOLERANCE = 300  # seconds a signature stays valid
STRIPE_WEBHOOK_MAX_BYTES = 256 * 1024
if not DEBUG and not (STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY and STRIPE_WEBHOOK_SECRET must be set when DEBUG is off."
    )


# Content-Security-Policy, sent by Django's ContentSecurityPolicyMiddleware in every mode.
# Scripts, styles, images and requests stay on the shop's own origin, except on the payment
# page: Stripe.js, the frames it opens (card field, 3-D Secure) and Stripe's API. An inline
# <script> or <style> needs nonce="{{ csp_nonce }}"; inline event handlers and style=""
# attributes are refused.
def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


if _origin(STRIPE_JS_URL) == "https://js.stripe.com":
    _stripe_scripts = ["https://js.stripe.com", "https://*.js.stripe.com"]
    _stripe_frames = [*_stripe_scripts, "https://hooks.stripe.com"]
    _stripe_api = [_origin(STRIPE_API_BASE) if STRIPE_API_BASE else "https://api.stripe.com"]
else:
    # A stand-in such as localstripe serves its Stripe.js and its API from one origin.
    _stripe_scripts = _stripe_frames = [_origin(STRIPE_JS_URL)]
    _stripe_api = sorted({_origin(STRIPE_JS_URL), _origin(STRIPE_API_BASE or STRIPE_JS_URL)})
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, *_stripe_scripts, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF, *_stripe_api],
    "frame-src": _stripe_frames,
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
    "upgrade-insecure-requests": SECURE_SSL_REDIRECT,
}

# Per-client rate limits, "<count>/<period>" with the period in s, m, h or d, or "off".
# Counted in PostgreSQL (shop.ratelimit), so every worker and replica shares them; the
# client is its IP address (see NUM_PROXIES), and for sign-in, reset and sign-up also the
# e-mail typed.
RATE_LIMIT_LOGIN = env.str("RATE_LIMIT_LOGIN", default="10/5m")
RATE_LIMIT_PASSWORD_RESET = env.str("RATE_LIMIT_PASSWORD_RESET", default="5/15m")
# Different items one cart may hold; 0 means the inventory API's limit per reservation
# (inventory.services.RESERVATION_MAX_LINES), which is also the most it may be set to.
CART_MAX_LINES = env.int("CART_MAX_LINES", default=0)
RATE_LIMIT_PLACE_ORDER = env.str("RATE_LIMIT_PLACE_ORDER", default="20/10m")
# Discount codes tried, per client address and per cart: guessing codes is slow.
RATE_LIMIT_DISCOUNT_CODE = env.str("RATE_LIMIT_DISCOUNT_CODE", default="10/10m")
RATE_LIMIT_SIGNUP = env.str("RATE_LIMIT_SIGNUP", default="10/h")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default config gives "django" a console handler of its own (with DEBUG on) that
        # also propagates to the root's: every line under django.* (django.tasks: one per task
        # the worker runs) came out twice. One handler, the root's, prints everything.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},  # a line per glyph table when a receipt PDF embeds a font
    },
}
