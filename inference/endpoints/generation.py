"""A generation run answered by a model endpoint (a baseline such as GPT-4, or a served checkpoint).

Many requests are in flight at once (the endpoint's concurrency), each retried by the client. Every answer is
stored as it arrives, so a run that fails, is cancelled or loses its worker keeps what it received: started again,
it asks only for the prompts still missing. The run succeeds once every prompt has its answer.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Sum

from core.jobs.context import JobFailed
from inference.endpoints.client import EndpointError, complete_many, turns_to_messages
from inference.models import Generation
from inference.services import prompts_for_run

FAILURES_NAMED = 3


def is_ours(endpoint) -> bool:
    """A checkpoint served by `manage.py serve` (or its job): it takes LIMA's repetition penalty too."""
    return bool(endpoint.checkpoint_id) or endpoint.servers.exists()


def decoding_options(decoding: dict, endpoint, seed=None) -> dict:
    """Decoding settings (DecodingSettings.as_dict()) as chat-completion fields. A served checkpoint of ours also
    gets LIMA's repetition penalty (vLLM and our server take it); an external API only OpenAI's fields."""
    sampling = decoding.get("do_sample", True)
    options = {"max_tokens": int(decoding["max_new_tokens"]),
               "temperature": float(decoding["temperature"]) if sampling else 0.0,
               "top_p": float(decoding["top_p"]) if sampling else None, "seed": seed}
    if is_ours(endpoint):
        options["extra"] = {"repetition_penalty": float(decoding["repetition_penalty"])}
    return options


def request_options(run) -> dict:
    return decoding_options(run.decoding, run.endpoint, run.seed)


def generate_through_endpoint(run, context):
    endpoint = run.endpoint
    if endpoint is None:
        raise JobFailed(f"The model endpoint this run asked ({run.endpoint_model or run.name}) was deleted; "
                        "its answers so far are kept.")
    prompts = prompts_for_run(run)
    position = {p.key: number for number, p in enumerate(prompts, 1)}
    kept = Generation.objects.filter(run=run)
    have = set(kept.values_list("prompt_key", flat=True))
    missing = [p for p in prompts if p.key not in have]
    sums = kept.aggregate(prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"))
    counts = {"prompt_tokens": sums["prompt"] or 0, "completion_tokens": sums["completion"] or 0}
    done = len(prompts) - len(missing)
    context.progress(done, total=len(prompts), phase="asking the endpoint", partial=0.0, **counts)
    by_key = {p.key: p for p in prompts}
    failures: dict[str, str] = {}

    def on_result(key, outcome):
        nonlocal done
        if isinstance(outcome, EndpointError):
            failures[key] = str(outcome)
            return
        prompt = by_key[key]
        try:
            with transaction.atomic():
                Generation.objects.create(
                    run=run, position=position[key], prompt_key=key, prompt=prompt.turns, response=outcome.text,
                    model_name=run.name, dataset_item_id=prompt.dataset_item_id,
                    finish_reason=outcome.finish_reason[:16], prompt_tokens=outcome.prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                )
        except IntegrityError:  # an earlier attempt stored it meanwhile
            return
        done += 1
        counts["prompt_tokens"] += outcome.prompt_tokens or 0
        counts["completion_tokens"] += outcome.completion_tokens or 0
        context.progress(done, **counts)

    complete_many(endpoint, ((p.key, turns_to_messages(p.turns)) for p in missing), on_result=on_result,
                  should_stop=lambda: context.cancelled or context.lost, **request_options(run))
    context.check()
    if failures:
        named = "; ".join(f"{key}: {message}" for key, message in list(failures.items())[:FAILURES_NAMED])
        raise JobFailed(f"{len(failures)} of {len(prompts)} prompts got no answer from {endpoint.name} ({named}). "
                        f"The {done} answers received are kept: start the run again to ask only for the rest.")
    with transaction.atomic():
        context.succeed(done=len(prompts), phase="", **counts)
