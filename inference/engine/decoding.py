"""LIMA's decoding settings. Kept apart from generate.py so that the web app reads them without torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DecodingSettings:
    # LIMA.md, Decoding: "Nucleus sampling p = 0.9, temperature 0.7, repetition penalty 1.2,
    # at most 2,048 tokens; one response per prompt."
    top_p: float = 0.9
    temperature: float = 0.7
    # Penalises tokens already in the prompt or the response, except EOT and the other special
    # tokens (the prompt always holds them; penalising EOT makes answers run on).
    repetition_penalty: float = 1.2
    max_new_tokens: int = 2048
    min_new_tokens: int = 0  # 0 lets EOT end a response at once (LIMA's natural stopping)
    # False: greedy decoding (same penalty and lengths), for comparisons that need one answer.
    do_sample: bool = True

    def __post_init__(self):
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature <= 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.repetition_penalty <= 0.0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError(f"min_new_tokens must be in [0, max_new_tokens], got {self.min_new_tokens}")

    def as_dict(self) -> dict:
        return asdict(self)
