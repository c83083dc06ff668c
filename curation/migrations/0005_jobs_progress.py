"""Imports and export jobs move onto core.jobs.models.Job: progress becomes done/total (rows kept)."""
from django.db import migrations, models


def progress_to_done_total(apps, schema_editor):
    # An import's progress was a fraction of its whole bar; done/total of a phase is what it counts now.
    ImportRun = apps.get_model("curation", "ImportRun")
    for run in ImportRun.objects.only("pk", "progress", "status"):
        done = 1000 if run.status == "succeeded" else round((run.progress or 0.0) * 1000)
        ImportRun.objects.filter(pk=run.pk).update(done=done, total=1000)


def done_total_to_progress(apps, schema_editor):
    ImportRun = apps.get_model("curation", "ImportRun")
    for run in ImportRun.objects.only("pk", "done", "total"):
        ImportRun.objects.filter(pk=run.pk).update(progress=run.done / run.total if run.total else 0.0)


class Migration(migrations.Migration):
    dependencies = [("curation", "0004_datasets_export_jobs")]

    operations = [
        migrations.AddField("importrun", "done", models.BigIntegerField(default=0)),
        migrations.AddField("importrun", "total", models.BigIntegerField(default=0)),
        migrations.RunPython(progress_to_done_total, done_total_to_progress),
        migrations.RemoveField("importrun", "progress"),
        migrations.RenameField("exportjob", "rows_written", "done"),
        migrations.RenameField("exportjob", "total_rows", "total"),
    ]
