"""python -m inference.engine --checkpoint DIR --prompts FILE.jsonl --out FILE.jsonl [--batch-size N] ...

Progress goes to stderr as JSON lines ({"event": "progress", "done": n, "total": m}, as each answer ends, and
about every second while answers are written also "partial" (the share written of the unfinished ones, in
prompts) and "tokens" (generated so far); then
{"event": "done", ...}) for the Celery task that runs this; errors as {"event": "error", ...}
with exit status 2.
"""

import argparse
import json
import sys

from inference.engine.generate import DecodingSettings, generate_file

DEFAULTS = DecodingSettings()


def emit(**event) -> None:
    print(json.dumps(event), file=sys.stderr, flush=True)


def quiet_transformers() -> None:
    """Keep stderr to our JSON events: no loading bars or advice from transformers."""
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.engine", description="Generate responses with LIMA's decoding."
    )
    parser.add_argument("--checkpoint", required=True, help="a local checkpoint folder (save_pretrained layout)")
    parser.add_argument("--prompts", required=True, help="JSONL of {'conversations': [...], 'source': ..., 'id'?}")
    parser.add_argument("--out", required=True, help="JSONL of {'id', 'prompt', 'response', 'model'}, written whole")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-name", help="name the responses are filed under (default: the checkpoint folder's)")
    parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature)
    parser.add_argument("--top-p", type=float, default=DEFAULTS.top_p)
    parser.add_argument("--repetition-penalty", type=float, default=DEFAULTS.repetition_penalty)
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULTS.max_new_tokens)
    parser.add_argument("--greedy", action="store_true", help="no sampling (same penalty and lengths)")
    args = parser.parse_args(argv)
    quiet_transformers()

    try:
        settings = DecodingSettings(
            top_p=args.top_p,
            temperature=args.temperature,
            repetition_penalty=args.repetition_penalty,
            max_new_tokens=args.max_new_tokens,
            do_sample=not args.greedy,
        )
        count = generate_file(
            args.checkpoint,
            args.prompts,
            args.out,
            settings,
            seed=args.seed,
            batch_size=args.batch_size,
            model_name=args.model_name,
            on_progress=lambda done, total: emit(event="progress", done=done, total=total),
            on_tokens=lambda done, total, partial, tokens: emit(
                event="progress", done=done, total=total, partial=round(partial, 3), tokens=tokens,
            ),
        )
    except (OSError, ValueError) as error:
        emit(event="error", message=str(error))
        return 2
    emit(event="done", count=count, out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
