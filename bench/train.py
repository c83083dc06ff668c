"""The training engine against transformers' Trainer, tiny model on CPU, in one run.

    .venv/bin/python bench/train.py [--examples 256] [--steps 8] [--batch-size 32] [--micro-batch-size 4]
                                    [--max-length 1024] [--threads 1] [--rounds 2]

Both sides train the same tiny LLaMA (same initial weights, same residual-dropout hooks) on the
same tokenised LIMA examples (../shared/data/lima, or the test fixtures where that is absent) for
the same number of optimizer steps, with the same batch, accumulation, AdamW settings and linear
schedule. The Trainer uses its default random sampler and DataCollatorForSeq2Seq, which pads each
micro-batch to its longest example (labels padded with -100). Rounds alternate engine / Trainer and
the best round of each counts, so neither side pays alone for a warm-up or a noisy neighbour.
Trained tokens/s = tokens that carry a label (assistant text and EOT), per second of training loop.
Padding waste = pad tokens / all tokens in the padded micro-batches, with and without grouping.
Targets (issue 6): engine >= 1.0x the Trainer's trained tokens/s; padding waste <= 10 %.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.utils import logging  # noqa: E402

from training.engine.config import RunConfig  # noqa: E402
from training.engine.data import (  # noqa: E402
    encode_examples,
    epoch_batches,
    padding_share,
    read_conversations,
    trained_tokens,
)
from training.engine.dropout import add_residual_dropout  # noqa: E402
from training.engine.tiny import build_tiny_model  # noqa: E402
from training.engine.train import train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LIMA_TRAIN = REPO.parent / "shared" / "data" / "lima" / "train_1k_fastchat.json"
FIXTURE = REPO / "tests" / "training" / "fixtures" / "engine_chats.jsonl"
PREAMBLE = "### Instruction: "  # that conversion prepends an Alpaca preamble to every prompt


def load_conversations(count: int) -> tuple[list[list[str]], str]:
    if LIMA_TRAIN.exists():
        rows = json.loads(LIMA_TRAIN.read_text(encoding="utf-8"))
        step = max(len(rows) // count, 1)  # every source: the file is ordered by source
        chats = [[turn["value"].split(PREAMBLE, 1)[-1] for turn in row["conversations"]] for row in rows[::step][:count]]
        return chats, str(LIMA_TRAIN)
    chats = read_conversations(FIXTURE)
    return (chats * (count // len(chats) + 1))[:count], str(FIXTURE)


class LoopTimer(TrainerCallback):
    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_train_end(self, args, state, control, **kwargs):
        self.elapsed = time.perf_counter() - self.started


def run_engine(model_dir: Path, data: Path, out: Path, args) -> float:
    """Trained tokens/s over the engine's training loop (its own step events)."""
    recipe = {
        "epochs": 1, "batch_size": args.batch_size, "micro_batch_size": args.micro_batch_size,
        "max_length": args.max_length, "learning_rate": 1e-4, "final_learning_rate": 1e-5,
        "residual_dropout": 0.2, "save_from_epoch": 99,
    }
    steps = []
    train(RunConfig(str(model_dir), str(data), str(out), recipe), emit=lambda event, **f: steps.append(f) if event == "step" else None)
    return steps[-1]["trained_tokens_per_s"]


def run_trainer(model_dir: Path, examples, out: Path, args) -> float:
    """Trained tokens/s over Trainer.train() (from on_train_begin to on_train_end)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    add_residual_dropout(model, 0.2)
    rows = [{"input_ids": e.input_ids, "labels": e.labels, "attention_mask": [1] * len(e)} for e in examples]
    training_args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.micro_batch_size,
        gradient_accumulation_steps=args.batch_size // args.micro_batch_size, max_steps=args.steps,
        learning_rate=1e-4, lr_scheduler_type="linear", warmup_steps=0, adam_beta1=0.9, adam_beta2=0.95,
        weight_decay=0.1, save_strategy="no", report_to=[], logging_steps=10_000, disable_tqdm=True,
        use_cpu=True, seed=42, dataloader_num_workers=0,
    )
    timer = LoopTimer()
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    Trainer(model=model, args=training_args, train_dataset=rows, data_collator=collator, callbacks=[timer]).train()
    return trained_tokens(examples) / timer.elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--micro-batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 suits a tiny model on a shared 2-core machine)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.batch_size % args.micro_batch_size:
        parser.error("--batch-size must be a multiple of --micro-batch-size")
    torch.set_num_threads(args.threads)
    logging.set_verbosity_error()
    logging.disable_progress_bar()

    count = args.steps * args.batch_size  # one epoch of exactly `steps` full batches
    conversations, source = load_conversations(count)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_tiny_model(tmp / "model", [turn for chat in conversations for turn in chat])
        data = tmp / "train.jsonl"
        data.write_text("".join(json.dumps({"conversations": chat}) + "\n" for chat in conversations))
        examples = encode_examples(AutoTokenizer.from_pretrained(model_dir), conversations, args.max_length)
        lengths = [len(e) for e in examples]

        engine, trainer = [], []
        for round_number in range(args.rounds):
            engine.append(run_engine(model_dir, data, tmp / f"engine-{round_number}", args))
            trainer.append(run_trainer(model_dir, examples, tmp / f"trainer-{round_number}", args))

    grouped = padding_share(lengths, epoch_batches(lengths, args.batch_size, 42, 1, True), args.micro_batch_size)
    plain = padding_share(lengths, epoch_batches(lengths, args.batch_size, 42, 1, False), args.micro_batch_size)
    best_engine, best_trainer = max(engine), max(trainer)
    print(f"data: {len(examples)} examples from {source}, {sum(lengths):,} tokens, {trained_tokens(examples):,} trained; max_length {args.max_length}")
    print(f"setup: {args.steps} steps x batch {args.batch_size} (micro {args.micro_batch_size}), {args.threads} thread(s), best of {args.rounds} rounds")
    print(f"engine   trained tokens/s: {best_engine:10.1f}   (rounds: {', '.join(f'{x:.0f}' for x in engine)})")
    print(f"Trainer  trained tokens/s: {best_trainer:10.1f}   (rounds: {', '.join(f'{x:.0f}' for x in trainer)})")
    print(f"ratio engine / Trainer:    {best_engine / best_trainer:10.2f}x   (target >= 1.0x)")
    print(f"padding waste, length-grouped: {grouped:6.1%}   (target <= 10 %)")
    print(f"padding waste, random batches: {plain:6.1%}   (ratio {plain / grouped if grouped else float('inf'):.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
