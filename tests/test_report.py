"""adlib.report: the shared pieces of every notebook's claims."""

import numpy as np
import pytest

from adlib.report import is_better, paired_evidence


def test_is_better_follows_the_direction_elementwise():
    assert is_better(1.0, 2.0, "lower") and not is_better(1.0, 2.0, "higher")
    assert is_better(np.array([1.0, 3.0]), np.array([2.0, 2.0]), "higher").tolist() == [False, True]
    with pytest.raises(ValueError, match="lower"):
        is_better(1.0, 2.0, "smaller")


def test_paired_evidence_formats():
    assert paired_evidence("MSP", [10.0, 12.0], "+OE", [5.0, 7.0]) == \
        "MSP 11.0 ± 1.4 → +OE 6.0 ± 1.4; per seed 10.0→5.0, 12.0→7.0"
    assert paired_evidence("A", np.array([0.5]), "B", np.array([0.25]), arrow=False, digits=2) == \
        "A 0.50 ± 0.00 vs B 0.25 ± 0.00; per seed 0.50/0.25"
