import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, LogitsProcessor, LogitsProcessorList

from inference.engine.__main__ import main
from inference.engine.generate import DecodingSettings, Generator, build_generation_config
from inference.engine.jsonl import read_prompts, write_jsonl_atomically
from training.engine import chat
from training.engine.tiny import build_tiny_model

from .conftest import CHATS, PROMPTS

REPO = Path(__file__).resolve().parents[2]
GREEDY = DecodingSettings(do_sample=False, max_new_tokens=40)


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A freshly initialised model, whose next-token distribution is wide, so every sampling
    setting changes what comes out. Its logits are scaled up 3x (through the final norm) from a
    near-flat spread where a 1.2 repetition penalty would hardly ever flip a draw."""
    folder = tmp_path_factory.mktemp("checkpoints") / "untrained"
    build_tiny_model(folder, [text for turns in CHATS for text in turns] * 5, seed=1)
    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        model.model.norm.weight.mul_(3.0)
    model.save_pretrained(folder)
    return Generator.from_checkpoint(folder)


def reference_sample(generator, turns, seed, **generate_kwargs):
    """transformers' own sampling on the same prompt ids, with explicit keyword settings."""
    ids = torch.tensor([chat.prompt_ids(generator.tokenizer, turns)])
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = generator.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **generate_kwargs)
    return generator._response(out[0, ids.shape[1] :].tolist())


class ForceTokens(LogitsProcessor):
    """Forces, per prompt, a scripted token at each step; counts the steps generate() took."""

    def __init__(self, scripts: dict[tuple, list[int]], pad_id: int, prompt_width: int):
        self.scripts, self.pad_id, self.width, self.steps = scripts, pad_id, prompt_width, 0

    def __call__(self, input_ids, scores):  # input_ids (batch, seq), scores (batch, vocab)
        step = input_ids.shape[1] - self.width
        self.steps += 1
        forced = torch.full_like(scores, -float("inf"))
        for row in range(input_ids.shape[0]):
            prompt = tuple(t for t in input_ids[row, : self.width].tolist() if t != self.pad_id)
            forced[row, self.scripts[prompt][step]] = 0.0
        return forced


def test_lima_decoding_defaults_come_from_the_paper():
    settings = DecodingSettings()
    assert (settings.top_p, settings.temperature, settings.repetition_penalty, settings.max_new_tokens) == (
        0.9, 0.7, 1.2, 2048,
    )
    assert settings.do_sample


def test_the_decoding_settings_reach_model_generate(generator, monkeypatch):
    passed = []
    original = generator.model.generate

    def spy(*args, **kwargs):
        passed.append(kwargs["generation_config"])
        return original(*args, **kwargs)

    monkeypatch.setattr(generator.model, "generate", spy)
    generator.generate(PROMPTS[:1], DecodingSettings(max_new_tokens=7))
    generator.generate(PROMPTS[:1], DecodingSettings(top_p=0.5, temperature=1.3, repetition_penalty=1.05))

    lima, custom = passed
    assert (lima.do_sample, lima.top_p, lima.temperature, lima.repetition_penalty) == (True, 0.9, 0.7, 1.2)
    assert lima.max_new_tokens == 7
    assert lima.top_k == 0  # not transformers' default of 50
    assert lima.eos_token_id[0] == chat.eot_id(generator.tokenizer)
    assert lima.pad_token_id == generator.tokenizer.pad_token_id
    assert (custom.top_p, custom.temperature, custom.repetition_penalty, custom.max_new_tokens) == (
        0.5, 1.3, 1.05, 2048,
    )


def test_it_samples_exactly_like_transformers_with_lima_s_settings(untrained, monkeypatch):
    # A checkpoint's generation_config.json may carry its own filters; they must not leak in.
    monkeypatch.setattr(untrained.model.generation_config, "top_k", 3)
    turns = ["Tell me a story about a cat."]
    eot, pad = chat.eot_id(untrained.tokenizer), untrained.tokenizer.pad_token_id
    lima = dict(do_sample=True, top_p=0.9, temperature=0.7, repetition_penalty=1.2, top_k=0,
                max_new_tokens=30, eos_token_id=eot, pad_token_id=pad)

    ours = untrained.generate([turns], DecodingSettings(max_new_tokens=30), seed=3)[0]

    assert ours == reference_sample(untrained, turns, seed=3, **lima)
    # The comparison is sensitive to each setting: change one and transformers' answer changes.
    assert ours != reference_sample(untrained, turns, seed=3, **{**lima, "temperature": 1.0})
    assert ours != reference_sample(untrained, turns, seed=3, **{**lima, "top_p": 1.0})
    assert ours != reference_sample(untrained, turns, seed=3, **{**lima, "repetition_penalty": 1.0})
    assert ours != reference_sample(untrained, turns, seed=3, **{k: v for k, v in lima.items() if k != "top_k"})


