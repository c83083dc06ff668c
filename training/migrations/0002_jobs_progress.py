"""Training runs move onto core.jobs.models.Job: steps become done/total (rows kept)."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("training", "0001_initial")]

    operations = [
        migrations.RenameField("trainingrun", "step", "done"),
        migrations.RenameField("trainingrun", "total_steps", "total"),
        migrations.RemoveField("trainingrun", "progress"),
        migrations.RemoveField("trainingrun", "celery_task_id"),
    ]
