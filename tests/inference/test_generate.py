import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopPLogitsWarper,
)

from inference.engine.__main__ import main
from inference.engine.generate import (
    DecodingSettings,
    Generator,
    RepetitionPenaltyExceptSpecial,
    build_generation_config,
    build_logits_processors,
    exempt_ids,
)
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


def reference_sample(generator, turns, seed, repetition_penalty=1.2, **generate_kwargs):
    """transformers' own sampling (model.generate, static batch of one) on the same prompt ids, with
    explicit keyword settings and LIMA's penalty exempting the special tokens."""
    ids = torch.tensor([chat.prompt_ids(generator.tokenizer, turns)])
    penalty = RepetitionPenaltyExceptSpecial(repetition_penalty, exempt_ids(generator.tokenizer))
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = generator.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), logits_processor=LogitsProcessorList([penalty]), repetition_penalty=1.0, **generate_kwargs)
    return generator._response(out[0, ids.shape[1] :].tolist())


class ForceTokens(LogitsProcessor):
    """Forces, per prompt, a scripted token at each step; counts the rows generate computed each step."""

    def __init__(self, scripts: dict[tuple, list[int]], pad_id: int):
        self.scripts, self.pad_id, self.row_steps = scripts, pad_id, 0

    def __call__(self, input_ids, scores):  # input_ids (rows, seq), scores (rows, vocab)
        self.row_steps += input_ids.shape[0]
        forced = torch.full_like(scores, -float("inf"))
        for row in range(input_ids.shape[0]):
            tokens = tuple(t for t in input_ids[row].tolist() if t != self.pad_id)
            prompt = next(p for p in self.scripts if tokens[: len(p)] == p)
            forced[row, self.scripts[prompt][len(tokens) - len(prompt)]] = 0.0
        return forced


def test_lima_decoding_defaults_come_from_the_paper():
    settings = DecodingSettings()
    assert (settings.top_p, settings.temperature, settings.repetition_penalty, settings.max_new_tokens) == (
        0.9, 0.7, 1.2, 2048,
    )
    assert settings.do_sample


def test_the_decoding_settings_become_transformers_processors_in_its_order(generator):
    lima = build_logits_processors(DecodingSettings(), generator.tokenizer)
    assert [type(p) for p in lima] == [RepetitionPenaltyExceptSpecial, TemperatureLogitsWarper, TopPLogitsWarper]
    assert (lima[0].penalty, lima[1].temperature, lima[2].top_p) == (1.2, 0.7, 0.9)
    greedy = build_logits_processors(DecodingSettings(do_sample=False, repetition_penalty=1.0), generator.tokenizer)
    assert list(greedy) == []
    config = build_generation_config(DecodingSettings(max_new_tokens=7), generator.tokenizer)
    assert (config.do_sample, config.top_p, config.temperature, config.max_new_tokens) == (True, 0.9, 0.7, 7)
    assert config.top_k == 0  # not transformers' default of 50
    assert config.repetition_penalty == 1.0  # transformers' own penalty would hit EOT: ours replaces it
    assert config.eos_token_id[0] == chat.eot_id(generator.tokenizer)
    assert config.pad_token_id == generator.tokenizer.pad_token_id


def test_the_penalty_spares_eot_and_every_special_token_and_hits_the_rest():
    # given scores for 8 tokens, of which 6 (EOT) and 7 (a marker) are exempt, after a sequence that holds 1, 2, 6, 7
    scores = torch.tensor([[1.0, 2.0, -1.0, 0.5, 3.0, -2.0, 4.0, -3.0]])
    seen = torch.tensor([[1, 2, 6, 7, 2]])
    # when LIMA's 1.2 penalty is applied
    penalised = RepetitionPenaltyExceptSpecial(1.2, exempt=[6, 7])(seen, scores.clone())
    # then seen positive logits are divided, seen negative ones multiplied, exempt and unseen ones kept
    expected = torch.tensor([[1.0, 2.0 / 1.2, -1.0 * 1.2, 0.5, 3.0, -2.0, 4.0, -3.0]])
    torch.testing.assert_close(penalised, expected)


