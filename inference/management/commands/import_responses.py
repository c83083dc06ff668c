from django.core.management.base import BaseCommand, CommandError

from curation.models import DatasetVersion
from inference.services import PROMPT_SPLITS, GenerationError, import_responses


class Command(BaseCommand):
    help = (
        "Import another model's responses (JSONL: {\"id\": prompt id, \"response\": ..., \"model\": ...} a line) "
        "as a finished generation run to compare against. With --version, ids are that version's example ids "
        "(as in its exports) and rows may leave out the prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--name", default="", help="the model's name (default: the rows' \"model\")")
        parser.add_argument("--version", type=int, help="the dataset version the prompt ids refer to")
        parser.add_argument("--split", default="", choices=["", *PROMPT_SPLITS])

    def handle(self, *args, file, name, version, split, **options):
        dataset_version = None
        if version is not None:
            dataset_version = DatasetVersion.objects.filter(pk=version).first()
            if dataset_version is None:
                raise CommandError(f"No dataset version #{version}.")
        try:
            run = import_responses(file, name=name, dataset_version=dataset_version, split=split)
        except GenerationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Generation #{run.pk} {run.name!r}: imported {run.prompt_count} responses.")
