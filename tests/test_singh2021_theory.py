"""singh2021 §3 / App. A–B: Dempster–Shafer combination and the Lemma 3.1 simulation."""

import itertools

import numpy as np
import pytest

from adlib.papers.singh2021.theory import dempster_shafer_anomaly, dempster_shafer_closed_form, simulate_algorithm1


def _brute_force(p: np.ndarray) -> np.ndarray:
    """Eqs. (1) and (3) by enumerating u_i ∈ {{i}, ¬{i}} over U = {1..m, Λ}."""
    m = p.shape[0]
    universe = set(range(m)) | {"L"}
    out = []
    for col in p.T:
        conflict, anomaly = 0.0, 0.0
        for choice in itertools.product((0, 1), repeat=m):  # 1 = {i}, 0 = ¬{i}
            sets = [{i} if c else universe - {i} for i, c in enumerate(choice)]
            inter = set.intersection(*sets)
            mass = np.prod([col[i] if c else 1 - col[i] for i, c in enumerate(choice)])
            if not inter:
                conflict += mass
            elif inter == {"L"}:
                anomaly += mass
        out.append(anomaly / (1 - conflict))
    return np.array(out)


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_dempster_shafer_equations_agree(m):
    p = np.random.default_rng(m).uniform(0.01, 0.99, size=(m, 20))
    eq24 = dempster_shafer_anomaly(p)
    assert np.allclose(eq24, _brute_force(p))
    assert np.allclose(eq24, dempster_shafer_closed_form(p))
    if m == 1:
        assert np.allclose(eq24, 1 - p[0])


def test_corollary_algorithm1_auc_falls_with_m():
    """Corollary 3.1.1 in the simulation: the OR-rule AUC decreases strictly as m grows, and the
    proof's fixed-threshold TPR₁ and FPR₁ both rise towards 1."""
    sim = simulate_algorithm1(ms=(1, 2, 3, 5, 9), n=5000, seed=0)
    auc = sim["or_rule"].to_numpy()
    assert np.all(np.diff(auc) < 0) and auc[0] > 0.85 and auc[-1] < auc[0] - 0.08
    assert np.all(np.diff(sim["fpr1"].to_numpy()) > 0) and np.all(np.diff(sim["tpr1"].to_numpy()) > 0)
    # m = 1: every rule is the single detector
    first = sim.iloc[0]
    assert first["or_rule"] == pytest.approx(first["dempster_shafer"]) == pytest.approx(first["mean_model"])
