"""python manage.py reindex_examples [--stale]: rebuild the examples table's summaries and full-text index.

The services keep both in step with every change of an example's text; this is for what they could not see
(rows written by hand in SQL, a restored backup, a changed search configuration, a SQLite migration that rebuilt
the summary table and dropped its trigger)."""
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections

from curation.models import Example, Turn
from curation.workspace.search import FTS_TABLE, SUMMARY_TABLE, ensure_search_schema, rebuild_index


class Command(BaseCommand):
    help = "Rebuild the examples table's summaries (lengths, turns) and full-text index from the examples' turns."

    def add_arguments(self, parser):
        parser.add_argument("--stale", action="store_true",
                            help="only the examples whose summary is missing or was made from other text")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, stale=False, database=DEFAULT_DB_ALIAS, **options):
        connection = connections[database]
        ensure_search_schema(connection)
        if not stale and connection.vendor == "sqlite":
            with connection.cursor() as cursor:  # entries of examples gone while the trigger was missing
                cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid NOT IN (SELECT example_id FROM {SUMMARY_TABLE})")

        def progress(done):
            if done % 10_000 < 1000:
                self.stderr.write(f"  {done:,} indexed")

        written = rebuild_index(Example, Turn, using=database, only_stale=stale, progress=progress)
        self.stdout.write(f"Indexed {written:,} example{'s' if written != 1 else ''}.")
