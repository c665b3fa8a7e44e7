"""Each log line is printed once, whichever logger it comes from, with DEBUG on or off."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EMIT = """
import logging
import django
django.setup()
logging.getLogger("django.tasks").info("task line")  # what the db_worker logs for each task
logging.getLogger("django_tasks_db").info("worker line")
logging.getLogger("django.request").warning("request line")
logging.getLogger("checkout.services").info("shop line")
"""


@pytest.mark.parametrize("debug", ["true", "false"])
def test_every_logger_prints_each_line_once(debug):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.test_settings", DEBUG=debug, LOG_LEVEL="INFO")
    env.update(DJANGO_ENV="development")  # DEBUG on, as under make run
    result = subprocess.run(
        [sys.executable, "-c", EMIT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    for message in ("task line", "worker line", "request line", "shop line"):
        assert sum(message in line for line in lines) == 1, (message, lines)
