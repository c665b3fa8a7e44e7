"""Staff pages to bring a catalogue in from a CSV and take it out again: upload a file, see what
it would do (a check run in the background, with its progress), then import it for real."""

from __future__ import annotations

import io

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from catalog.csv_format import COLUMNS, decode, read, write
from catalog.import_tasks import catalogue_check, catalogue_commit
from catalog.importer import catalogue_rows
from catalog.models import ImportJob
from dashboard.views import staff_required

MAX_BYTES = 200 * 1024 * 1024
SHOWN = 500  # outcomes listed on the page


def _job_url(job_id: int) -> str:
    return reverse("dashboard:catalogue-import-job", kwargs={"pk": job_id})


def _refusal(request: HttpRequest, message: str) -> HttpResponse:
    context = {"section": "catalogue", "errors": [message], "columns": COLUMNS}
    return render(request, "dashboard/catalogue_import.html", context, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required("catalogue")
async def catalogue_import(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        context = {"section": "catalogue", "columns": COLUMNS}
        context["jobs"] = [job async for job in ImportJob.objects.defer("content", "outcomes")[:10]]
        return render(request, "dashboard/catalogue_import.html", context)
    upload = request.FILES.get("file")
    if upload is None:
        return _refusal(request, "Choose a CSV file to import.")
    if upload.size > MAX_BYTES:
        return _refusal(request, "A catalogue file can be at most 200 MB.")
    try:
        text = decode(await sync_to_async(upload.read)())
    except UnicodeDecodeError:
        return _refusal(request, "That file is not text we can read: save it as “CSV UTF-8”.")
    _products, problems = await sync_to_async(read)(text[:200_000])  # the columns, at once
    if problems:
        return _refusal(request, " ".join(why for _line, why in problems))
    job = await ImportJob.objects.acreate(created_by=request.user, file_name=upload.name[:200], content=text)
    await catalogue_check.aenqueue(job.pk)
    return HttpResponseRedirect(_job_url(job.pk))


@require_safe
@staff_required("catalogue")
async def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = await ImportJob.objects.filter(pk=pk).afirst()
    if job is None:
        raise Http404("No such import.")
    outcomes = [outcome for outcome in job.outcomes if outcome["action"] != "same"]
    context = {
        "section": "catalogue",
        "job": job,
        "outcomes": outcomes[:SHOWN],
        "more": max(len(outcomes) - SHOWN, 0),
    }
    return render(request, "dashboard/catalogue_import_job.html", context)


@require_POST
@staff_required("catalogue")
async def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    """Import a checked file for real; a second press while it runs does nothing more."""
    started = await ImportJob.objects.filter(pk=pk, status=ImportJob.Status.CHECKED).aupdate(
        status=ImportJob.Status.IMPORTING, processed=0
    )
    if started:
        await catalogue_commit.aenqueue(pk)
    elif not await ImportJob.objects.filter(pk=pk).aexists():
        raise Http404("No such import.")
    else:
        messages.info(request, "That file is being imported already, or was.")
    return HttpResponseRedirect(_job_url(pk))


def _csv_text() -> str:
    out = io.StringIO()
    write(catalogue_rows(), out)
    return out.getvalue()


@require_safe
@staff_required("catalogue")
async def catalogue_export(request: HttpRequest) -> HttpResponse:
    """The whole catalogue as the CSV the import reads (written in a thread: a few MB at most)."""
    response = HttpResponse(await sync_to_async(_csv_text)(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="catalogue.csv"'
    return response
