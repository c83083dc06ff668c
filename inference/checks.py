"""Judge-free checks of generation runs (inference.analytics.run_checks on their rows): how many answers
stopped at EOT, how many the token limit cut, how long they are (a run's page and a study's); and each run's
response lengths over a study's items (a judge, or a person, may simply prefer the longer answer)."""
from __future__ import annotations

from core.charts.bars import bar_chart
from curation.workspace.figures import Bin, histogram
from curation.workspace.lint import estimate_tokens
from inference import analytics
from inference.models import Generation

LENGTH_EDGES = (0, 16, 32, 64, 128, 256, 512, 1024)  # estimated tokens, like the dashboard's histograms


def run_checks(run) -> dict:
    rows = Generation.objects.filter(run=run).values_list("response", "finish_reason", "completion_tokens")
    return as_dict(analytics.run_checks([(estimate_tokens(text), reason, tokens) for text, reason, tokens in rows]))


def checks_of_runs(runs) -> dict[int, dict]:
    """{run pk: its checks} in one query."""
    by_run: dict[int, list] = {run.pk: [] for run in runs}
    rows = Generation.objects.filter(run__in=list(by_run)).values_list("run_id", "response", "finish_reason",
                                                                       "completion_tokens")
    for run_id, text, reason, tokens in rows:
        by_run[run_id].append((estimate_tokens(text), reason, tokens))
    return {pk: as_dict(analytics.run_checks(found)) for pk, found in by_run.items()}


def as_dict(checks: analytics.RunChecks) -> dict:
    percent = lambda share: None if share is None else round(100 * share, 1)  # noqa: E731
    return {"n": checks.n, "stopped": percent(checks.stopped), "cut": percent(checks.cut),
            "empty": percent(checks.empty), "mean_length": round(checks.mean_length, 1),
            "mean_tokens": None if checks.mean_tokens is None else round(checks.mean_tokens, 1)}


def response_lengths(study, runs) -> list[dict]:
    """Each run's response lengths over the study's items (estimated tokens): histogram, mean and median."""
    length_of: dict[int, dict[int, int]] = {run.pk: {} for run in runs}  # run -> generation -> length
    rows = study.items.values_list("left_id", "left__run_id", "left__response", "right_id", "right__run_id",
                                   "right__response")
    for left, left_run, left_text, right, right_run, right_text in rows:
        length_of[left_run][left] = estimate_tokens(left_text)
        if right is not None:
            length_of[right_run][right] = estimate_tokens(right_text)
    lengths = []
    for run in runs:
        values = sorted(length_of[run.pk].values())
        mean = sum(values) / len(values) if values else 0.0
        median = values[len(values) // 2] if values else 0
        lengths.append({"run": run.pk, "name": run.name, "n": len(values), "mean": round(mean, 1),
                        "median": median, "histogram": [{"low": b.low, "high": b.high, "count": b.count}
                                                        for b in histogram(values, LENGTH_EDGES)]})
    return lengths


def length_charts(results: dict) -> list:
    """(run's lengths, chart) for the results page, the mean marked."""
    return [(row, bar_chart([Bin(**b) for b in row["histogram"]], row["mean"])) for row in results.get("lengths", [])]
