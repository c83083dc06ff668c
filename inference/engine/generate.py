"""Batched sampling from a checkpoint with LIMA's decoding, in the one chat format.

    generator = Generator.from_checkpoint("runs/7/epoch-5")
    responses = generator.generate([["How do I brew coffee?"]], DecodingSettings(), seed=0)
    for piece in generator.stream(["Tell me a story."]):
        ...

Prompts are built with training/engine/chat.py (the format the model was trained on) and
answered with continuous batching (batching.py): a row that reaches EOT leaves the batch at once and
a waiting prompt takes its place, so finished answers cost no decode steps. LIMA's repetition
penalty (1.2) is applied to every token already in the prompt or the answer except EOT and the
other special tokens: the prompt always holds EOT and the chat markers, and penalising them would
make the model less likely to stop. No Django here: the web app runs this through
`python -m inference.engine` or imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TextIteratorStreamer,
    TopPLogitsWarper,
)

from inference.engine.batching import generate_continuously
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


def exempt_ids(tokenizer) -> list[int]:
    """Tokens the repetition penalty leaves alone: EOT, the chat markers and every special token."""
    ids = set(tokenizer.all_special_ids) | {tokenizer.convert_tokens_to_ids(t) for t in chat.SPECIAL_TOKENS} | set(stop_ids(tokenizer))
    return sorted(i for i in ids if i is not None and i >= 0)


class RepetitionPenaltyExceptSpecial(LogitsProcessor):
    """transformers' repetition penalty (CTRL's: a seen token's logit divided by the penalty when
    positive, multiplied when negative) on every token of the sequence so far, except `exempt`."""

    def __init__(self, penalty: float, exempt: list[int]):
        self.penalty = penalty
        self.exempt = torch.tensor(exempt, dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:  # (batch, seq), (batch, vocab)
        exempt = self.exempt.to(scores.device)
        untouched = scores[:, exempt]
        seen = torch.gather(scores, 1, input_ids)
        scores = scores.scatter(1, input_ids, torch.where(seen < 0, seen * self.penalty, seen / self.penalty))
        scores[:, exempt] = untouched
        return scores


def build_logits_processors(settings: DecodingSettings, tokenizer, extra=None, warpers: bool = True) -> LogitsProcessorList:
    """The processors of one decoding step, in transformers' order: penalty, any extra, then temperature
    and top-p. warpers=False for model.generate, which adds those two itself from its GenerationConfig."""
    processors = LogitsProcessorList()
    if settings.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyExceptSpecial(settings.repetition_penalty, exempt_ids(tokenizer)))
    processors.extend(extra or [])
    if settings.do_sample and warpers:
        if settings.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
        if settings.top_p < 1.0:
            processors.append(TopPLogitsWarper(settings.top_p, min_tokens_to_keep=1))
    return processors


def build_generation_config(settings: DecodingSettings, tokenizer) -> GenerationConfig:
    """Every setting generate() would otherwise take from the checkpoint's generation_config.json
    or transformers' defaults (top_k=50, for one) is set here, so nothing LIMA did not use slips in.
    The repetition penalty is not among them: it comes as RepetitionPenaltyExceptSpecial (see
    build_logits_processors), so `repetition_penalty` stays 1.0 here."""
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
        repetition_penalty=1.0,
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
    def generate_ids(
        self,
        prompts: Sequence[Sequence[str]],
        settings: DecodingSettings = DecodingSettings(),
        seed: int = 0,
        batch_size: int = 16,
        on_progress: Callable[[int, int], None] | None = None,
        logits_processor=None,
        on_tokens: Callable[[int, int, float, int], None] | None = None,
        tokens_every: float = 1.0,
    ) -> list[list[int]]:
        """The new token ids of each prompt's answer, its stop token included when one ended it.

        Up to batch_size answers are generated at once; as one ends, the next prompt takes its row.
        The same prompts, settings, seed and batch size give the same answers; the caller's torch
        RNG state is left as it was. on_tokens(answers done, prompts, share written of the unfinished ones in
        prompts, tokens generated in all) is called at most every `tokens_every` seconds while they are written,
        so progress moves inside a batch of long answers too.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rows = [chat.prompt_ids(self.tokenizer, list(p)) for p in prompts]
        order = sorted(range(len(rows)), key=lambda i: (len(rows[i]), i))  # similar lengths prefill together
        processors = build_logits_processors(settings, self.tokenizer, logits_processor)
        stops = torch.tensor(stop_ids(self.tokenizer), device=self.device)

        def choose(history, logits, generated):  # (rows, width), (rows, vocab), (rows,)
            if settings.min_new_tokens:  # no stop before min_new_tokens
                too_early = (generated < settings.min_new_tokens)[:, None]  # (rows, 1)
                logits[:, stops] = logits[:, stops].masked_fill(too_early, -float("inf"))
            scores = processors(history, logits)
            if settings.do_sample:
                return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)
            return scores.argmax(dim=-1)

        done = [0]
        written = [0]  # tokens of the finished answers
        last_report = [time.monotonic()]

        def finished(_index, ids):
            done[0] += 1
            written[0] += len(ids)
            if on_progress is not None:
                on_progress(done[0], len(prompts))

        def stepped(new):  # (rows,): tokens so far of each row still generating
            if on_tokens is None or time.monotonic() - last_report[0] < tokens_every:
                return
            last_report[0] = time.monotonic()
            partial = float((new.float() / settings.max_new_tokens).clamp(max=1.0).sum()) if len(new) else 0.0
            on_tokens(done[0], len(prompts), partial, written[0] + int(new.sum()))

        with torch.random.fork_rng(devices=self._rng_devices()):
            torch.manual_seed(seed)
            answers = generate_continuously(
                self.model, [rows[i] for i in order], choose, stop_ids(self.tokenizer), settings.max_new_tokens, batch_size, pad_id(self.tokenizer), finished,
                stepped,
            )
        ids: list[list[int]] = [[] for _ in prompts]
        for position, index in enumerate(order):
            ids[index] = answers[position]
        return ids

    def generate(self, prompts: Sequence[Sequence[str]], settings: DecodingSettings = DecodingSettings(), seed: int = 0, batch_size: int = 16, on_progress=None, logits_processor=None) -> list[str]:
        """One response per prompt (a list of turns ending with the user's), in the given order."""
        return [self._response(ids) for ids in self.generate_ids(prompts, settings, seed, batch_size, on_progress, logits_processor)]

    def stream(
        self,
        turns: Sequence[str],
        settings: DecodingSettings = DecodingSettings(),
        seed: int | None = None,
        timeout: float | None = None,
        info: dict | None = None,
    ) -> Iterator[str]:
        """Text pieces of one response as the tokens are generated (for the playground and the server).

        Generation runs in a thread feeding a TextIteratorStreamer; closing the iterator early
        stops the generation at its next token. `info`, when given, receives the answer's new token ids
        ("new_ids", the stop token included when one ended it) and the prompt's length ("prompt_tokens").
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
                    out = self.model.generate(
                        input_ids=ids,
                        attention_mask=mask,
                        generation_config=build_generation_config(settings, self.tokenizer),
                        logits_processor=build_logits_processors(settings, self.tokenizer, warpers=False),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancelled(cancel)]),
                    )
                if info is not None:
                    info["prompt_tokens"] = int(ids.shape[1])
                    info["new_ids"] = self._trim_padding(out[0, ids.shape[1]:].tolist())
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

    def _trim_padding(self, new_ids: list[int]) -> list[int]:
        """New ids up to and including the first stop token (generate pads nothing after it for one row)."""
        stops = set(stop_ids(self.tokenizer))
        end = next((i + 1 for i, t in enumerate(new_ids) if t in stops), len(new_ids))
        return new_ids[:end]

    def finish_reason(self, new_ids: list[int]) -> str:
        """OpenAI's words: "stop" when a stop token (EOT) ended the answer, "length" when the limit cut it."""
        return "stop" if new_ids and new_ids[-1] in set(stop_ids(self.tokenizer)) else "length"

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
    on_tokens: Callable[[int, int, float, int], None] | None = None,
) -> int:
    """Answer every prompt of a LIMA-format JSONL; write the responses file whole. Returns the count.
    Each row also says why the answer ended (finish_reason "stop": EOT; "length": cut at max_new_tokens) and
    its token counts."""
    prompts = read_prompts(prompts_path)  # bad input fails before the model is loaded
    generator = Generator.from_checkpoint(checkpoint, name=model_name)
    turns = [p.turns for p in prompts]
    answers = generator.generate_ids(turns, settings, seed=seed, batch_size=batch_size, on_progress=on_progress,
                                     on_tokens=on_tokens)
    write_jsonl_atomically(
        out_path,
        (
            {"id": p.id, "prompt": p.turns[-1], "response": generator._response(ids), "model": generator.name,
             "finish_reason": generator.finish_reason(ids), "completion_tokens": len(ids),
             "prompt_tokens": len(chat.prompt_ids(generator.tokenizer, list(p.turns)))}
            for p, ids in zip(prompts, answers)
        ),
    )
    return len(prompts)
