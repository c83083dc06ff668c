"""The training engine against transformers' Trainer with its own length grouping, in one run.

    .venv/bin/python bench/train.py [--steps 8] [--batch-size 32] [--micro-batch-size 4] [--max-length 1024]
                                    [--threads 1] [--rounds 2] [--bf16] [--peak-tflops N] [--no-packed-timing]

Both sides train the same tiny LLaMA (same initial weights, same residual-dropout hooks) on the same
tokenised LIMA examples (LIMA's train set from the shared data folder, or the test fixtures where it
is absent) for the same optimizer steps, with the same batch, micro-batch, accumulation, threads,
dtype, AdamW settings and linear schedule. The Trainer uses train_sampling_strategy="group_by_length"
(its LengthGroupedSampler: mega-batches sorted by length, so each step holds examples of one length:
fast, but it changes what is learned, see issue 11) and DataCollatorForSeq2Seq (each micro-batch padded
to its longest). The engine keeps random steps and groups by length only inside a step. Rounds alternate
engine / Trainer and the best round of each counts. Trained tokens/s = tokens that carry a label per
second of the training loop. The ratio is printed as measured, below 1 too.

Also: padding share of each way of batching (packing: padding-free), MFU on a GPU, and checkpoint
bytes per epoch / model bytes (the epoch checkpoints are weights only, in the model's dtype).
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
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_pt_utils import get_length_grouped_indices  # noqa: E402
from transformers.utils import logging  # noqa: E402

from training.engine.config import RunConfig  # noqa: E402
from training.engine.data import (  # noqa: E402
    encode_examples,
    epoch_batches,
    micro_batches,
    packed_micro_batches,
    padding_share,
    read_conversations,
    trained_tokens,
)
from training.engine.dropout import add_residual_dropout  # noqa: E402
from training.engine.tiny import build_tiny_model  # noqa: E402
from training.engine.train import train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# The shared data folder sits beside the main checkout (../shared) or beside the worktrees' folder.
LIMA_TRAIN = next((p for p in (REPO.parent / "shared", REPO.parent.parent / "shared") if (p / "data" / "lima").is_dir()), REPO.parent / "shared") / "data" / "lima" / "train_1k_fastchat.json"
FIXTURE = REPO / "tests" / "training" / "fixtures" / "engine_chats.jsonl"
PREAMBLE = "### Instruction: "  # that conversion prepends an Alpaca preamble to every prompt
# Dense bf16 peak of common GPUs, FLOP/s (vendor figures, without sparsity).
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12, "4090": 165e12, "3090": 71e12}


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


def engine_recipe(args, **changes) -> dict:
    return {
        "epochs": 1, "batch_size": args.batch_size, "micro_batch_size": args.micro_batch_size,
        "max_length": args.max_length, "learning_rate": 1e-4, "final_learning_rate": 1e-5,
        "residual_dropout": 0.2, "save_from_epoch": 99, "bf16": args.bf16, "packing": False, **changes,
    }


def run_engine(model_dir: Path, data: Path, out: Path, recipe: dict) -> tuple[float, list[dict]]:
    """Trained tokens/s over the engine's training loop (its own step events), and all its events."""
    events = []
    train(RunConfig(str(model_dir), str(data), str(out), recipe), emit=lambda event, **f: events.append({"event": event, **f}))
    return [e for e in events if e["event"] == "step"][-1]["trained_tokens_per_s"], events


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
        use_cpu=not torch.cuda.is_available(), bf16=args.bf16, seed=42, dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",
    )
    timer = LoopTimer()
    collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    trainer = Trainer(model=model, args=training_args, train_dataset=rows, data_collator=collator, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)  # its summary line would land among the figures
    trainer.train()
    return trained_tokens(examples) / timer.elapsed


