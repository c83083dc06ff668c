"""A training job's description, as the runner writes it to run.json.

    {"base_model": "path/or/hub-id", "data": "train.jsonl", "output_dir": "runs/7",
     "recipe": {"epochs": 15, ...}, "resume": false}

`data` is a JSONL of {"conversations": [user, assistant, ...]} rows; `recipe` overrides LIMA's
defaults by name (recipe.py); relative paths are taken relative to the current directory.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from training.engine.recipe import from_overrides


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class RunConfig:
    base_model: str
    data: str
    output_dir: str
    recipe: dict = field(default_factory=dict)
    resume: bool = False


def parse_run_config(raw, where: str = "run config") -> RunConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    unknown = set(raw) - {"base_model", "data", "output_dir", "recipe", "resume"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; expected base_model, data, output_dir, recipe, resume")
    for name in ("base_model", "data", "output_dir"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise ConfigError(f"{where}: field {name!r} must be a non-empty string")
    recipe = raw.get("recipe", {})
    if not isinstance(recipe, dict):
        raise ConfigError(f"{where}: field 'recipe' must be an object of overrides")
    if not isinstance(raw.get("resume", False), bool):
        raise ConfigError(f"{where}: field 'resume' must be true or false")
    try:
        from_overrides(recipe)
    except ValueError as error:
        raise ConfigError(f"{where}: field 'recipe': {error}") from None
    return RunConfig(raw["base_model"], raw["data"], raw["output_dir"], recipe, raw.get("resume", False))


def load_run_config(path) -> RunConfig:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    except ValueError as error:
        raise ConfigError(f"{path}: not JSON ({error})") from None
    return parse_run_config(raw, str(path))
