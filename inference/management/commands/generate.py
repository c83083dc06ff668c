from django.core.management.base import BaseCommand, CommandError

from curation.models import DatasetVersion
from inference.engine.generate import DecodingSettings
from inference.models import GenerationRun
from inference.services import PROMPT_SPLITS, GenerationError, create_generation_run, decoding_settings
from training.models import Checkpoint

LIMA = DecodingSettings()


class Command(BaseCommand):
    help = (
        "Generate one response per prompt with a checkpoint (or a model folder) over a dataset version's dev/test "
        "split or a LIMA-format prompt file, with LIMA's decoding unless told otherwise. Runs here, in a "
        "subprocess, unless --queue hands it to the gpu worker."
    )

    def add_arguments(self, parser):
        model = parser.add_mutually_exclusive_group(required=True)
        model.add_argument("--checkpoint", type=int, help="a training checkpoint's id")
        model.add_argument("--model", help="a model folder (save_pretrained layout, with the chat tokens)")
        model.add_argument("--endpoint", help="a model endpoint's id or name (see /endpoints/)")
        prompts = parser.add_mutually_exclusive_group(required=True)
        prompts.add_argument("--dataset-version", type=int, help="a ready dataset version's id")
        prompts.add_argument("--prompts", help="a JSONL of {'conversations': [...], 'id'?}")
        parser.add_argument("--split", default="dev", choices=PROMPT_SPLITS)
        parser.add_argument("--name", default="")
        parser.add_argument("--temperature", type=float, default=LIMA.temperature)
        parser.add_argument("--top-p", type=float, default=LIMA.top_p)
        parser.add_argument("--repetition-penalty", type=float, default=LIMA.repetition_penalty)
        parser.add_argument("--max-new-tokens", type=int, default=LIMA.max_new_tokens)
        parser.add_argument("--greedy", action="store_true")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--queue", action="store_true", help="hand the run to the gpu worker and return")

    def handle(self, *args, **o):
        checkpoint = version = endpoint = None
        if o["endpoint"]:
            from inference.endpoints.models import ModelEndpoint

            found = ModelEndpoint.objects.filter(pk=int(o["endpoint"])) if o["endpoint"].isdigit() else \
                ModelEndpoint.objects.filter(name=o["endpoint"])
            endpoint = found.first()
            if endpoint is None:
                raise CommandError(f"No model endpoint {o['endpoint']!r}.")
        if o["checkpoint"] is not None:
            checkpoint = Checkpoint.objects.filter(pk=o["checkpoint"]).first()
            if checkpoint is None:
                raise CommandError(f"No checkpoint #{o['checkpoint']}.")
        if o["dataset_version"] is not None:
            version = DatasetVersion.objects.filter(pk=o["dataset_version"], status=DatasetVersion.Status.READY).first()
            if version is None:
                raise CommandError(f"No ready dataset version #{o['dataset_version']}.")
        try:
            run = create_generation_run(
                name=o["name"], checkpoint=checkpoint, model_path=o["model"] or "", dataset_version=version,
                split=o["split"] if version else "", prompts_file=o["prompts"] or "",
                decoding=decoding_settings({
                    "temperature": o["temperature"], "top_p": o["top_p"],
                    "repetition_penalty": o["repetition_penalty"], "max_new_tokens": o["max_new_tokens"],
                    "do_sample": not o["greedy"],
                }),
                seed=o["seed"], batch_size=o["batch_size"], run_async=o["queue"], endpoint=endpoint,
            )
        except GenerationError as error:
            raise CommandError(str(error)) from error
        if o["queue"]:
            self.stdout.write(f"Generation #{run.pk} is queued for the {'default' if endpoint else 'gpu'} worker.")
            return
        if run.status != GenerationRun.Status.SUCCEEDED:
            raise CommandError(f"Generation #{run.pk} {run.status}: {run.error}")
        self.stdout.write(f"Generation #{run.pk} {run.name!r}: {run.generations.count()} responses.")