def mfu_line(model_dir: Path, tokens_per_s: float, mean_length: float, args) -> str:
    """Model FLOPs utilisation: (6 x parameters + attention) FLOPs a token x tokens/s / the GPU's peak."""
    if not torch.cuda.is_available():
        return "MFU: skipped on CPU (no peak FLOP/s to compare with; run on a GPU, or pass --peak-tflops there)"
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config, parameters = model.config, sum(p.numel() for p in model.parameters())
    per_token = 6 * parameters + 12 * config.num_hidden_layers * config.hidden_size * mean_length  # forward + backward
    name = torch.cuda.get_device_name()
    peak = args.peak_tflops * 1e12 if args.peak_tflops else next((v for k, v in PEAK_BF16.items() if k in name), None)
    if peak is None:
        return f"MFU: unknown peak for {name}; pass --peak-tflops"
    return f"MFU: {per_token * tokens_per_s / peak:6.1%} of {peak / 1e12:.0f} TFLOP/s ({name}; all tokens, padding excluded)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--micro-batch-size", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 suits a tiny model on a shared 2-core machine)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast on both sides (a GPU's setting)")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, for MFU")
    parser.add_argument("--no-packed-timing", action="store_true", help="skip timing the packed engine (slow on CPU: block-diagonal attention)")
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

        engine, trainer, events = [], [], None
        for round_number in range(args.rounds):
            speed, events = run_engine(model_dir, data, tmp / f"engine-{round_number}", engine_recipe(args))
            engine.append(speed)
            trainer.append(run_trainer(model_dir, examples, tmp / f"trainer-{round_number}", args))
        packed_speed = None
        if not args.no_packed_timing:
            packed_speed, _ = run_engine(model_dir, data, tmp / "engine-packed", engine_recipe(args, packing=True))
        model_bytes = sum(f.stat().st_size for f in model_dir.glob("*.safetensors"))
        checkpoint_event = [e for e in events if e["event"] == "checkpoint"][-1]
        weights_bytes = sum(f.stat().st_size for f in Path(checkpoint_event["path"]).glob("*.safetensors"))
        _, resumed = run_engine(model_dir, data, tmp / "engine-epochs", engine_recipe(args, epochs=2, save_from_epoch=1))
        resume_bytes = [e["bytes"] for e in resumed if e["event"] == "resume_point"][-1]
        mfu = mfu_line(model_dir, max(engine), sum(lengths) / len(lengths), args)

    steps = epoch_batches(len(lengths), args.batch_size, 42, 1)
    shares = {
        "engine, random steps, grouped inside each step": padding_share(lengths, [m for s in steps for m in micro_batches(s, args.micro_batch_size, lengths)]),
        "engine, random steps, no grouping": padding_share(lengths, [m for s in steps for m in micro_batches(s, args.micro_batch_size)]),
        "engine, packed (padding-free)": padding_share(lengths, [m for s in steps for m in packed_micro_batches(s, lengths, args.micro_batch_size * args.max_length)], packed=True),
    }
    grouped = get_length_grouped_indices(lengths, args.batch_size, generator=torch.Generator().manual_seed(42))
    shares["Trainer group_by_length (mega-batches)"] = padding_share(lengths, [grouped[i : i + args.micro_batch_size] for i in range(0, len(grouped), args.micro_batch_size)])
    best_engine, best_trainer = max(engine), max(trainer)
    dtype = "bf16 autocast" if args.bf16 else "fp32"
    print(f"data: {len(examples)} examples from {source}, {sum(lengths):,} tokens, {trained_tokens(examples):,} trained; max_length {args.max_length}")
    print(f"setup: {args.steps} steps x batch {args.batch_size} (micro {args.micro_batch_size}), {args.threads} thread(s), {dtype}, best of {args.rounds} rounds")
    print(f"engine   trained tokens/s: {best_engine:10.1f}   (rounds: {', '.join(f'{x:.0f}' for x in engine)})")
    print(f"Trainer  trained tokens/s: {best_trainer:10.1f}   (rounds: {', '.join(f'{x:.0f}' for x in trainer)}; group_by_length)")
    print(f"ratio engine / Trainer:    {best_engine / best_trainer:10.2f}x   (issue 11 target >= 1.3x)")
    if packed_speed is not None:
        print(f"engine packed, trained tokens/s: {packed_speed:10.1f}   (on CPU the packed row's attention is a block-diagonal mask over the whole row: quadratic; flash-attention varlen on a GPU)")
    for name, share in shares.items():
        print(f"padding share, {name:<48}: {share:6.1%}" + ("   (target <= 2 %)" if "packed" in name else ""))
    print(mfu)
    print(f"checkpoint bytes per epoch / model bytes: {weights_bytes / model_bytes:.3f} (weights), {checkpoint_event['bytes'] / model_bytes:.3f} (whole folder, with tokenizer and configs); "
          f"the one resume point: {resume_bytes / model_bytes:.2f}x (fp32 weights + AdamW moments)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
