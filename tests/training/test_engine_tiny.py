"""The tiny-model command: builds a loadable model from a corpus file, names the bad line otherwise."""

import json

from transformers import AutoModelForCausalLM, AutoTokenizer

from training.engine import chat, tiny


def test_the_command_builds_a_model_from_a_jsonl_corpus(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"conversations": ["Hi there", "Hello! How can I help?"]}\n{"conversations": ["Bye", "Goodbye."]}\n')
    assert tiny.main([str(tmp_path / "model"), "--corpus", str(corpus), "--hidden-size", "32", "--num-hidden-layers", "3"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["event"] == "tiny_model"
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (32, 3)
    ids, _ = chat.encode(tokenizer, ["Hi there", "Goodbye."])
    assert tokenizer.decode(ids) == "<|user|>Hi there<|eot|><|assistant|>Goodbye.<|eot|>"


def test_the_command_names_the_bad_line_of_a_corpus(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"conversations": ["Hi", "Hello"]}\n{"prompt": "no conversations"}\n')
    assert tiny.main([str(tmp_path / "model"), "--corpus", str(corpus)]) == 2
    assert f"{corpus}:2" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