def test_generation_stops_at_eot_and_finished_rows_of_a_batch_stay_finished(generator, monkeypatch):
    tokenizer = generator.tokenizer
    eot = chat.eot_id(tokenizer)
    red, green, blue = (tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in ("Red", " green", " blue"))
    short, long = ["Name three colours."], ["What is the capital of France?"]
    short_ids, long_ids = (tuple(chat.prompt_ids(tokenizer, p)) for p in (short, long))
    # Each script carries on with text after its EOT: none of it may be generated or returned.
    scripts = {
        short_ids: [red, green, eot, blue, blue, blue, blue, blue, blue],
        long_ids: [red, green, blue, red, green, eot, blue, blue, blue],
    }
    forcer = ForceTokens(scripts, tokenizer.pad_token_id, max(len(short_ids), len(long_ids)))
    # A base checkpoint's own generation_config knows nothing of EOT: the engine must say it.
    monkeypatch.setattr(generator.model.generation_config, "eos_token_id", None)
    raw = []
    original = generator.model.generate
    monkeypatch.setattr(generator.model, "generate", lambda **kw: raw.append(original(**kw)) or raw[-1])

    responses = generator.generate(
        [short, long], DecodingSettings(max_new_tokens=9), logits_processor=LogitsProcessorList([forcer])
    )

    assert responses == [tokenizer.decode([red, green]), tokenizer.decode([red, green, blue, red, green])]
    assert forcer.steps == 6  # the batch ended with the last row's EOT, not at max_new_tokens
    new_tokens = raw[0][:, forcer.width :].tolist()  # rows in batch order: the shorter prompt first
    assert new_tokens[0] == [red, green, eot, *[tokenizer.pad_token_id] * 3]


def test_a_trained_checkpoint_ends_its_answer_with_eot(generator):
    responses = generator.generate(PROMPTS, GREEDY)
    assert responses == [answer for _, answer in CHATS]


def test_batching_gives_the_same_greedy_outputs_as_one_prompt_at_a_time(generator):
    prompts = PROMPTS + [["Tell me about coffee."], ["How", "do", "What is Paris, the city?"]]
    one_by_one = [generator.generate([p], GREEDY, batch_size=1)[0] for p in prompts]
    assert len(set(one_by_one)) > 2  # the prompts really get different answers
    assert generator.generate(prompts, GREEDY, batch_size=len(prompts)) == one_by_one
    assert generator.generate(prompts, GREEDY, batch_size=4) == one_by_one


def test_the_same_seed_gives_the_same_samples(untrained):
    settings = DecodingSettings(max_new_tokens=20)
    torch.manual_seed(123)
    caller_state = torch.get_rng_state()

    first = untrained.generate(PROMPTS, settings, seed=5, batch_size=2)
    again = untrained.generate(PROMPTS, settings, seed=5, batch_size=2)
    other = untrained.generate(PROMPTS, settings, seed=6, batch_size=2)

    assert first == again
    assert first != other
    assert torch.equal(torch.get_rng_state(), caller_state)  # the caller's RNG is left alone


def test_it_reports_progress_per_batch(generator):
    seen = []
    generator.generate(PROMPTS + PROMPTS[:1], GREEDY, batch_size=2, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_streaming_yields_pieces_that_add_up_to_the_response(generator):
    turns = ["How do I brew coffee?"]
    pieces = list(generator.stream(turns, GREEDY))
    assert len(pieces) > 3
    assert "".join(pieces) == generator.generate([turns], GREEDY)[0]

    sampled = DecodingSettings(max_new_tokens=40)
    assert "".join(generator.stream(turns, sampled, seed=4)) == generator.generate([turns], sampled, seed=4)[0]


def test_closing_a_stream_early_stops_its_generation(generator):
    # EOT is held back for 2,000 tokens: without the cancel the thread would run on for seconds.
    endless = DecodingSettings(do_sample=False, max_new_tokens=2000, min_new_tokens=2000)
    stream = generator.stream(["Tell me a story about a cat."], endless)
    next(stream)
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "inference-stream"]


