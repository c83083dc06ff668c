import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from curation.sources.natural_instructions import iter_records
from curation.sources.records import SourceFormatError
from tests.samples import SHARED_DATA

FIXTURES = Path(__file__).parents[1] / "fixtures" / "natural_instructions"
TASK_2021 = FIXTURES / "task901_story_generation_2021.json"
TASK_RELEASE = FIXTURES / "task902_title_generation_release.json"
TASK_SPANISH = FIXTURES / "task903_sentiment_classification_spanish.json"
TASK_VERIFICATION = FIXTURES / "task904_answer_verification.json"
REAL_TASKS = SHARED_DATA / "super_natural_instructions" / "legacy_2021_contributor_format"


def only(path, **options):
    (record,) = iter_records(path, **options)
    return record


def test_the_prompt_is_the_definition_then_the_instance_input():
    record = only(TASK_2021)

    index = record.metadata["instance_index"]
    instance = json.loads(TASK_2021.read_text())["Instances"][index]
    assert record.turns == [
        f"Write the last sentence of the story.\nKeep it short.\n\n{instance['input']}",
        instance["output"][0],
    ]


def test_a_definition_given_as_a_list_is_joined_by_blank_lines():
    record = only(TASK_RELEASE)

    assert record.turns[0].startswith(
        "Generate a title for the article.\n\nThe title must be under ten words.\n\n"
    )


def test_the_first_output_of_a_list_is_the_response_and_a_plain_string_works_too():
    outputs = {}
    for seed in range(40):
        record = only(TASK_RELEASE, seed=seed)
        outputs[record.external_id] = record.turns[1]

    assert outputs == {
        "task902-aaa1": "Council approves new park",
        "task902-aaa2": "Water found on distant moon",
        "task902-aaa3": "Bakery wins national prize",
    }


def test_one_instance_per_task_is_drawn_the_same_way_for_the_same_seed():
    first = [only(TASK_2021, seed=seed).external_id for seed in range(20)]
    again = [only(TASK_2021, seed=seed).external_id for seed in range(20)]

    assert first == again
    assert len(set(first)) > 1  # different seeds do draw different instances


def test_the_draw_for_a_task_does_not_depend_on_the_other_files(tmp_path):
    shutil.copy(TASK_2021, tmp_path / TASK_2021.name)
    shutil.copy(TASK_RELEASE, tmp_path / TASK_RELEASE.name)

    for seed in range(5):
        in_folder = {r.domain: r for r in iter_records(tmp_path, seed=seed)}
        assert in_folder[TASK_2021.stem] == only(TASK_2021, seed=seed)


def test_instance_ids_come_from_the_file_or_from_the_task_and_position():
    record_2021 = only(TASK_2021)
    record_release = only(TASK_RELEASE)

    assert record_2021.external_id == f"{TASK_2021.stem}-{record_2021.metadata['instance_index']}"
    assert record_release.external_id.startswith("task902-aaa")
    assert record_release.metadata["instance_id"] == record_release.external_id


def test_the_domain_is_the_task_name_and_attribution_is_kept():
    record = only(TASK_RELEASE)

    assert record.domain == "task902_title_generation_release"
    assert record.metadata["task"] == record.domain
    assert record.metadata["licence"] == "CC BY 4.0"
    assert record.metadata["domains"] == ["News"]
    assert record.metadata["categories"] == ["Title Generation"]
    assert record.metadata["source"] == ["xsum"]
    assert record.metadata["url"].endswith("/tasks/task902_title_generation_release.json")
    assert record.location.startswith("task902_title_generation_release.json field Instances[")
    assert "licence" not in only(TASK_2021).metadata  # the 2021 schema has no Instance License


def test_non_english_and_classification_tasks_are_rejected_with_their_reason():
    assert only(TASK_SPANISH).reject_reason == "not_english"
    assert only(TASK_VERIFICATION).reject_reason == "not_a_generation_task"
    assert only(TASK_2021).accepted and only(TASK_RELEASE).accepted


def test_the_language_and_generation_rules_can_be_turned_off():
    assert only(TASK_SPANISH, english_only=False).accepted
    assert only(TASK_VERIFICATION, generation_only=False).accepted


def test_unknown_keys_are_ignored():
    record = only(TASK_SPANISH, english_only=False)

    assert record.turns == [
        "Clasifica la reseña como positiva o negativa.\n\nMe encantó.",
        "positiva",
    ]


def test_a_task_without_instances_is_reported_not_skipped(tmp_path):
    path = tmp_path / "task905_empty.json"
    path.write_text(json.dumps({"Definition": "Do something.", "Instances": []}))

    record = only(path)

    assert record.reject_reason == "no_instances"
    assert record.turns == ["Do something."]


