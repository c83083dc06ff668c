"""Super-NaturalInstructions task files -> one (definition + input, output) pair per task.

LIMA (see LIMA.md) took 50 generation tasks of Super-NaturalInstructions and one random instance
of each. Here every task file yields one record: an instance drawn with a generator seeded by
``seed`` and the task's name, so the choice is the same whatever order the files come in.
prompt = the task's Definition, a blank line, the instance's input; response = the instance's
output (the first one when it is a list). domain = the task name (the file name without .json).

Every schema variant is read: the 2021 contributor format (Definition a string, instances
without "id") and the final release (Definition a list of strings, instances with "id",
"Instance License", Input_language, Output_language, Domains, ...); unknown keys are ignored.

Rejected records (still yielded, so a person can rescue one):
  not_a_generation_task   the task's Categories are all classification-style (LIMA used
                          generation tasks); off with ``generation_only=False``
  not_english             Input_language/Output_language present and not English; off with
                          ``english_only=False``
  no_instances / empty_response / empty_prompt

A task file is one JSON document, read whole (the largest release tasks are a few MB); a folder
is read one file at a time.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from curation.sources import limits
from curation.sources._lines import load_json_document
from curation.sources.cleaning import clean_markdown, policy_named
from curation.sources.plugins import SourceKind, register
from curation.sources.records import Record, Rule, SourceFormatError

TASKS_URL = "https://github.com/allenai/natural-instructions/blob/master/tasks/{task}.json"
# Words that mark a category whose answers come from a fixed label set, not generated text.
CLASSIFICATION_MARKERS = ("classification", "detection", "verification", "entailment")

RULES = (
    Rule("not_a_generation_task", "The task's categories are all classification (LIMA used generation tasks).",
         "generation_only", lambda value: False, "classification tasks kept"),
    Rule("not_english", "The task's input or output language is not English.",
         "english_only", lambda value: False, "tasks in any language kept"),
    Rule("no_instances", "The task has no instance."),
    Rule("empty_response", "The drawn instance has no output."),
    Rule("empty_prompt", "The task has no definition and the instance no input."),
)


def iter_records(
    path,
    *,
    seed: int = 0,
    generation_only: bool = True,
    english_only: bool = True,
    markdown_policy: str = "natural_instructions",
    stats: Counter | None = None,
) -> Iterator[Record]:
    """Yield one Record per task file (``path`` is a task .json or a folder of them).

    Texts are plain: the ``natural_instructions`` policy of ``cleaning.clean_markdown`` only
    tidies line endings, trailing spaces and runs of blank lines. ``stats`` counts the tasks and
    instances read."""
    policy = policy_named(markdown_policy)
    stats = Counter() if stats is None else stats
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.json") if p.is_file())
        if not files:
            raise SourceFormatError(path, "", "no task .json file in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise SourceFormatError(path, "", "no such file or folder")
    for file in files:
        task = _load_task(file)
        stats["tasks"] += 1
        stats["instances"] += len(task["Instances"])
        record = _record(file, task, seed, generation_only, english_only)
        record.turns = [clean_markdown(turn, policy) for turn in record.turns]
        yield record


def _load_task(file: Path) -> dict:
    try:
        task = load_json_document(file)
    except json.JSONDecodeError as error:
        raise SourceFormatError(
            file, f"line {error.lineno} column {error.colno}", f"invalid JSON: {error.msg}"
        ) from None
    except UnicodeDecodeError as error:
        raise SourceFormatError(file, f"byte offset {error.start}", "not UTF-8 text") from None
    if not isinstance(task, dict):
        raise SourceFormatError(file, "", "not a task: the file holds no JSON object")
    missing = [key for key in ("Definition", "Instances") if key not in task]
    if missing:
        raise SourceFormatError(
            file, "", f"not a task: missing {', '.join(missing)}; keys found: {limits.shown_names(task, 'key')}"
        )
    if not isinstance(task["Instances"], list):
        raise SourceFormatError(file, "field Instances", "expected a list of instances")
    return task


def _record(file: Path, task: dict, seed: int, generation_only: bool, english_only: bool) -> Record:
    name = file.stem
    definition = _text(task["Definition"], file, "Definition")
    instances = task["Instances"]
    metadata = {
        "site": "super-natural-instructions",
        "task": name,
        "url": TASKS_URL.format(task=name),
        "categories": _strings(task.get("Categories")),
        "source": _strings(task.get("Source")),
        "contributors": _strings(task.get("Contributors")),
    }
    for key, field in (
        ("Domains", "domains"),
        ("Input_language", "input_language"),
        ("Output_language", "output_language"),
    ):
        if key in task:
            metadata[field] = _strings(task[key])
    if "Instance License" in task:
        metadata["licence"] = ", ".join(_strings(task["Instance License"]))

    record = Record(
        external_id=f"{name}:none",
        turns=[definition],
        domain=name,
        metadata=metadata,
        location=file.name,
    )
    if not instances:
        record.reject_reason = "no_instances"
        return record

    # Seeded per task, so adding or removing another file does not change this task's draw.
    index = random.Random(f"{seed}:{name}").randrange(len(instances))
    instance = instances[index]
    where = f"field Instances[{index}]"
    if not isinstance(instance, dict) or "input" not in instance or "output" not in instance:
        raise SourceFormatError(file, where, "an instance needs 'input' and 'output'")
    outputs = instance["output"]
    output = outputs[0] if isinstance(outputs, list) and outputs else outputs
    output = "" if output in (None, []) else _text(output, file, f"{where}.output")
    instance_input = _text(instance["input"], file, f"{where}.input")
    instance_id = str(instance.get("id") or f"{name}-{index}")

    record.external_id = instance_id
    record.turns = [f"{definition}\n\n{instance_input}".strip(), output]
    record.location = f"{file.name} {where}"
    metadata.update(instance_id=instance_id, instance_index=index)

    if generation_only and _is_classification(metadata["categories"]):
        record.reject_reason = "not_a_generation_task"
    elif english_only and not _is_english(metadata):
        record.reject_reason = "not_english"
    elif not output:
        record.reject_reason = "empty_response"
    elif not record.turns[0]:
        record.reject_reason = "empty_prompt"
    return record


def _text(value, file: Path, field: str) -> str:
    # Definition is a string in 2021 task files and a list of strings in the final release.
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(v.strip() for v in value if v.strip())
    if isinstance(value, str):
        return value.strip().replace("\r\n", "\n")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise SourceFormatError(
        file, f"field {field}", f"expected text, found {json.dumps(value)[:80]}"
    )


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _is_classification(categories: list[str]) -> bool:
    return bool(categories) and all(
        any(marker in category.lower() for marker in CLASSIFICATION_MARKERS)
        for category in categories
    )


def _is_english(metadata: dict) -> bool:
    languages = metadata.get("input_language", []) + metadata.get("output_language", [])
    return all(language.lower() == "english" for language in languages)


# LIMA.md: 50 generation tasks, one random instance each.
SOURCE = register(SourceKind(
    kind="natural_instructions", label="Super-NaturalInstructions", parser=__name__, targets=50, tau=None,
    within="random", licence="Apache-2.0", url="https://github.com/allenai/natural-instructions",
    fixed_name="Super-NaturalInstructions", order=40, buckets={"ni": ("Natural Instructions", 50)},
))
