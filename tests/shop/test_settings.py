"""Production settings refuse insecure defaults; deployment checks pass."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables the test settings set for the suite; production must be judged without them.
REMOVED = {
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_COOKIES",
    "DATABASE_POOL",
    "INVENTORY_API_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
}
PRODUCTION_SECRETS = {
    "INVENTORY_API_TOKEN": "inv-" + "s" * 40,
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
}
STRONG_KEY = "k" * 10 + "Q7v!x2@pL9#mZ4$wR8^tY1&uI6*oP3(aS5)dF0" + "z" * 10


def run_python(code: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in REMOVED}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(PRODUCTION_SECRETS)
    # The checks may open the connection pool; point it at a database that always exists.
    server = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/shop")
    env["DATABASE_URL"] = urlunsplit(server._replace(path="/postgres"))
    env.update(env_overrides)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_refuses_to_start_without_a_secret_key():
    result = run_python("import django; django.setup()", DEBUG="false", ALLOWED_HOSTS="shop.example")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_the_development_key():
    result = run_python(
        "import django; django.setup()",
        DEBUG="false",
        ALLOWED_HOSTS="shop.example",
        SECRET_KEY="development-only-secret-key-never-use-in-production",
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = run_python("import django; django.setup()", DEBUG="false", SECRET_KEY=STRONG_KEY)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_deploy_checks_are_clean_with_production_settings():
    result = run_python(
        "import sys; from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        DEBUG="false",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="shop.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def production(code: str, **env_overrides: str) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() with production settings (and any overrides)."""
    env = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "shop.example.com", **env_overrides}
    return run_python("import django, json; django.setup(); from django.conf import settings; " + code, **env)


