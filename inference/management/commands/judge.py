"""python manage.py judge STUDY_ID --endpoint URL --model NAME [--api-key-env VAR] [--json]

Asks a model endpoint to judge every item of a study (both orders of every pair), here in this process unless
--async queues it for a worker. The last line with --json:
{"judge_run": id, "status": ..., "items": n, "wins": n, "ties": n, "losses": n, "flip_rate": x, "unparseable": n}
"""
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inference.endpoints.models import ModelEndpoint
from inference.judging.services import JudgeError, create_judge_run, run_now, summary
from inference.models import Study


def endpoint_for(url: str, model: str, api_key_env: str) -> ModelEndpoint:
    """The endpoint of that address, model and key variable, made once and found again after."""
    found = ModelEndpoint.objects.filter(base_url=url, model=model, api_key_env=api_key_env).first()
    if found is not None:
        return found
    name = model if not ModelEndpoint.objects.filter(name=model).exists() else f"{model} at {url}"[:200]
    endpoint = ModelEndpoint(name=name, base_url=url, model=model, api_key_env=api_key_env)
    try:
        endpoint.full_clean()
    except ValidationError as error:
        raise CommandError("; ".join(f"--{'endpoint' if k == 'base_url' else k.replace('_', '-')}: {' '.join(v)}"
                                     for k, v in error.message_dict.items())) from None
    endpoint.save()
    return endpoint


class Command(BaseCommand):
    help = "Judge a study's items with a model endpoint (LIMA's question, both orders per pair)."

    def add_arguments(self, parser):
        parser.add_argument("study", type=int)
        parser.add_argument("--endpoint", required=True, help="the server's address, e.g. http://127.0.0.1:8001/v1")
        parser.add_argument("--model", required=True, help="the model name the server knows")
        parser.add_argument("--api-key-env", default="", help="the NAME of the environment variable holding the key")
        parser.add_argument("--template", help="a file holding the question (default: LIMA's)")
        parser.add_argument("--max-tokens", type=int, default=64)
        parser.add_argument("--async", action="store_true", dest="run_async", help="queue it for a worker")
        parser.add_argument("--json", action="store_true", help="end with one JSON line of the counts")

    def handle(self, *args, **options):
        study = Study.objects.filter(pk=options["study"]).first()
        if study is None:
            raise CommandError(f"No study #{options['study']}.")
        template = ""
        if options["template"]:
            try:
                template = Path(options["template"]).read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(f"--template {options['template']}: {error.strerror or error}") from None
        endpoint = endpoint_for(options["endpoint"], options["model"], options["api_key_env"])
        try:
            run = create_judge_run(study, endpoint, template=template, max_tokens=options["max_tokens"],
                                   run_async=options["run_async"])
        except JudgeError as error:
            raise CommandError(str(error)) from None
        if not options["run_async"]:
            run = run_now(run)
        self.stdout.write(f"Judge run #{run.pk} ({run.judge_name}) on study #{study.pk}: {run.status}; "
                          f"{run.items} items with a verdict, {run.wins} wins / {run.ties} ties / {run.losses} "
                          f"losses, flip rate {run.flip_rate}, {run.unparseable} unparseable answers.")
        if run.status == run.Status.FAILED:
            self.stderr.write(run.error)
        if options["json"]:
            self.stdout.write(json.dumps(summary(run)))
        if run.status == run.Status.FAILED:
            raise SystemExit(1)