def test_it_reads_lima_prompt_files_and_documents_each_rule(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        '{"conversations": ["Hi?"], "source": ""}\n'
        "\n"
        '{"conversations": ["Q1", "A1", "Q2", "A2"], "source": "x", "id": "chain-1"}\n',
        encoding="utf-8",
    )
    first, second = read_prompts(path)
    assert (first.id, first.turns) == (1, ["Hi?"])  # no id: the line number
    assert (second.id, second.turns) == ("chain-1", ["Q1", "A1", "Q2"])  # final assistant turn dropped


@pytest.mark.parametrize(
    "line, message",
    [
        ("not json", "prompts.jsonl:2: not valid JSON"),
        ('{"source": "x"}', "prompts.jsonl:2: expected an object with a 'conversations' field"),
        ('{"conversations": [{"from": "human"}]}', "prompts.jsonl:2: 'conversations' must be a list of strings"),
        ('{"conversations": []}', "prompts.jsonl:2: 'conversations' holds no user turn"),
        ('{"conversations": ["Q"], "id": "a"}', "prompts.jsonl:2: id 'a' already used on line 1"),
    ],
)
def test_it_refuses_a_bad_prompt_file_naming_the_line(tmp_path, line, message):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"conversations": ["Q"], "id": "a"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_prompts(path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "responses.jsonl"
    out.write_text("old\n", encoding="utf-8")

    def rows():
        yield {"id": 1}
        raise RuntimeError("generation died")

    with pytest.raises(RuntimeError):
        write_jsonl_atomically(out, rows())
    assert out.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["responses.jsonl"]


def test_the_command_line_answers_a_prompt_file(tiny_checkpoint, generator, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    rows = [
        {"conversations": ["What is the capital of France?"], "source": "", "id": "paris"},
        {"conversations": ["Name three colours."], "source": "handwritten"},
        {"conversations": ["How do I brew coffee?", "Old answer."], "source": "stackexchange", "id": 7},
    ]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out" / "responses.jsonl"

    done = subprocess.run(
        [sys.executable, "-m", "inference.engine", "--checkpoint", str(tiny_checkpoint), "--prompts", str(prompts),
         "--out", str(out), "--batch-size", "2", "--greedy", "--max-new-tokens", "40"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300,
    )

    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert events == [
        {"event": "progress", "done": 2, "total": 3},
        {"event": "progress", "done": 3, "total": 3},
        {"event": "done", "count": 3, "out": str(out)},
    ]
    expected = generator.generate([r["conversations"][:1] for r in rows], GREEDY)
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [
        {"id": "paris", "prompt": "What is the capital of France?", "response": expected[0], "model": "tiny-chat"},
        {"id": 2, "prompt": "Name three colours.", "response": expected[1], "model": "tiny-chat"},
        {"id": 7, "prompt": "How do I brew coffee?", "response": expected[2], "model": "tiny-chat"},
    ]
    assert expected[0] == "The capital of France is Paris."


def test_the_command_line_reports_bad_input_and_writes_nothing(tiny_checkpoint, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"conversations": ["Q"]}\n{"conversations": 3}\n', encoding="utf-8")
    out = tmp_path / "responses.jsonl"

    status = main(["--checkpoint", str(tiny_checkpoint), "--prompts", str(prompts), "--out", str(out)])

    assert status == 2
    error = json.loads(capsys.readouterr().err)
    assert error["event"] == "error" and "prompts.jsonl:2" in error["message"]
    assert not out.exists()


def test_the_command_line_refuses_a_missing_checkpoint(tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"conversations": ["Q"]}\n', encoding="utf-8")
    missing = tmp_path / "nope"
    status = main(["--checkpoint", str(missing), "--prompts", str(prompts), "--out", str(tmp_path / "o.jsonl")])
    assert status == 2
    assert "checkpoint folder not found" in json.loads(capsys.readouterr().err)["message"]


def test_the_generation_config_is_greedy_without_sampling_filters(generator):
    config = build_generation_config(GREEDY, generator.tokenizer)
    assert config.do_sample is False and config.top_k is None and config.repetition_penalty == 1.2
