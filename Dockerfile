# syntax=docker/dockerfile:1
#
# Stages:
#   app          (default, last) the shop: uvicorn serving config.asgi:application
#   stripe-mock  localstripe, a fake Stripe for local use only
#
#   docker build -t shop .                                 # -> app
#   docker build --target stripe-mock -t shop-stripe-mock .

ARG PYTHON_IMAGE=python:3.13-slim

# ---------------------------------------------------------------- base
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# Unprivileged account the containers run as.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app

# ---------------------------------------------------------------- runtime dependencies
# Only requirements.txt: a source change does not reinstall dependencies.
# Every pinned package ships a manylinux wheel, so no compiler is needed.
FROM base AS deps
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --requirement /tmp/requirements.txt

# ---------------------------------------------------------------- localstripe dependencies
# localstripe at the version pinned in requirements-dev.txt, with its own
# dependencies held to the versions pinned there too (used as constraints, so
# nothing else from the dev list is installed). The `-r` line is dropped: inside
# a constraints file pip would treat the nested file as requirements.
FROM base AS stripe-deps
RUN python -m venv /opt/venv
COPY requirements.txt requirements-dev.txt /tmp/
RUN grep -hvE '^[[:space:]]*(-r|--requirement)' /tmp/requirements.txt /tmp/requirements-dev.txt \
        > /tmp/constraints.txt \
 && grep -q '^localstripe==' /tmp/constraints.txt \
 && /opt/venv/bin/pip install --constraint /tmp/constraints.txt localstripe

# ---------------------------------------------------------------- stripe-mock
# Fake Stripe for development and the compose demo. Never use in production.
# State is kept in /tmp/localstripe.pickle (lost when the container is removed).
FROM base AS stripe-mock
COPY --from=stripe-deps /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
USER app
WORKDIR /tmp
EXPOSE 8420
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8420/js.stripe.com/v3/', timeout=4)"]
CMD ["localstripe", "--port", "8420"]

# ---------------------------------------------------------------- app (default)
FROM base AS app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media
WORKDIR /app
COPY --from=deps /opt/venv /opt/venv
COPY . .
# The source and collected static files stay root-owned (read-only for the app
# user); only MEDIA_ROOT is writable. The SECRET_KEY and ALLOWED_HOSTS here are
# throwaway values for collectstatic only: they are not stored in the image.
# collectstatic runs with DEBUG off, so WhiteNoise's compressed manifest is built.
RUN SECRET_KEY=build-time-only-collectstatic-key-never-used-at-runtime-0123456789 \
    ALLOWED_HOSTS=localhost \
    DATABASE_POOL=false \
        python manage.py collectstatic --noinput \
 && python -m compileall -q /app \
 && install -d -o app -g app -m 0755 /app/media
USER app
EXPOSE 8000
# /healthz is 200 when the database answers, 503 (urlopen raises) otherwise.
# The Host header is the first usable ALLOWED_HOSTS entry so Django accepts it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; h = next((x.strip().lstrip('.') for x in os.environ.get('ALLOWED_HOSTS', '').split(',') if x.strip() not in ('', '*')), 'localhost'); r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=4)"]
# Shell only to expand WEB_WORKERS; exec makes uvicorn PID 1 so it gets SIGTERM.
CMD ["sh", "-c", "exec uvicorn config.asgi:application --host 0.0.0.0 --port 8000 --lifespan off --workers \"${WEB_WORKERS:-2}\""]
