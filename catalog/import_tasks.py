"""Catalogue imports as background tasks: the check (a dry run) and, once staff confirm, the
import, each counting its progress on its ImportJob. Running either twice does no harm: the check
writes nothing and the import is idempotent."""

from __future__ import annotations

import logging
import time

from django.contrib.auth import get_user_model
from django.db.models import F
from django.tasks import task

from catalog.csv_format import read
from catalog.importer import CHANGE, CREATE, REFUSE, SAME, catalogue_import
from catalog.models import ImportJob

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 1.0  # seconds between progress writes


def _run(job_id: int, *, commit: bool) -> None:
    running, finished = (
        (ImportJob.Status.IMPORTING, ImportJob.Status.DONE)
        if commit
        else (ImportJob.Status.CHECKING, ImportJob.Status.CHECKED)
    )
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None or (commit and job.status not in (ImportJob.Status.IMPORTING, ImportJob.Status.CHECKED)):
        return
    products, problems = read(job.content)
    ImportJob.objects.filter(pk=job_id).update(status=running, total=len(products), processed=0)
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY or done == total:
            ImportJob.objects.filter(pk=job_id).update(processed=done)
            last[0] = time.monotonic()

    actor = get_user_model().objects.filter(pk=job.created_by_id).first()
    try:
        report = catalogue_import(products, dry_run=not commit, actor=actor, progress=progress)
    except Exception as error:  # recorded for staff, then raised for the worker's log and retry
        ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.FAILED, error=str(error)[:2000])
        raise
    outcomes = [
        {"handle": o.handle, "line": o.line, "action": o.action, "reasons": o.reasons}
        for o in report.outcomes
    ]
    outcomes += [{"handle": "", "line": line, "action": REFUSE, "reasons": [why]} for line, why in problems]
    ImportJob.objects.filter(pk=job_id).update(
        status=finished,
        outcomes=outcomes,
        counts={action: report.count(action) for action in (CREATE, CHANGE, SAME, REFUSE)},
        processed=F("total"),
    )
    logger.info("catalogue import run", extra={"job": job_id, "commit": commit})


@task()
def catalogue_check(job_id: int) -> None:
    """Say what the job's file would do, writing nothing but the job's report."""
    _run(job_id, commit=False)


@task()
def catalogue_commit(job_id: int) -> None:
    """Import the job's file for real."""
    _run(job_id, commit=True)
