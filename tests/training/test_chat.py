"""The chat format: markers and EOT as single ids, what is trained, what generation continues."""

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from training.engine import chat


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
