"""The chat format: markers and EOT as single ids, what is trained, what generation continues."""

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from training.engine import chat
from training.engine.tiny import build_tiny_model


def _bare_tokenizer(with_bos: bool = False) -> PreTrainedTokenizerFast:
    """A tokenizer that has never heard of the chat tokens, like a pretrained model's."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    specials = ["<s>", "</s>"]
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(["hello world", "how are you", "fine thanks"], trainer)
    if with_bos:
        bpe.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")


def test_render_wraps_every_utterance_in_its_role_and_an_eot():
    assert chat.render(["Hi", "Hello!", "Bye"]) == "<|user|>Hi<|eot|><|assistant|>Hello!<|eot|><|user|>Bye<|eot|>"
    assert chat.render(["Hi"], add_generation_prompt=True) == "<|user|>Hi<|eot|><|assistant|>"


def test_add_chat_tokens_adds_single_ids_and_resizes_the_embeddings():
    # given a tokenizer and model without the chat tokens
    tokenizer = _bare_tokenizer()
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    before = len(tokenizer)
    # when
    chat.add_chat_tokens(tokenizer, model)
    # then
    assert len(tokenizer) == before + 4
    for token in chat.SPECIAL_TOKENS:
        assert tokenizer(f"hello{token}world", add_special_tokens=False)["input_ids"].count(tokenizer.convert_tokens_to_ids(token)) == 1
    assert tokenizer.pad_token == chat.PAD
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert model.generation_config.eos_token_id[0] == chat.eot_id(tokenizer)


def test_add_chat_tokens_twice_changes_nothing(tokenizer):
    size = len(tokenizer)
    chat.add_chat_tokens(tokenizer)
    chat.add_chat_tokens(tokenizer)
    assert len(tokenizer) == size


def test_encode_matches_tokenising_the_rendered_text(tokenizer):
    turns = ["What is tea?", "Tea is a drink.", "Hot?", "Usually."]
    ids, trained = chat.encode(tokenizer, turns)
    assert ids == tokenizer(chat.render(turns), add_special_tokens=False)["input_ids"]
    assert len(trained) == len(ids)


def test_encode_trains_exactly_the_assistant_text_and_its_eot(tokenizer):
    turns = ["What is tea?", "Tea is a drink.", "Hot?", "Usually."]
    ids, trained = chat.encode(tokenizer, turns)
    trained_text = tokenizer.decode([i for i, t in zip(ids, trained) if t])
    untrained_text = tokenizer.decode([i for i, t in zip(ids, trained) if not t])
    assert trained_text == "Tea is a drink.<|eot|>Usually.<|eot|>"
    assert untrained_text == "<|user|>What is tea?<|eot|><|assistant|><|user|>Hot?<|eot|><|assistant|>"
    assert ids[-1] == chat.eot_id(tokenizer) and trained[-1]


def test_encode_keeps_the_tokenizers_bos_untrained():
    tokenizer = _bare_tokenizer(with_bos=True)
    chat.add_chat_tokens(tokenizer)
    ids, trained = chat.encode(tokenizer, ["hello", "fine"])
    assert ids[0] == tokenizer.bos_token_id and not trained[0]
    assert ids[1] == tokenizer.convert_tokens_to_ids(chat.USER)


def test_encode_refuses_a_tokenizer_without_the_chat_tokens():
    with pytest.raises(ValueError, match="add_chat_tokens"):
        chat.encode(_bare_tokenizer(), ["hello", "fine"])


def test_prompt_ids_end_with_the_assistant_marker(tokenizer):
    ids = chat.prompt_ids(tokenizer, ["What is tea?"])
    assert ids == tokenizer(chat.render(["What is tea?"], add_generation_prompt=True), add_special_tokens=False)["input_ids"]
    with pytest.raises(ValueError, match="user turn"):
        chat.prompt_ids(tokenizer, ["What is tea?", "A drink."])


def test_the_tiny_model_loads_through_from_pretrained_with_the_chat_tokens(tiny_model_dir, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "llama"
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert sum(p.numel() for p in model.parameters()) < 200_000
    ids, _ = chat.encode(tokenizer, ["What is tea?", "A drink."])
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits  # (1, seq, vocab)
    assert logits.shape == (1, len(ids), len(tokenizer))
    for token in chat.SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1


def test_apply_chat_template_renders_the_same_text(tokenizer):
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == chat.render(["Hi", "Hello!", "Bye"])
    assert tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == chat.render(["Hi", "Hello!", "Bye"], add_generation_prompt=True)
    bare = _bare_tokenizer()
    chat.add_chat_tokens(bare)
    assert bare.apply_chat_template(messages[:1], tokenize=False) == chat.render(["Hi"])
    with pytest.raises(Exception, match="only user and assistant"):
        tokenizer.apply_chat_template([{"role": "system", "content": "Be brief."}], tokenize=False)


DEMO = Path(__file__).resolve().parents[2] / "curation" / "demo" / "demo_examples.jsonl"


def _demo_conversations() -> list[list[str]]:
    return [json.loads(line)["conversations"] for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module", params=["no-bos", "bos"])
def demo_tokenizer_dir(request, tmp_path_factory):
    """A tokenizer trained on the demo set that adds no BOS (the tiny model's, chat tokens built in) or
    one that puts <s> before every text, like LLaMA's, and has no chat tokens until the engine adds them."""
    texts = [turn for turns in _demo_conversations() for turn in turns]
    folder = tmp_path_factory.mktemp(request.param)
    return build_tiny_model(folder, texts, chat_tokens=request.param == "no-bos", bos=request.param == "bos")


def _messages(turns):
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]


