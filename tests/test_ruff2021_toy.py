"""ruff2021 Figure 1: the 2-D toy data, network, runner, sweep and claims (spec §8.3 "Fig 1")."""

import numpy as np
import pytest
import torch

from adlib.papers.registry import RUNNERS, notebook_for_artefact
from adlib.papers.ruff2021 import toy
from adlib.results import ResultsStore, RunRecord, config_hash
from adlib.sweep import execute_run


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_data_shapes_settings_and_seeding():
    cfgs = {st: toy.toy_config("cpu", st, "hsc", 3)["data"] for st in toy.SETTINGS}
    nominal, ideal = toy.toy_data(cfgs["ideal"], 3)
    nominal2, skewed = toy.toy_data(cfgs["skewed"], 3)
    for arr in (nominal, ideal, skewed):
        assert arr.shape == (500, 2) and arr.dtype == np.float32
    np.testing.assert_array_equal(nominal, nominal2)  # both settings share the nominal points
    np.testing.assert_array_equal(ideal, toy.toy_data(cfgs["ideal"], 3)[1])  # same seed, same draw
    assert not np.array_equal(nominal, toy.toy_data(cfgs["ideal"], 4)[0])  # another seed, another draw
    r = np.linalg.norm(ideal, axis=1)
    assert r.min() >= 3.0 - 1e-5 and r.max() <= 6.0 + 1e-5
    # uniform in area: half the points lie inside r = sqrt((3² + 6²) / 2)
    assert abs(np.mean(r < np.sqrt(22.5)) - 0.5) < 0.08
    assert np.abs(skewed.mean(0) - [4.0, 0.0]).max() < 0.1 and np.abs(skewed.std(0) - 0.5).max() < 0.05
    assert np.abs(nominal.mean(0)).max() < 0.15 and np.abs(nominal.std(0) - 1.0).max() < 0.1


def test_circle_and_grid_points():
    c = toy.circle_points(7.5, 360)
    assert c.shape == (360, 2)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 7.5, rtol=1e-6)
    g = toy.grid_points(8.0, 5)
    axis = toy.grid_axis(8.0, 5)
    assert g.shape == (25, 2) and axis[0] == -8.0 and axis[-1] == 8.0
    # point i * size + j is (x = axis[j], y = axis[i])
    assert tuple(g[1 * 5 + 3]) == (axis[3], axis[1])


def test_network_output_heads():
    x = torch.randn(7, 2)
    phi = toy.build_model(toy.toy_config("smoke", "ideal", "hsc", 0)["model"])
    assert phi(x).shape == (7, 32) and (phi(x) < 0).any()  # linear output, not a sigmoid
    bce = toy.build_model(toy.toy_config("smoke", "ideal", "bce", 0)["model"])
    assert bce(x).shape == (7,)
    sig = toy.build_model(toy.toy_config("smoke", "ideal", "hsc", 0, output="sigmoid")["model"])
    assert ((sig(x) > 0) & (sig(x) < 1)).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"setting": "far"}, "valid settings"), ({"method": "dsad"}, "valid methods"),
    ({"scale": "huge"}, "valid scales"), ({"output": "tanh"}, "output layer"),
])
def test_bad_choices_are_clear_errors(kwargs, match):
    args = {"scale": "smoke", "setting": "ideal", "method": "hsc", **kwargs}
    output = args.pop("output", "linear")
    with pytest.raises(ValueError, match=match):
        toy.toy_config(args["scale"], args["setting"], args["method"], 0, output=output)


def test_threshold_is_the_95_percent_quantile():
    scores = np.arange(1, 101, dtype=np.float32)
    tau = toy.nominal_threshold(scores)
    assert tau == pytest.approx(95.05)
    assert toy.nominal_fraction(scores, tau) == 0.95
    assert toy.nominal_fraction(np.array([1.0, 2.0, 3.0, 4.0]), 2.0) == 0.5


@pytest.mark.parametrize("method", toy.METHODS)
def test_smoke_run_is_deterministic_and_consistent(method):
    cfg = toy.toy_config("smoke", "skewed", method, 0)
    metrics, arrays = toy.run(cfg)
    metrics2, arrays2 = toy.run(cfg)
    assert metrics == metrics2
    assert set(arrays) == set(arrays2)
    for key in arrays:
        np.testing.assert_array_equal(arrays[key], arrays2[key])
    assert arrays["score_grid"].shape == (121, 121) and arrays["score_grid"].dtype == np.float32
    assert arrays["circle_scores"].shape == (360,)
    np.testing.assert_array_equal(arrays["nominal"], toy.toy_data(cfg["data"], 0)[0])
    # the stored threshold and fractions follow from the stored scores
    tau = metrics["threshold"]
    assert tau == toy.nominal_threshold(arrays["nominal_scores"], 0.95)
    assert metrics["nominal_train_nominal_fraction"] == pytest.approx(0.95)
    assert metrics["circle_nominal_fraction"] == toy.nominal_fraction(arrays["circle_scores"], tau)
    assert metrics["oe_nominal_fraction"] == toy.nominal_fraction(arrays["oe_scores"], tau)
    assert metrics["losses"][-1] < metrics["losses"][0]  # training reduces the loss