def test_the_exempt_tokens_are_eot_the_chat_markers_and_the_special_tokens(generator):
    tokenizer = generator.tokenizer
    exempt = set(exempt_ids(tokenizer))
    assert {tokenizer.convert_tokens_to_ids(t) for t in chat.SPECIAL_TOKENS} <= exempt
    assert set(tokenizer.all_special_ids) <= exempt
    assert tokenizer("Paris", add_special_tokens=False)["input_ids"][0] not in exempt


def test_the_prompts_eot_no_longer_lowers_the_chance_to_stop(untrained):
    # the prompt holds EOT (after the user's turn): transformers' penalty would lower it, ours does not
    ids = torch.tensor([chat.prompt_ids(untrained.tokenizer, ["Tell me a story about a cat."])])
    eot = chat.eot_id(untrained.tokenizer)
    with torch.no_grad():
        logits = untrained.model(ids).logits[:, -1].float()
    ours = build_logits_processors(DecodingSettings(do_sample=False), untrained.tokenizer)(ids, logits.clone())
    from transformers import RepetitionPenaltyLogitsProcessor

    theirs = RepetitionPenaltyLogitsProcessor(1.2)(ids, logits.clone())
    assert ours[0, eot] == logits[0, eot] and theirs[0, eot] != logits[0, eot]
    assert torch.softmax(ours, -1)[0, eot] > torch.softmax(theirs, -1)[0, eot]


def test_it_samples_exactly_like_transformers_with_lima_s_settings(untrained, monkeypatch):
    # A checkpoint's generation_config.json may carry its own filters; they must not leak in.
    monkeypatch.setattr(untrained.model.generation_config, "top_k", 3)
    turns = ["Tell me a story about a cat."]
    eot, pad = chat.eot_id(untrained.tokenizer), untrained.tokenizer.pad_token_id
    lima = dict(do_sample=True, top_p=0.9, temperature=0.7, top_k=0, max_new_tokens=30, eos_token_id=eot, pad_token_id=pad)

    ours = untrained.generate([turns], DecodingSettings(max_new_tokens=30), seed=3)[0]

    assert ours == reference_sample(untrained, turns, seed=3, **lima)
    # The comparison is sensitive to each setting: change one and transformers' answer changes.
    assert ours != reference_sample(untrained, turns, seed=3, **{**lima, "temperature": 1.0})
    assert ours != reference_sample(untrained, turns, seed=3, **{**lima, "top_p": 1.0})
    assert ours != reference_sample(untrained, turns, seed=3, repetition_penalty=1.0, **lima)
    assert ours != reference_sample(untrained, turns, seed=3, **{k: v for k, v in lima.items() if k != "top_k"})


def test_a_finished_row_leaves_the_batch_and_a_waiting_prompt_takes_its_place(generator, monkeypatch):
    tokenizer = generator.tokenizer
    eot = chat.eot_id(tokenizer)
    red, green, blue = (tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in ("Red", " green", " blue"))
    short, long, late = ["Name three colours."], ["What is the capital of France?"], ["How do I brew coffee?"]
    short_ids, long_ids, late_ids = (tuple(chat.prompt_ids(tokenizer, p)) for p in (short, long, late))
    # Each script carries on with text after its EOT: none of it may be generated or returned.
    scripts = {
        short_ids: [red, green, eot, blue, blue, blue, blue, blue, blue],
        long_ids: [red, green, blue, red, green, eot, blue, blue, blue],
        late_ids: [blue, eot, red, red, red, red, red, red, red],
    }
    forcer = ForceTokens(scripts, tokenizer.pad_token_id)
    # A base checkpoint's own generation_config knows nothing of EOT: the engine must say it.
    monkeypatch.setattr(generator.model.generation_config, "eos_token_id", None)

    responses = generator.generate([short, long, late], DecodingSettings(max_new_tokens=9), batch_size=2, logits_processor=[forcer])

    assert responses == [tokenizer.decode([red, green]), tokenizer.decode([red, green, blue, red, green]), tokenizer.decode([blue])]
    # every token computed was a token of an answer: 3 + 6 + 2, nothing for rows already finished
    assert forcer.row_steps == 3 + 6 + 2
    assert generator.generate_ids([short, late], DecodingSettings(max_new_tokens=9), logits_processor=[ForceTokens(scripts, tokenizer.pad_token_id)]) == [[red, green, eot], [blue, eot]]


