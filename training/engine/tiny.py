"""A tiny LLaMA-architecture model built locally, for tests and the demo (nothing is downloaded).

    python -m training.engine.tiny OUT_DIR --corpus FILE [--vocab-size 512] [--hidden-size 64] ...

FILE is plain text (one passage a line) or JSONL of {"conversations": [...]} rows. A byte-level
BPE tokenizer is trained on it with the chat tokens as single ids, and a small LlamaForCausalLM is
initialised from a seeded config; both are saved with save_pretrained so that
AutoTokenizer / AutoModelForCausalLM.from_pretrained(OUT_DIR) load them like any real model.
"""

import argparse
import json
import sys
from pathlib import Path

from training.engine.chat import EOT, PAD, SPECIAL_TOKENS, chat_template

DEFAULT_SIZES = {
    "vocab_size": 512,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "max_position_embeddings": 2048,
}


def build_tiny_model(out_dir, corpus_texts, seed: int = 0, chat_tokens: bool = True, bos: bool = False, tied: bool = True, **sizes) -> Path:
    """Train a tokenizer on corpus_texts, initialise a LLaMA from a config of `sizes`, save both to out_dir.

    chat_tokens=False gives a tokenizer like a pretrained model's, with only its own "<s>" / "</s>"
    (the engine adds the chat tokens); bos=True makes it put "<s>" before every text, as LLaMA's do;
    tied=False gives the model an output layer of its own (not tied to the input embeddings).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    unknown = set(sizes) - set(DEFAULT_SIZES)
    if unknown:
        raise ValueError(f"unknown tiny-model size(s): {sorted(unknown)}; known: {sorted(DEFAULT_SIZES)}")
    sizes = {**DEFAULT_SIZES, **sizes}
    texts = [text for text in corpus_texts if text]
    if not texts:
        raise ValueError("the tiny model's corpus is empty")

    specials = SPECIAL_TOKENS if chat_tokens else []
    specials = (["<s>"] if bos or not chat_tokens else []) + specials + ([] if chat_tokens else ["</s>"])
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=sizes["vocab_size"],
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable, never an unknown
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    if bos:
        bpe.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bpe.token_to_id("<s>"))])
    if chat_tokens:
        names = {"pad_token": PAD, "eos_token": EOT, "additional_special_tokens": [t for t in SPECIAL_TOKENS if t not in (PAD, EOT)]}
    else:
        names = {"eos_token": "</s>"}
    if bos:
        names["bos_token"] = "<s>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, model_max_length=sizes["max_position_embeddings"], **names)
    if chat_tokens:
        tokenizer.chat_template = chat_template("<s>" if bos else "")

    config = LlamaConfig(
        vocab_size=len(tokenizer),  # the trained vocabulary may be smaller than asked for
        hidden_size=sizes["hidden_size"],
        num_hidden_layers=sizes["num_hidden_layers"],
        num_attention_heads=sizes["num_attention_heads"],
        num_key_value_heads=sizes["num_attention_heads"],
        intermediate_size=sizes["intermediate_size"],
        max_position_embeddings=sizes["max_position_embeddings"],
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=tied,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return out_dir


def read_corpus(path) -> list[str]:
    """Texts of a plain-text file (one a line) or of a JSONL of {"conversations": [...]} rows."""
    path = Path(path)
    texts = []
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if path.suffix == ".jsonl":
                try:
                    turns = json.loads(line)["conversations"]
                except (ValueError, KeyError, TypeError) as error:
                    raise ValueError(f"{path}:{line_number}: expected a JSON object with 'conversations' ({error})") from None
                texts.extend(turn["value"] if isinstance(turn, dict) else str(turn) for turn in turns)
            else:
                texts.append(line)
    return texts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.engine.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--corpus", required=True, help="plain text, or .jsonl of {'conversations': [...]} rows")
    parser.add_argument("--seed", type=int, default=0)
    for name, value in DEFAULT_SIZES.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=value)
    args = parser.parse_args(argv)
    try:
        texts = read_corpus(args.corpus)
        sizes = {name: getattr(args, name) for name in DEFAULT_SIZES}
        out = build_tiny_model(args.out_dir, texts, seed=args.seed, **sizes)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"event": "tiny_model", "path": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
