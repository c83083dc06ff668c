"""Generation runs move onto core.jobs.models.Job: prompts answered become done/total (rows kept)."""
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inference", "0001_initial")]

    operations = [
        migrations.RenameField("generationrun", "done_count", "done"),
        migrations.RenameField("generationrun", "prompt_count", "total"),
    ]