def test_an_answer_that_never_stops_ends_at_max_new_tokens(generator):
    endless = DecodingSettings(do_sample=False, max_new_tokens=5, min_new_tokens=5)
    ids = generator.generate_ids(PROMPTS[:3], endless, batch_size=2)
    assert [len(answer) for answer in ids] == [5, 5, 5]
    assert chat.eot_id(generator.tokenizer) not in [t for answer in ids for t in answer]


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


def test_it_reports_progress_as_each_answer_ends(generator):
    seen = []
    generator.generate(PROMPTS + PROMPTS[:1], GREEDY, batch_size=2, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(done, 5) for done in range(1, 6)]


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
    within = [e for e in events if "partial" in e]  # about every second while answers are written
    assert all(0 <= e["partial"] <= 3 - e["done"] and e["tokens"] > 0 for e in within)
    assert [e for e in events if "partial" not in e] == [
        {"event": "progress", "done": 1, "total": 3},
        {"event": "progress", "done": 2, "total": 3},
        {"event": "progress", "done": 3, "total": 3},
        {"event": "done", "count": 3, "out": str(out)},
    ]
    expected = generator.generate([r["conversations"][:1] for r in rows], GREEDY)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [{k: row[k] for k in ("id", "prompt", "response", "model")} for row in written] == [
        {"id": "paris", "prompt": "What is the capital of France?", "response": expected[0], "model": "tiny-chat"},
        {"id": 2, "prompt": "Name three colours.", "response": expected[1], "model": "tiny-chat"},
        {"id": 7, "prompt": "How do I brew coffee?", "response": expected[2], "model": "tiny-chat"},
    ]
    ids = generator.generate_ids([r["conversations"][:1] for r in rows], GREEDY)
    assert [row["completion_tokens"] for row in written] == [len(i) for i in ids]
    assert [row["finish_reason"] for row in written] == [generator.finish_reason(i) for i in ids]
    assert written[0]["finish_reason"] == "stop" and all(row["prompt_tokens"] > 3 for row in written)
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
    assert config.do_sample is False and config.top_k is None
    assert [type(p) for p in build_logits_processors(GREEDY, generator.tokenizer)] == [RepetitionPenaltyExceptSpecial]


def test_streaming_applies_the_same_penalty_and_each_warper_once(generator, monkeypatch):
    passed = []
    original = generator.model.generate
    monkeypatch.setattr(generator.model, "generate", lambda **kw: passed.append(kw) or original(**kw))
    list(generator.stream(["How do I brew coffee?"], DecodingSettings(max_new_tokens=5)))
    config = passed[0]["generation_config"]
    assert config.repetition_penalty == 1.0 and (config.temperature, config.top_p) == (0.7, 0.9)
    # temperature and top-p come from the config alone: passed as processors too, generate would apply them twice
    assert [type(p) for p in passed[0]["logits_processor"]] == [RepetitionPenaltyExceptSpecial]


def test_a_sampled_stream_is_the_sampled_answer_of_generate(untrained):
    # the untrained model's wide distribution makes any difference in sampling show
    turns = ["Tell me a story about a cat."]
    sampled = DecodingSettings(max_new_tokens=40)
    streamed = "".join(untrained.stream(turns, sampled, seed=4))
    assert streamed == untrained.generate([turns], sampled, seed=4)[0]
    assert streamed != untrained.generate([turns], sampled, seed=5)[0]
