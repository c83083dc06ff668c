"""Flash messages about a job ("Import #5 is queued for the worker"). Such a message describes the job as it was
when it was written; it carries the job and that status, and the page drops it as soon as the job's badge shows
another (static/js/app.js), so a cancelled run never keeps saying "queued"."""
from django.contrib import messages

PREFIX = "job:"


def job_message(request, job, text, level=messages.SUCCESS):
    messages.add_message(request, level, text, extra_tags=f"{PREFIX}{job.job_label}:{job.pk}:{job.status}")


def job_of(message):
    """(job key "curation.importrun:5", status when written) of a job_message, else None."""
    for tag in (getattr(message, "extra_tags", "") or "").split():
        if tag.startswith(PREFIX):
            label, pk, status = tag[len(PREFIX):].rsplit(":", 2)
            return f"{label}:{pk}", status
    return None
