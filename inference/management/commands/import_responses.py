from django.core.management.base import BaseCommand, CommandError

from curation.models import DatasetVersion
from inference.services import PROMPT_SPLITS, GenerationError, import_responses


class Command(BaseCommand):
    help = (
        "Import another model's responses (JSONL: {\"id\": prompt id, \"response\": ..., \"model\": ...} a line) "
        "as a finished generation run to compare against. With --dataset-version, ids are that version's example ids "
        "(as in its exports) and rows may leave out the prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--name", default="", help="the model's name (default: the rows' \"model\")")
        parser.add_argument("--dataset-version", type=int, help="the dataset version the prompt ids refer to")
        parser.add_argument("--split", default="", choices=["", *PROMPT_SPLITS])

    def handle(self, *args, file, name, dataset_version, split, **options):
        version = None
        if dataset_version is not None:
            version = DatasetVersion.objects.filter(pk=dataset_version).first()
            if version is None:
                raise CommandError(f"No dataset version #{dataset_version}.")
        try:
            run = import_responses(file, name=name, dataset_version=version, split=split)
        except GenerationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Generation #{run.pk} {run.name!r}: imported {run.total} responses.")
