"""Batched generation against one prompt at a time, tiny model on CPU, in one run.

    .venv/bin/python bench/generate.py [--batch-size 16] [--prompts 16] [--max-new-tokens 64] [--threads 1]

Both ways answer the same prompts with LIMA's sampling settings and the same number of new
tokens: EOT is held back until max_new_tokens (min_new_tokens = max_new_tokens), so neither
side wins by stopping early. Tokens are counted as they are generated, not assumed.
Target (issue 7): batched >= 3x the responses/s of one at a time at batch 16.
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
from transformers import LogitsProcessor, LogitsProcessorList  # noqa: E402
from transformers.utils import logging  # noqa: E402

from inference.engine.generate import DecodingSettings, Generator  # noqa: E402
from training.engine.tiny import build_tiny_model  # noqa: E402

LIMA_TEST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lima" / "test.jsonl"
FALLBACK_PROMPTS = [
    "How do I brew coffee with a French press?",
    "Write a short story about a lighthouse keeper.",
    "Explain why the sky is blue to a ten-year-old.",
    "What are the pros and cons of remote work?",
]


class TokenCounter(LogitsProcessor):
    """Counts the tokens generate() actually produces: one per row per step."""

    def __init__(self):
        self.tokens = 0

    def __call__(self, input_ids, scores):
        self.tokens += input_ids.shape[0]
        return scores


def load_prompts(count: int) -> tuple[list[list[str]], str]:
    if LIMA_TEST.exists():
        rows = [json.loads(line) for line in LIMA_TEST.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [r["conversations"][:1] for r in rows[:count]], str(LIMA_TEST)
    texts = (FALLBACK_PROMPTS * count)[:count]
    return [[f"{t} ({i})"] for i, t in enumerate(texts)], "built-in prompts"


def timed(generator, prompts, settings, batch_size) -> tuple[float, int]:
    counter = TokenCounter()
    start = time.perf_counter()
    responses = generator.generate(
        prompts, settings, seed=0, batch_size=batch_size, logits_processor=LogitsProcessorList([counter])
    )
    elapsed = time.perf_counter() - start
    assert len(responses) == len(prompts)
    return elapsed, counter.tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    # The tiny model's matmuls are too small to split across cores; with two intra-op threads on
    # a busy 2-core machine they mostly wait on each other and the timings turn to noise.
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable_progress_bar()

    prompts, origin = load_prompts(args.prompts)
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_model(folder, [p[0] for p in prompts] + FALLBACK_PROMPTS)
        generator = Generator.from_checkpoint(folder, device="cpu")
    settings = DecodingSettings(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens)
    timed(generator, prompts[:2], settings, batch_size=2)  # warm-up: first-call allocations

    seq_time, seq_tokens = timed(generator, prompts, settings, batch_size=1)
    bat_time, bat_tokens = timed(generator, prompts, settings, batch_size=args.batch_size)
    if seq_tokens != bat_tokens:
        raise SystemExit(f"token counts differ: one at a time {seq_tokens}, batched {bat_tokens}")

    n = len(prompts)
    print(f"tiny LLaMA on {generator.device} ({torch.get_num_threads()} thread(s)), {n} prompts from {origin}")
    print(f"LIMA sampling, {args.max_new_tokens} new tokens per response ({bat_tokens} in all, each way)")
    for label, seconds, tokens in (
        ("one at a time", seq_time, seq_tokens),
        (f"batch of {args.batch_size}", bat_time, bat_tokens),
    ):
        print(f"{label:<14}: {n / seconds:8.2f} responses/s {tokens / seconds:9.1f} tokens/s ({seconds:.2f} s)")
    print(f"speed-up      : {seq_time / bat_time:.1f}x (target >= 3x at batch 16)")


if __name__ == "__main__":
    main()
