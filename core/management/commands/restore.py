from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, check_backup, restore_backup


class Command(BaseCommand):
    help = ("Replace the database and the files under MEDIA_ROOT with the backup in DIR (made by `backup`). "
            "Checks the whole backup first and changes nothing when it is partial, damaged or does not fit. "
            "Stop the web server and the workers first.")

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive",
                            help="do not ask for confirmation")

    def handle(self, *args, directory, interactive, **options):
        try:
            manifest = check_backup(directory)
            if interactive:
                answer = input(f"Replace every row of this database and every file under MEDIA_ROOT with the backup "
                               f"of {manifest['created_at']}? Type 'yes' to continue: ")
                if answer.strip().lower() != "yes":
                    raise CommandError("Restore cancelled; nothing was changed.")
            restore_backup(directory, log=lambda line: self.stderr.write(line))
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored the backup of {manifest['created_at']} from {directory}. "
                          "Run `python manage.py migrate` if this studio is newer than the backup.")
