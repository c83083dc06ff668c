"""A proposal's quality: each signal put on [0, 1] the way its method reads, combined; quotas scaled exactly."""
import math

import numpy as np

from curation.proposals.quality import NEUTRAL, combine, normalised, scaled_quotas


def test_each_signal_is_read_the_way_its_method_means_it():
    assert list(normalised("length_percentile", [0, 50, 100])) == [0.0, 0.5, 1.0]
    assert list(normalised("style_warnings", [0, 1, 3])) == [1.0, 0.5, 0.25]
    # IFD: below 1, harder is better; 1 or more, the prompt does not help at all
    assert list(normalised("ifd", [0.2, 0.9, 1.4, 0.5])) == [0.0, 1.0, 0.0, 0.5]
    assert list(normalised("judge_rating", [5, 2.5])) == [1.0, 0.5]


def test_missing_signals_are_left_out_of_the_mean_and_none_gives_the_neutral_score():
    quality = combine({"length_percentile": [100, None, None], "style_warnings": [0, 1, None]})

    assert list(quality[:2]) == [1.0, 0.5] and quality[2] == NEUTRAL
    weighted = combine({"length_percentile": [100], "style_warnings": [1]}, weights={"length_percentile": 3})
    assert math.isclose(float(weighted[0]), (3 * 1.0 + 0.5) / 4)


def test_quotas_follow_the_composition_and_add_up_to_the_size():
    lima = {"se_stem": 200, "se_other": 200, "wikihow": 200, "writingprompts": 150, "ni": 50, "hand_written": 200}

    assert scaled_quotas(lima, 1000) == lima
    small = scaled_quotas(lima, 100)
    assert sum(small.values()) == 100 and small["ni"] == 5 and small["writingprompts"] == 15
    odd = scaled_quotas({"a": 1, "b": 1, "c": 1}, 10)
    assert sum(odd.values()) == 10 and sorted(odd.values()) == [3, 3, 4]
    assert scaled_quotas({"a": 0}, 10) == {"a": 0}
    assert np.isfinite(list(scaled_quotas(lima, 7).values())).all()