def test_the_saved_chat_template_reproduces_the_training_tokens_of_every_demo_example(demo_tokenizer_dir, tmp_path):
    # given the engine's tokenizer, saved with a checkpoint and loaded back as another tool would
    tokenizer = AutoTokenizer.from_pretrained(demo_tokenizer_dir)
    chat.add_chat_tokens(tokenizer)
    tokenizer.save_pretrained(tmp_path / "checkpoint")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "checkpoint")
    adds_bos = tokenizer("x")["input_ids"][0] == tokenizer.convert_tokens_to_ids("<s>")
    assert adds_bos == ("bos" in demo_tokenizer_dir.name and "no-bos" not in demo_tokenizer_dir.name)
    conversations = _demo_conversations()
    assert len(conversations) == 40 and sum(len(turns) >= 2 for turns in conversations) >= 30
    for turns in conversations:
        trained = turns[: len(turns) - len(turns) % 2]  # what training encodes (a lone prompt: nothing)
        if trained:
            ids, _ = chat.encode(tokenizer, trained)
            # then apply_chat_template (vLLM, TRL, lm-eval) gives exactly the ids trained on, BOS included
            assert reloaded.apply_chat_template(_messages(trained), tokenize=True)["input_ids"] == ids
            assert (ids[0] == tokenizer.bos_token_id) == adds_bos
        # and the prompt of generation too
        prompt = turns[: len(turns) - 1 + len(turns) % 2]
        assert reloaded.apply_chat_template(_messages(prompt), tokenize=True, add_generation_prompt=True)["input_ids"] == chat.prompt_ids(tokenizer, prompt)


def test_new_chat_token_rows_start_at_the_base_models_eos_row_or_the_mean_row():
    # given a base model whose output layer is its own (untied) and whose tokenizer ends texts with </s>
    tokenizer = _bare_tokenizer()
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, tie_word_embeddings=False))
    before_in, before_out = model.get_input_embeddings().weight.detach().clone(), model.get_output_embeddings().weight.detach().clone()
    eos = tokenizer.eos_token_id
    # when the engine adds the chat tokens
    chat.add_chat_tokens(tokenizer, model)
    # then EOT starts where "stop" already is, in the input and the output matrix; the markers at the mean
    after_in, after_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    eot, user = chat.eot_id(tokenizer), tokenizer.convert_tokens_to_ids(chat.USER)
    torch.testing.assert_close(after_in[eot], before_in[eos])
    torch.testing.assert_close(after_out[eot], before_out[eos])
    torch.testing.assert_close(after_in[user], before_in.mean(dim=0))
    torch.testing.assert_close(after_out[user], before_out.mean(dim=0))
    torch.testing.assert_close(after_in[: len(before_in)], before_in)  # the old rows are untouched


def test_without_an_eos_the_new_eot_row_starts_at_the_mean_row():
    tokenizer = _bare_tokenizer()
    tokenizer.eos_token = None
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    model.generation_config.eos_token_id = None
    before = model.get_input_embeddings().weight.detach().clone()
    chat.add_chat_tokens(tokenizer, model)
    torch.testing.assert_close(model.get_input_embeddings().weight[chat.eot_id(tokenizer)], before.mean(dim=0))
