"""A judge run's work (a core.jobs kind on the default queue: the judge is asked over HTTP, no GPU here).

Every call goes through the cache first (JudgeCall by verdicts.cache_key); the rest are asked at once, bounded
by the endpoint's concurrency, each stored as it arrives. A run killed midway keeps what it received: started
again it asks only for the calls still missing. The verdicts are written, with the run's success, from the
calls in one transaction.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction

from core.jobs.context import JobFailed
from core.jobs.kinds import job_kind
from inference.endpoints.client import EndpointError, complete_many
from inference.judging import verdicts
from inference.judging.models import JudgeCall, JudgeRun, JudgeVerdict
from inference.models import StudyItem

FAILURES_NAMED = 3
KEYS_PER_QUERY = 500  # SQLite's bound on query parameters, with room to spare


def questions(run: JudgeRun, item: StudyItem) -> list[tuple[str, str, str]]:
    """(order, cache key, rendered question) of every call an item needs: both orders of a pair, one rating."""
    turns = item.left.prompt
    if run.study.kind == "rating":
        shown = [("one", item.left.response, None)]
    else:
        shown = [("AB", item.left.response, item.right.response), ("BA", item.right.response, item.left.response)]
    return [(order, verdicts.cache_key(run.judge_model, run.template, turns, a, b, order),
             verdicts.render(run.template, turns, a, b)) for order, a, b in shown]


def cached(keys) -> dict[str, JudgeCall]:
    keys, found = list(keys), {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        found.update((c.key, c) for c in JudgeCall.objects.filter(key__in=keys[start:start + KEYS_PER_QUERY]))
    return found


def parse(kind: str, text: str) -> str:
    label = verdicts.parse_rating(text) if kind == "rating" else verdicts.parse_pairwise(text)
    return label or ""


@job_kind(JudgeRun, queue="default", expected_errors=(verdicts.TemplateError,))
def run_judge(run, context):
    endpoint = run.endpoint
    if endpoint is None:
        raise JobFailed(f"The model endpoint of this judge run ({run.judge_name}) was deleted; the answers it "
                        "received are kept in the cache.")
    kind = run.study.kind
    verdicts.check_template(run.template, kind)
    items = list(run.study.items.select_related("left", "right").order_by("position"))
    plan = {item.pk: questions(run, item) for item in items}
    have = cached(key for asked in plan.values() for _, key, _ in asked)
    waiting = {}  # cache key -> items still waiting for it
    for item_pk, asked in plan.items():
        for _, key, _ in asked:
            if key not in have:
                waiting.setdefault(key, set()).add(item_pk)
    remaining = {item_pk: sum(1 for _, key, _ in asked if key not in have) for item_pk, asked in plan.items()}
    done = sum(1 for left in remaining.values() if not left)
    context.progress(done, total=len(items), phase="asking the judge")
    order_of = {key: order for asked in plan.values() for order, key, _ in asked}
    failures: dict[str, str] = {}
    sent, asked_before = 0, run.calls  # progress() writes run.calls as it goes

    def on_result(key, outcome):
        nonlocal done, sent
        sent += 1
        if isinstance(outcome, EndpointError):
            failures[key] = str(outcome)
            return
        try:
            with transaction.atomic():
                have[key] = JudgeCall.objects.create(
                    key=key, judge_model=run.judge_model, order=order_of[key], output=outcome.text,
                    label=parse(kind, outcome.text), finish_reason=outcome.finish_reason[:16],
                    completion_tokens=outcome.completion_tokens,
                )
        except IntegrityError:  # another run asked the same meanwhile: theirs is as good
            have[key] = JudgeCall.objects.get(key=key)
        for item_pk in waiting.pop(key, ()):
            remaining[item_pk] -= 1
            done += remaining[item_pk] == 0
        context.progress(done, calls=asked_before + sent)

    unique = {}
    for asked in plan.values():
        for _, key, question in asked:
            if key not in have:
                unique.setdefault(key, [{"role": "user", "content": question}])
    complete_many(endpoint, unique.items(), on_result=on_result,
                  should_stop=lambda: context.cancelled or context.lost,
                  max_tokens=run.max_tokens, temperature=run.temperature)
    context.check()
    if failures:
        named = "; ".join(list(failures.values())[:FAILURES_NAMED])
        raise JobFailed(f"{len(failures)} of {len(unique)} questions got no answer from {endpoint.name} ({named}). "
                        "The answers received are kept: start the run again to ask only for the rest.")
    context.progress(phase="storing")
    with transaction.atomic():
        counts = store_verdicts(run, items, plan, have)
        context.succeed(done=len(items), phase="", calls=asked_before + sent, **counts)


def store_verdicts(run: JudgeRun, items, plan, calls) -> dict:
    """The run's verdicts from its calls, and its counts (wins/ties/losses from the study's first run's side)."""
    first = run.study.study_runs.order_by("position").values_list("run_id", flat=True).first()
    rows, counts = [], {"items": 0, "wins": 0, "ties": 0, "losses": 0, "flips": 0, "unparseable": 0}
    for item in items:
        asked = [calls[key] for _, key, _ in plan[item.pk]]
        if run.study.kind == "rating":
            label = asked[0].label or None
            combined = verdicts.Combined(label, False, 0 if label else 1)
        else:
            combined = verdicts.combine(asked[0].label or None, asked[1].label or None)
        rows.append(JudgeVerdict(run=run, item=item, forward=asked[0], backward=asked[1] if len(asked) > 1 else None,
                                 label=combined.label or "", flipped=combined.flipped,
                                 unparseable=combined.unparseable))
        counts["unparseable"] += combined.unparseable
        if combined.label is None:
            continue
        counts["items"] += 1
        counts["flips"] += combined.flipped
        if run.study.kind != "rating" and first in (item.left.run_id, item.right.run_id):
            if combined.label == "tie":
                counts["ties"] += 1
            elif (combined.label == "A") == (item.left.run_id == first):
                counts["wins"] += 1
            else:
                counts["losses"] += 1
    JudgeVerdict.objects.filter(run=run).delete()
    JudgeVerdict.objects.bulk_create(rows)
    return counts
