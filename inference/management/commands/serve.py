"""python manage.py serve CHECKPOINT [--port P] [--host H] [--api-key-env VAR] [--name NAME]"""
import importlib.util
import json
import os
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.engine.decoding import DecodingSettings

LIMA = DecodingSettings()


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None and shutil.which("vllm") is not None


def vllm_command(path, *, name, host, port) -> list[str]:
    """`vllm serve` with the checkpoint's own chat template and EOT (its tokenizer_config.json and
    generation_config.json, both written by training) and LIMA's decoding as the defaults a request overrides."""
    defaults = {"temperature": LIMA.temperature, "top_p": LIMA.top_p, "repetition_penalty": LIMA.repetition_penalty,
                "max_new_tokens": LIMA.max_new_tokens}
    return ["vllm", "serve", str(path), "--host", host, "--port", str(port), "--served-model-name", name,
            "--generation-config", "auto", "--override-generation-config", json.dumps(defaults)]


def resolve_checkpoint(value: str):
    """(folder, default name) of a checkpoint id or a model folder."""
    if value.isdigit():
        from training.models import Checkpoint

        checkpoint = Checkpoint.objects.select_related("run").filter(pk=int(value)).first()
        if checkpoint is None:
            raise CommandError(f"No checkpoint #{value}.")
        return Path(checkpoint.path), f"{checkpoint.run.title} · epoch {checkpoint.epoch}"
    path = Path(value)
    if not path.is_dir():
        raise CommandError(f"{value}: no such checkpoint folder (give a folder or a checkpoint id).")
    return path, path.resolve().name


class Command(BaseCommand):
    help = ("Serve a checkpoint over an OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions with and "
            "without stream) with its own chat template, EOT as the stop and LIMA's decoding as the defaults. "
            "vLLM when installed (GPU hosts), otherwise the studio's engine on Starlette/uvicorn.")

    def add_arguments(self, parser):
        parser.add_argument("checkpoint", help="a checkpoint folder (save_pretrained layout) or a checkpoint's id")
        parser.add_argument("--host", default=settings.SERVE_HOST, help="default: SERVE_HOST (127.0.0.1)")
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT, help="default: SERVE_PORT; 0: a free one")
        parser.add_argument("--api-key-env", default="",
                            help="the NAME of an environment variable whose value clients must send as a Bearer key")
        parser.add_argument("--name", default="", help="the model name clients ask for (default: the folder's)")
        parser.add_argument("--engine", choices=("auto", "vllm", "studio"), default="auto",
                            help="auto: vLLM when `import vllm` works, else the studio's engine")
        parser.add_argument("--batch-size", type=int, default=16, help="requests answered together (studio engine)")

    def handle(self, *args, **o):
        path, default_name = resolve_checkpoint(o["checkpoint"])
        name = o["name"] or default_name
        api_key = ""
        if o["api_key_env"]:
            api_key = os.environ.get(o["api_key_env"], "")
            if not api_key:
                raise CommandError(f"--api-key-env {o['api_key_env']}: that environment variable is not set.")
        if o["host"] not in ("127.0.0.1", "localhost", "::1") and not api_key:
            self.stderr.write(f"Warning: serving on {o['host']} without an API key: anyone who reaches it may use it.")
        engine = o["engine"]
        if engine == "vllm" or (engine == "auto" and vllm_available()):
            if not vllm_available():
                raise CommandError("--engine vllm: vLLM is not installed here (see README: GPU hosts).")
            env = dict(os.environ, HF_HUB_OFFLINE="1")
            if api_key:
                env["VLLM_API_KEY"] = api_key  # vLLM's own variable: the key never appears on a command line
            command = vllm_command(path, name=name, host=o["host"], port=o["port"])
            self.stderr.write(f"Starting {' '.join(command[:3])} …")
            os.execvpe(command[0], command, env)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from inference.engine.__main__ import quiet_transformers
        from inference.engine.generate import Generator
        from inference.serving.app import run

        quiet_transformers()
        try:
            generator = Generator.from_checkpoint(path, name=name)
        except (OSError, ValueError) as error:
            raise CommandError(f"{path}: {error}") from None
        run(generator, name=name, host=o["host"], port=o["port"], api_key=api_key, batch_size=o["batch_size"])
