"""python -m training.engine --config run.json [--resume] | --show-recipe   (see README.md)"""

import argparse
import os
import sys
import traceback

from training.engine.progress import emit_json_line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.engine", description="Fine-tune a causal LM with LIMA's recipe.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--config", help="run.json: base_model, data, output_dir, recipe overrides, resume")
    action.add_argument("--show-recipe", action="store_true", help="print LIMA's default recipe as JSON and exit")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in output_dir")
    args = parser.parse_args(argv)

    if args.show_recipe:
        from training.engine.recipe import Recipe

        print(Recipe().to_json())
        return 0

    try:
        from training.engine.config import load_run_config
        from training.engine.train import train

        config = load_run_config(args.config)
        if args.resume:
            config = type(config)(**{**config.__dict__, "resume": True})
        train(config)
    except Exception as error:  # every failure ends with one machine-readable line
        traceback.print_exc(file=sys.stderr)
        emit_json_line("error", message=str(error), type=type(error).__name__, rank=int(os.environ.get("RANK", 0)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