def test_grid_runs_every_setting_method_seed_through_the_store(tmp_path):
    store = ResultsStore(tmp_path)
    records = toy.run_toy_grid("smoke", [0], workers=1, progress=False, store=store)
    assert set(records) == {(st, m, 0) for st in toy.SETTINGS for m in toy.METHODS}
    for (setting, method, seed), rec in records.items():
        assert (rec.config["setting"], rec.config["method"], rec.config["seed"]) == (setting, method, seed)
        assert store.is_stored(rec.config) and rec.provenance["git_commit"]
    again = toy.run_toy_grid("smoke", [0], workers=1, progress=False, store=store)  # loaded, not re-run
    assert all(again[k].provenance == records[k].provenance for k in records)
    frame = toy.fractions_table(records)
    assert len(frame) == 4


def test_registered_runner_and_notebook():
    assert RUNNERS[("ruff2021", "toy2d")] == toy.RUNNER
    assert notebook_for_artefact("ruff2021", "figure1").name == "figure1"
    cpu, paper = (toy.toy_config(scale, "ideal", "hsc", 0) for scale in ("cpu", "paper"))
    assert config_hash(cpu) != config_hash(paper)


def _records(circle: dict[tuple[str, str], list[float]]) -> dict:
    out = {}
    for (setting, method), fracs in circle.items():
        for seed, frac in enumerate(fracs):
            out[(setting, method, seed)] = RunRecord(toy.toy_config("cpu", setting, method, seed),
                                                     {"circle_nominal_fraction": frac, "oe_nominal_fraction": 0.0}, {})
    return out


PAPER_LIKE = {("ideal", "hsc"): [0.0, 0.0], ("skewed", "hsc"): [0.0, 0.01], ("ideal", "bce"): [0.0, 0.02],
              ("skewed", "bce"): [0.64, 0.73]}


def test_claims_hold_on_paper_like_records():
    claims = toy.figure1_claims(_records(PAPER_LIKE))
    assert [c.held for c in claims] == [True, True, True]
    assert all(c.artefact == "figure1" for c in claims)
    assert "seed 1 0.73" in claims[1].evidence and "seed 1 0.01" in claims[0].evidence


@pytest.mark.parametrize("change, held", [
    ({("skewed", "hsc"): [0.0, 0.06]}, [False, True, True]),  # one seed of HSC open: (i) fails
    ({("skewed", "bce"): [0.64, 0.29]}, [True, False, True]),  # one seed of BCE nearly closed: (ii) fails
    ({("ideal", "bce"): [0.5, 0.0]}, [True, True, False]),  # BCE open even with ideal OE: (iii) fails
    ({("ideal", "hsc"): [0.0, 0.2]}, [False, True, False]),  # HSC open with ideal OE: (i) and (iii) fail
])
def test_claims_fail_when_the_numbers_say_so(change, held):
    claims = toy.figure1_claims(_records({**PAPER_LIKE, **change}))
    assert [c.held for c in claims] == held


def test_claims_need_every_run_group():
    with pytest.raises(ValueError, match="no runs of BCE skewed"):
        toy.figure1_claims(_records({k: v for k, v in PAPER_LIKE.items() if k != ("skewed", "bce")}))


def test_deviations_state_the_linear_output():
    for scale in ("smoke", "cpu", "paper"):
        assert "sigmoid" in toy.deviations(scale) and "Linear output" in toy.deviations(scale)


@pytest.mark.slow
def test_cpu_scale_skewed_hsc_is_compact_and_bce_is_not(tmp_path):
    """Spec §8.3 "Fig 1", robust: ≤ 0.05 of the r = 7.5 circle nominal for HSC, ≥ 0.3 for BCE
    (one seed; ≈ 10 s per run on one thread)."""
    fractions = {}
    for method in ("hsc", "bce"):
        rec = execute_run(toy.RUNNER, toy.toy_config("cpu", "skewed", method, 0), str(tmp_path))
        fractions[method] = rec.metrics["circle_nominal_fraction"]
    assert fractions["hsc"] <= toy.COMPACT_MAX, fractions
    assert fractions["bce"] >= toy.OPEN_MIN, fractions
