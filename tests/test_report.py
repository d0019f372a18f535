"""adlib.report: the shared pieces of every notebook's claims."""

import numpy as np
import pytest

from adlib.report import fmt_over_seeds, fmt_spread, is_better, paired_evidence


def test_is_better_follows_the_direction_elementwise():
    assert is_better(1.0, 2.0, "lower") and not is_better(1.0, 2.0, "higher")
    assert is_better(np.array([1.0, 3.0]), np.array([2.0, 2.0]), "higher").tolist() == [False, True]
    with pytest.raises(ValueError, match="lower"):
        is_better(1.0, 2.0, "smaller")


def test_paired_evidence_formats():
    assert paired_evidence("MSP", [10.0, 12.0], "+OE", [5.0, 7.0]) == \
        "MSP 11.0 ± 1.4 → +OE 6.0 ± 1.4; per seed 10.0→5.0, 12.0→7.0"
    assert paired_evidence("A", np.array([0.5, 0.7]), "B", np.array([0.25, 0.25]), arrow=False, digits=2) == \
        "A 0.60 ± 0.14 vs B 0.25 ± 0.00; per seed 0.50/0.25, 0.70/0.25"
    # one seed: no spread is shown, since there is none to show
    assert paired_evidence("A", [0.5], "B", [0.25], digits=2) == "A 0.50 → B 0.25; per seed 0.50→0.25"


def test_a_spread_over_seeds_is_shown_only_for_more_than_one_seed():
    assert fmt_over_seeds([90.0]) == "90.0" and fmt_over_seeds([1.0, 2.0, 3.0], digits=2) == "2.00 ± 1.00"
    assert fmt_spread(90.0, 0.0, 1) == "90.0" and fmt_spread(90.0, 0.5, 3) == "90.0 ± 0.5"