def test_an_empty_output_is_rejected(tmp_path):
    path = tmp_path / "task906_blank.json"
    path.write_text(
        json.dumps({"Definition": "Echo.", "Instances": [{"input": "a", "output": []}]})
    )

    assert only(path).reject_reason == "empty_response"


def test_an_empty_prompt_is_rejected(tmp_path):
    path = tmp_path / "task911_blank_prompt.json"
    path.write_text(json.dumps({"Definition": " ", "Instances": [{"input": "", "output": ["x"]}]}))

    assert only(path).reject_reason == "empty_prompt"


def test_a_folder_yields_one_record_per_task_file_in_name_order(tmp_path):
    for task in (TASK_VERIFICATION, TASK_2021, TASK_SPANISH, TASK_RELEASE):
        shutil.copy(task, tmp_path / task.name)
    (tmp_path / "README.md").write_text("not a task")

    assert [r.domain for r in iter_records(tmp_path)] == [
        "task901_story_generation_2021",
        "task902_title_generation_release",
        "task903_sentiment_classification_spanish",
        "task904_answer_verification",
    ]


# --- Malformed files -----------------------------------------------------------------------------


def test_broken_json_names_the_file_the_line_and_the_column(tmp_path):
    path = tmp_path / "task907_broken.json"
    shutil.copy(FIXTURES / "broken.json.txt", path)

    with pytest.raises(
        SourceFormatError, match=r"task907_broken\.json, line 6 column 1: invalid JSON"
    ):
        list(iter_records(path))


def test_a_json_file_that_is_not_a_task_names_what_is_missing(tmp_path):
    path = tmp_path / "task908_not_a_task.json"
    shutil.copy(FIXTURES / "not_a_task.json.txt", path)

    with pytest.raises(SourceFormatError) as error:
        list(iter_records(path))

    assert "task908_not_a_task.json" in str(error.value)
    assert "missing Definition" in str(error.value)
    assert "keys found: Contributors, Instances" in str(error.value)


def test_an_instance_without_an_output_names_its_position(tmp_path):
    path = tmp_path / "task909_no_output.json"
    path.write_text(json.dumps({"Definition": "Echo.", "Instances": [{"input": "a"}]}))

    with pytest.raises(SourceFormatError, match=r"task909_no_output\.json, field Instances\[0\]"):
        list(iter_records(path))


def test_a_definition_that_is_not_text_is_an_error(tmp_path):
    path = tmp_path / "task910_odd.json"
    path.write_text(json.dumps({"Definition": {"en": "Echo."}, "Instances": []}))

    with pytest.raises(
        SourceFormatError, match=r"task910_odd\.json, field Definition: expected text"
    ):
        list(iter_records(path))


def test_a_folder_without_task_files_is_an_error(tmp_path):
    with pytest.raises(SourceFormatError, match="no task .json file"):
        list(iter_records(tmp_path))


# --- The real 2021 task files in ../shared/data ----------------------------------------------------


def real_tasks():
    if not REAL_TASKS.exists():
        pytest.skip(f"{REAL_TASKS} is absent")
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(REAL_TASKS.glob("*.json"))
    }


def test_each_real_task_gives_one_record_built_from_one_of_its_instances():
    tasks = real_tasks()

    records = list(iter_records(REAL_TASKS, seed=7))

    assert [r.domain for r in records] == list(tasks)
    for record in records:
        task = tasks[record.domain]
        index = record.metadata["instance_index"]
        instance = task["Instances"][index]
        assert record.turns == [
            f"{task['Definition'].strip()}\n\n{instance['input'].strip()}",
            instance["output"][0],
        ]
        assert record.external_id == f"{record.domain}-{index}"
        assert record.metadata["contributors"] == task["Contributors"]


def test_the_real_tasks_are_classification_so_rejected_unless_allowed():
    tasks = real_tasks()
    expected = Counter(
        "not_a_generation_task" if task["Categories"] == ["Classification"] else None
        for task in tasks.values()
    )

    assert Counter(r.reject_reason for r in iter_records(REAL_TASKS)) == expected
    assert expected["not_a_generation_task"] == len(tasks)
    assert all(r.accepted for r in iter_records(REAL_TASKS, generation_only=False))


def test_the_real_draw_is_seeded():
    real_tasks()
    draws = [[r.external_id for r in iter_records(REAL_TASKS, seed=seed)] for seed in range(6)]

    assert draws[0] == [r.external_id for r in iter_records(REAL_TASKS, seed=0)]
    assert len({tuple(draw) for draw in draws}) > 1
