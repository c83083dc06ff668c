"""Batched sampling from a checkpoint with LIMA's decoding, in the one chat format.

    generator = Generator.from_checkpoint("runs/7/epoch-5")
    responses = generator.generate([["How do I brew coffee?"]], DecodingSettings(), seed=0)
    for piece in generator.stream(["Tell me a story."]):
        ...

Prompts are built with training/engine/chat.py (the format the model was trained on), left
padded into batches, and continued by `model.generate` until EOT: no per-token Python loop.
No Django here: the web app runs this through `python -m inference.engine` or imports it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from inference.engine.decoding import DecodingSettings
from inference.engine.jsonl import read_prompts, write_jsonl_atomically
from training.engine import chat


def pick_device() -> tuple[torch.device, torch.dtype]:
    """cuda in bf16 when there is a GPU, else the CPU in fp32 (bf16 matmuls are slow there)."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def stop_ids(tokenizer) -> list[int]:
    """EOT first (LIMA stops on its new end-of-turn token); the pretrained EOS too, if distinct,
    so a checkpoint that falls back to it still ends its answer."""
    ids = [chat.eot_id(tokenizer)]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def pad_id(tokenizer) -> int:
    """Padding for batch rows (left) and finished rows (right); EOT if the tokenizer has no pad."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else chat.eot_id(tokenizer)


def build_generation_config(settings: DecodingSettings, tokenizer) -> GenerationConfig:
    """Every setting generate() would otherwise take from the checkpoint's generation_config.json
    or transformers' defaults (top_k=50, for one) is set here, so nothing LIMA did not use slips in."""
    # The filters are set only when sampling: greedy decoding would ignore them (and warn).
    sampling = (
        dict(
            do_sample=True,
            top_p=settings.top_p,
            temperature=settings.temperature,
            top_k=0,
            min_p=0.0,
            typical_p=1.0,
            epsilon_cutoff=0.0,
            eta_cutoff=0.0,
        )
        if settings.do_sample
        else dict(do_sample=False)
    )
    return GenerationConfig(
        **sampling,
        repetition_penalty=settings.repetition_penalty,
        no_repeat_ngram_size=0,
        num_beams=1,
        num_return_sequences=1,
        max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens,
        eos_token_id=stop_ids(tokenizer),
        pad_token_id=pad_id(tokenizer),  # a finished row is filled with pad while the rest of the batch runs
        use_cache=True,
    )


class _Cancelled(StoppingCriteria):
    """Stops a streamed generation whose reader went away (a closed playground tab)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class Generator:
    """A loaded checkpoint: model, tokenizer, device, and the name its responses are filed under."""

    def __init__(self, model, tokenizer, name: str):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(model.parameters()).device
        # Fail at load, not mid-run, if the checkpoint was never given the chat tokens.
        chat.prompt_ids(tokenizer, ["x"])

    @classmethod
    def from_checkpoint(cls, checkpoint, name: str | None = None, device=None, dtype=None) -> Generator:
        """Load a local checkpoint folder (save_pretrained layout): nothing is downloaded."""
        path = Path(checkpoint)
        if not path.is_dir():
            raise FileNotFoundError(f"checkpoint folder not found: {path}")
        default_device, default_dtype = pick_device()
        device = torch.device(device) if device is not None else default_device
        dtype = dtype or (default_dtype if device.type == default_device.type else torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
        model.to(device).eval()
        return cls(model, tokenizer, name or path.resolve().name)

    def _batch(self, prompts: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded ids and attention mask, so every row's last prompt token sits at the end."""
        rows = [chat.prompt_ids(self.tokenizer, list(turns)) for turns in prompts]
        width = max(len(r) for r in rows)
        pad = pad_id(self.tokenizer)
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])  # (batch, width)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        return ids.to(self.device), mask.to(self.device)

    def _response(self, new_ids: list[int]) -> str:
        """Text up to the first stop token; what follows it in a batch row is padding."""
        stops = set(stop_ids(self.tokenizer))
        end = next((i for i, t in enumerate(new_ids) if t in stops), len(new_ids))
        return self.tokenizer.decode(new_ids[:end], skip_special_tokens=True)

    @torch.inference_mode()
    def generate(
        self,
        prompts: Sequence[Sequence[str]],
        settings: DecodingSettings = DecodingSettings(),
        seed: int = 0,
        batch_size: int = 16,
        on_progress: Callable[[int, int], None] | None = None,
        logits_processor=None,
    ) -> list[str]:
        """One response per prompt (a list of turns ending with the user's), in the given order.

        Prompts of similar length are batched together to waste little on padding. The same
        prompts, settings, seed and batch size give the same responses; the caller's torch RNG
        state is left as it was.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        config = build_generation_config(settings, self.tokenizer)
        lengths = [len(chat.prompt_ids(self.tokenizer, list(p))) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: (lengths[i], i))
        responses: list[str | None] = [None] * len(prompts)
        with torch.random.fork_rng(devices=self._rng_devices()):
            torch.manual_seed(seed)
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                ids, mask = self._batch([prompts[i] for i in chunk])
                out = self.model.generate(
                    input_ids=ids,
                    attention_mask=mask,
                    generation_config=config,
                    logits_processor=logits_processor,
                )  # (batch, width + new tokens)
                for row, index in enumerate(chunk):
                    responses[index] = self._response(out[row, ids.shape[1] :].tolist())
                if on_progress is not None:
                    on_progress(start + len(chunk), len(prompts))
        return responses  # type: ignore[return-value]

    def stream(
        self,
        turns: Sequence[str],
        settings: DecodingSettings = DecodingSettings(),
        seed: int | None = None,
        timeout: float | None = None,
    ) -> Iterator[str]:
        """Text pieces of one response as the tokens are generated (for the playground).

        Generation runs in a thread feeding a TextIteratorStreamer; closing the iterator early
        stops the generation at its next token.
        """
        ids, mask = self._batch([turns])
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout
        )
        cancel = threading.Event()
        failure: list[BaseException] = []

        def run():
            try:
                with torch.inference_mode(), torch.random.fork_rng(devices=self._rng_devices()):
                    if seed is not None:
                        torch.manual_seed(seed)
                    self.model.generate(
                        input_ids=ids,
                        attention_mask=mask,
                        generation_config=build_generation_config(settings, self.tokenizer),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                    )
            except BaseException as error:  # handed to the reader instead of dying silently
                failure.append(error)
                streamer.end()

        thread = threading.Thread(target=run, name="inference-stream", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            cancel.set()
            thread.join()
        if failure:
            raise failure[0]

    def _rng_devices(self) -> list:
        return [self.device] if self.device.type == "cuda" else []


def generate_file(
    checkpoint,
    prompts_path,
    out_path,
    settings: DecodingSettings = DecodingSettings(),
    seed: int = 0,
    batch_size: int = 16,
    model_name: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Answer every prompt of a LIMA-format JSONL; write the responses file whole. Returns the count."""
    prompts = read_prompts(prompts_path)  # bad input fails before the model is loaded
    generator = Generator.from_checkpoint(checkpoint, name=model_name)
    responses = generator.generate(
        [p.turns for p in prompts], settings, seed=seed, batch_size=batch_size, on_progress=on_progress
    )
    write_jsonl_atomically(
        out_path,
        (
            {"id": p.id, "prompt": p.turns[-1], "response": r, "model": generator.name}
            for p, r in zip(prompts, responses)
        ),
    )
    return len(prompts)
