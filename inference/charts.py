"""The results page's charts: win/tie/loss per pair of runs and rating shares per run, like LIMA's Figure 1."""
from core.charts.stacked import stacked_bars

PAIRWISE_CATEGORIES = [("win", "seg-win", "wins"), ("tie", "seg-tie", "tie"), ("loss", "seg-loss", "loses")]
RATING_CATEGORIES = [("Excellent", "seg-excellent", "Excellent"), ("Pass", "seg-pass", "Pass"),
                     ("Fail", "seg-fail", "Fail")]


def pairwise_chart(pairs):
    rows = [(f"{p['model_name']}", f"vs {p['other_name']}", {k: p[k] for k in ("win", "tie", "loss")})
            for p in pairs if p["win"] is not None]
    return stacked_bars(rows, PAIRWISE_CATEGORIES) if rows else None


def rating_chart(ratings):
    rows = [(r["name"], f"{r['n_items']} responses", r["shares"]) for r in ratings]
    return stacked_bars(rows, RATING_CATEGORIES) if rows else None
