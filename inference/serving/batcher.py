"""Concurrent requests answered together: one thread takes every waiting request with the same decoding settings
into one continuous-batching call of the engine (inference/engine/batching.py). Many requests in flight (a
generation run through the endpoint, a judge) thus cost about what one batch costs. Streams and batches share the
model under one lock (torch is not meant to run one model from two threads at once)."""
from __future__ import annotations

import queue
import random
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

GATHER_SECONDS = 0.02  # how long the first request of a batch waits for company


@dataclass
class Answer:
    text: str
    new_ids: list[int]
    prompt_tokens: int


@dataclass
class _Asked:
    turns: list[str]
    settings: object
    seed: int | None
    future: Future = field(default_factory=Future)


class Batcher:
    def __init__(self, generator, batch_size: int = 16):
        self.generator = generator
        self.batch_size = max(1, batch_size)
        self.model_lock = threading.Lock()
        self.waiting: queue.Queue[_Asked] = queue.Queue()
        self.held: list[_Asked] = []  # taken from the queue but for another batch (other settings)
        self.thread = threading.Thread(target=self._run, name="serve-batcher", daemon=True)
        self.thread.start()

    def submit(self, turns, settings, seed=None) -> Future:
        asked = _Asked(list(turns), settings, seed)
        self.waiting.put(asked)
        return asked.future

    def _next_batch(self) -> list[_Asked]:
        first = self.held.pop(0) if self.held else self.waiting.get()
        batch, others = [first], []
        for asked in self.held:
            (batch if asked.settings == first.settings and len(batch) < self.batch_size else others).append(asked)
        self.held = others
        try:
            while len(batch) < self.batch_size:
                asked = self.waiting.get(timeout=GATHER_SECONDS)
                (batch if asked.settings == first.settings else self.held).append(asked)
        except queue.Empty:
            pass
        return batch

    def _run(self):
        from training.engine import chat

        while True:
            batch = self._next_batch()
            batch = [asked for asked in batch if asked.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            try:
                with self.model_lock:
                    seed = batch[0].seed if batch[0].seed is not None else random.randrange(2**31)
                    ids = self.generator.generate_ids([a.turns for a in batch], batch[0].settings, seed=seed,
                                                      batch_size=len(batch))
                for asked, new_ids in zip(batch, ids):
                    prompt = len(chat.prompt_ids(self.generator.tokenizer, asked.turns))
                    asked.future.set_result(Answer(self.generator._response(new_ids), new_ids, prompt))
            except BaseException as error:  # every waiting request hears of it; the thread goes on
                for asked in batch:
                    if not asked.future.done():
                        asked.future.set_exception(error)
