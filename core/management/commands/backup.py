from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, create_backup


class Command(BaseCommand):
    help = ("Back up the database (pg_dump's custom format, or SQLite's online backup) and the files under "
            "MEDIA_ROOT into DIR (new or empty), with a manifest of sizes and sha256. Safe while the studio runs.")

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")

    def handle(self, *args, directory, **options):
        try:
            manifest = create_backup(directory, log=lambda line: self.stderr.write(line))
        except BackupError as error:
            raise CommandError(str(error)) from None
        size = sum(entry["bytes"] for entry in manifest["files"].values())
        files = sum(tree["files"] for tree in manifest["trees"].values())
        self.stdout.write(f"Backed up the {manifest['database']['engine']} database and {files} files "
                          f"({size / 1e6:.1f} MB in all) into {directory}.")
