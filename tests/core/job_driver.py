"""Starts a job the way the web app does, from a process of its own: `python -m tests.core.job_driver KIND
'{"arg": ...}'` prints {"id": ...}. The fault tests run it with the environment of their own broker and
workers (a Redis database or a filesystem broker folder nobody else uses), so no other worker takes the job."""
import json
import os
import sys

import django


def start(kind, args):
    if kind == "purge":
        from config.celery import app

        app.control.purge()
        return None
    if kind == "import":
        from curation.imports.ingest import start_import

        return start_import("jsonl", args["path"], name=args.get("name"), options={"target": "all"})
    if kind == "export":
        from curation.datasets.export_jobs import start_export
        from curation.models import DatasetVersion

        return start_export(DatasetVersion.objects.get(pk=args["version"]), fmt=args.get("format", "lima"))
    if kind == "freeze":
        from curation.datasets.freeze_jobs import start_freeze_job
        from curation.datasets.versions import Selection

        return start_freeze_job(args["name"], selection=Selection.from_dict(args.get("selection") or {"status": ""}))
    if kind == "training":
        from training.services import start_training_run

        return start_training_run(args["version"], args["base_model"], args.get("overrides") or {})
    if kind == "generation":
        from curation.models import DatasetVersion
        from inference.engine.decoding import DecodingSettings
        from inference.services import create_generation_run

        return create_generation_run(
            model_path=args["model_path"], dataset_version=DatasetVersion.objects.get(pk=args["version"]),
            split=args.get("split", "dev"), decoding=DecodingSettings(**args.get("decoding", {})),
            batch_size=args.get("batch_size", 1),
        )
    if kind == "endpoint-generation":  # a generation run asking a model endpoint (the default queue)
        from inference.endpoints.models import ModelEndpoint
        from inference.services import create_generation_run

        return create_generation_run(endpoint=ModelEndpoint.objects.get(pk=args["endpoint"]),
                                     prompts_file=args["prompts_file"])
    if kind == "resume-generation":
        from inference.models import GenerationRun
        from inference.services import resume_generation_run

        return resume_generation_run(GenerationRun.objects.get(pk=args["run"]))
    if kind == "signals":
        from curation.signals.jobs import start_run

        return start_run(args["signal"], everything=args.get("everything", False))
    if kind == "judge":  # a judge run made by the test, queued on this broker
        from core.jobs.runner import enqueue
        from inference.judging.models import JudgeRun

        return enqueue(JudgeRun.objects.get(pk=args["run"]))
    raise SystemExit(f"unknown kind {kind!r}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    job = start(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    print(json.dumps({"id": job.pk if job is not None else None, "status": job.status if job is not None else None,
                      "error": job.error if job is not None else ""}))
