import sys

from django.core.management.base import BaseCommand, CommandError

from curation.datasets.export_jobs import ExportRequestError, check_export_request
from curation.datasets.exports import SPLITS, write_export
from curation.datasets.formats import EXPORT_FORMATS
from curation.models import DatasetVersion


class Command(BaseCommand):
    help = (
        "Write a frozen dataset version in one format to a file (a folder for --format hf), atomically: "
        "written beside the target and renamed at the end, so a failed export leaves nothing behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, help="dataset version id")
        parser.add_argument("--format", required=True, choices=EXPORT_FORMATS)
        parser.add_argument("--split", choices=SPLITS, help="only this split (default: all)")
        parser.add_argument("--out", required=True, help="file to write (a folder for hf)")
        parser.add_argument("--no-metadata", action="store_true", help="leave out id, split and attribution")

    def handle(self, *args, version, format, split, out, no_metadata, **options):
        try:
            dataset = DatasetVersion.objects.get(pk=version)
        except DatasetVersion.DoesNotExist:
            raise CommandError(f"No dataset version #{version}.") from None
        try:
            check_export_request(dataset, format, split)
            rows = write_export(dataset, format, out, split=split, metadata=not no_metadata, on_progress=self._progress)
        except ExportRequestError as error:
            raise CommandError(f"{error.field}: {error}") from error
        except OSError as error:
            raise CommandError(f"Cannot write {out}: {error.strerror or error}") from error
        self.stderr.write(f"Wrote {rows} examples of version #{dataset.pk} as {format} to {out}.")

    def _progress(self, rows):
        if sys.stderr.isatty():
            self.stderr.write(f"\r{rows} examples…", ending="")
