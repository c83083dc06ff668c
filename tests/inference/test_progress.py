"""Progress inside a generation: the share written of the answers in flight moves while long answers are written,
not only as each one ends (a run of four long answers used to sit at 0/4 until the end)."""
from inference.engine.decoding import DecodingSettings
from inference.models import GenerationRun
from tests.inference.conftest import PROMPTS


def test_the_engine_reports_tokens_and_the_share_written_while_answers_are_written(generator):
    seen = []
    settings = DecodingSettings(max_new_tokens=16, do_sample=False)
    ids = generator.generate_ids(PROMPTS, settings, batch_size=4, tokens_every=0.0,
                                 on_tokens=lambda done, total, partial, tokens: seen.append((done, total, partial, tokens)))

    assert len(seen) > 3 and all(total == 4 for _, total, _, _ in seen)
    assert all(0.0 <= partial <= 4 - done for done, _, partial, _ in seen)
    tokens = [t for *_, t in seen]
    assert tokens == sorted(tokens) and tokens[-1] <= sum(len(i) for i in ids)
    before_any_ended = [partial for done, _, partial, _ in seen if done == 0]
    assert before_any_ended and max(before_any_ended) > 0  # the bar moved before the first answer ended


def test_a_runs_bar_counts_the_part_written_of_the_unfinished_prompts():
    run = GenerationRun(status="running", done=1, total=4, partial=1.5, completion_tokens=1234)
    assert run.progress == 2.5 / 4 and run.percent == 62
    assert run.progress_text == "1 / 4 prompts · 1,234 tokens"
    assert GenerationRun(status="running", done=3, total=4, partial=9.0).progress == 1.0  # never past the total