@pytest.mark.parametrize(
    "key",
    [
        "short-key",
        "x" * 60,  # long but not random
        "django-insecure-" + STRONG_KEY,  # Django's generated development key
        "",
    ],
)
def test_production_refuses_weak_secret_keys(key):
    result = run_python(
        "import django; django.setup()", DEBUG="false", ALLOWED_HOSTS="shop.example", SECRET_KEY=key
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a random value of at least 50 characters" in result.stderr


@pytest.mark.parametrize("hosts", ["shop.example.com", "localhost,shop.example.com", "*"])
def test_debug_is_refused_on_a_public_host(hosts):
    result = run_python("import django; django.setup()", DEBUG="true", ALLOWED_HOSTS=hosts)
    assert result.returncode != 0
    assert "DEBUG=true is for development" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"DEBUG": "true"},  # what `make run` sets: loopback hosts by default
        {"DEBUG": "true", "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],shop.localhost"},
        {"DEBUG": "true", "ALLOWED_HOSTS": "devbox.internal", "DJANGO_ENV": "development"},
    ],
)
def test_debug_runs_on_a_development_machine(env):
    result = run_python(
        "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)", **env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_settings_are_secure():
    names = [
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "SECURE_PROXY_SSL_HEADER",
        "X_FRAME_OPTIONS",
        "SECURE_CSP",
        "RATE_LIMIT_LOGIN",
        "RATE_LIMIT_PASSWORD_RESET",
        "RATE_LIMIT_PLACE_ORDER",
        "NUM_PROXIES",
        "DEBUG",
    ]
    result = production(
        "from django.middleware.csp import ContentSecurityPolicyMiddleware as CSP;"
        "from django.utils.module_loading import import_string;"
        f"values = {{name: getattr(settings, name) for name in {names!r}}};"
        "values['CSP_MIDDLEWARE'] = any("
        "isinstance(import_string(path), type) and issubclass(import_string(path), CSP)"
        " for path in settings.MIDDLEWARE);"
        "print(json.dumps(values))"
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["CSRF_COOKIE_SECURE"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 30
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and values["SECURE_HSTS_PRELOAD"]
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["X_FRAME_OPTIONS"] == "DENY"
    # No proxy declared: the X-Forwarded-Proto a client sends is not believed.
    assert values["SECURE_PROXY_SSL_HEADER"] is None and values["NUM_PROXIES"] == 0
    assert values["CSP_MIDDLEWARE"] is True
    assert (
        values["RATE_LIMIT_LOGIN"],
        values["RATE_LIMIT_PASSWORD_RESET"],
        values["RATE_LIMIT_PLACE_ORDER"],
    ) == (
        "10/5m",
        "5/15m",
        "20/10m",
    )
    csp = values["SECURE_CSP"]
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == [
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "<CSP_NONCE_SENTINEL>",
    ]
    assert csp["style-src"] == ["'self'", "<CSP_NONCE_SENTINEL>"]
    assert csp["frame-src"] == [
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    ]
    assert csp["connect-src"] == ["'self'", "https://api.stripe.com"]
    assert csp["frame-ancestors"] == csp["object-src"] == csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["upgrade-insecure-requests"] is True
    assert not any(
        "unsafe" in value for values_ in csp.values() if isinstance(values_, list) for value in values_
    )


def test_the_policy_follows_a_local_stripe_stand_in():
    result = production(
        "print(json.dumps(settings.SECURE_CSP))",
        DEBUG="true",
        ALLOWED_HOSTS="localhost,127.0.0.1",
        STRIPE_API_BASE="http://127.0.0.1:8420",
        STRIPE_JS_URL="http://127.0.0.1:8420/js.stripe.com/v3/",
    )
    assert result.returncode == 0, result.stderr
    csp = json.loads(result.stdout)
    assert csp["script-src"] == ["'self'", "http://127.0.0.1:8420", "<CSP_NONCE_SENTINEL>"]
    assert csp["frame-src"] == ["http://127.0.0.1:8420"]
    assert csp["connect-src"] == ["'self'", "http://127.0.0.1:8420"]
    assert csp["upgrade-insecure-requests"] is False  # development serves plain http


def test_a_proxy_is_believed_only_when_declared():
    result = production("print(json.dumps(settings.SECURE_PROXY_SSL_HEADER))", NUM_PROXIES="1")
    assert json.loads(result.stdout) == ["HTTP_X_FORWARDED_PROTO", "https"]
    result = production(
        "print(json.dumps(settings.SECURE_PROXY_SSL_HEADER))",
        NUM_PROXIES="1",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_SCHEME,https",
    )
    assert json.loads(result.stdout) == ["HTTP_X_FORWARDED_SCHEME", "https"]
    refused = production("", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO")
    assert refused.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in refused.stderr


def test_bad_rate_limits_fail_the_checks():
    result = run_python(
        "from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check'])",
        DEBUG="false",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="shop.example",
        RATE_LIMIT_LOGIN="lots",
    )
    assert result.returncode != 0
    assert "shop.E001" in result.stderr and "RATE_LIMIT_LOGIN" in result.stderr


# collectstatic has not run here, so the manifest storage would refuse every {% static %}.
RESPONSE_SCRIPT = """
from django.test import Client
from django.test.utils import override_settings
override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}}).enable()
client = Client(HTTP_HOST="shop.example.com")
plain = client.get("/account/login/")
behind_proxy = client.get("/account/login/", headers={"X-Forwarded-Proto": "https"})
secure = client.get("/account/login/", secure=True)
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location")],
    "proxy": [behind_proxy.status_code, behind_proxy.get("Location")],
    "secure": [secure.status_code, dict(secure.headers), {
        name: {key: morsel[key] for key in ("secure", "httponly", "samesite")}
        for name, morsel in secure.cookies.items()
    }],
}))
"""


def test_production_responses_are_https_only_with_security_headers():
    result = production(RESPONSE_SCRIPT)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["plain"] == [301, "https://shop.example.com/account/login/"]
    # Without a declared proxy a client's X-Forwarded-Proto changes nothing.
    assert seen["proxy"] == [301, "https://shop.example.com/account/login/"]
    status, headers, cookies = seen["secure"]
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=2592000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self' https://js.stripe.com" in policy
    assert "upgrade-insecure-requests" in policy
    assert cookies["csrftoken"] == {"secure": True, "httponly": True, "samesite": "Lax"}


def test_behind_a_declared_proxy_https_is_believed():
    result = production(RESPONSE_SCRIPT, NUM_PROXIES="1")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["plain"] == [301, "https://shop.example.com/account/login/"]
    assert seen["proxy"][0] == 200
