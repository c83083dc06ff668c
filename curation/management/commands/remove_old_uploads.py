from django.core.management.base import BaseCommand

from curation.imports.retention import remove_old_uploads


class Command(BaseCommand):
    help = "Remove uploaded import files older than UPLOAD_RETENTION_DAYS that no queued or running run reads."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=float, help="instead of UPLOAD_RETENTION_DAYS")
        parser.add_argument("--dry-run", action="store_true", help="only list what would go")

    def handle(self, *args, days=None, dry_run=False, **options):
        removed = remove_old_uploads(days, dry_run=dry_run)
        for path in removed:
            self.stdout.write(f"{'would remove' if dry_run else 'removed'} {path}")
        self.stdout.write(f"{len(removed)} upload(s) {'to remove' if dry_run else 'removed'}.")
