"""The front page's per-paper verdict is written from the stored claims, not typed."""

import pytest

from adlib.book import _artefact_title, paper_verdict
from adlib.report import Claim, save_claims
from adlib.results import ResultsStore


def test_verdict_counts_and_lists_the_claims_that_did_not_hold(tmp_path):
    store = ResultsStore(tmp_path)
    save_claims(store, "ahmed2020", "holdout", "cpu", [0, 1, 2], [
        Claim("table3", "rotation raises AP", True, "e"),
        Claim("table3", "ODIN beats MSP", False, "e"),
        Claim("table4", "rotation raises accuracy", None, "e"),
    ], ["table3", "table4"])
    save_claims(store, "ahmed2020", "masking", "cpu", [0], [Claim("sec5_2_masking", "masking keeps AP", True, "e")],
                ["sec5_2_masking"])
    save_claims(store, "ahmed2020", "masking", "smoke", [0], [Claim("sec5_2_masking", "other scale", False, "e")],
                ["sec5_2_masking"])
    text = paper_verdict("ahmed2020", "cpu", store)
    assert "2 of 3 checked claims held" in text
    assert "over 3 tables and figures" in text
    assert "1 cannot be checked at this scale" in text
    assert "Table 3: ODIN beats MSP" in text and "other scale" not in text
    assert "rotation raises AP" not in text  # held claims are counted, not listed


def test_verdict_without_claims_says_so(tmp_path):
    assert "no claim checked" in paper_verdict("ahmed2020", "cpu", ResultsStore(tmp_path))


def test_artefact_titles_for_unnumbered_tables():
    assert _artefact_title({"id": "sec5_2_masking"}) == "§5.2 masking table"
    assert _artefact_title({"id": "appendix_d"}) == "Appendix D"
    assert _artefact_title({"id": "table12"}) == "Table 12"


def test_book_style_is_applied_to_matplotlib():
    import matplotlib

    from adlib.plotting import OKABE_ITO, use_book_style

    matplotlib.rcdefaults()
    assert matplotlib.rcParams["axes.spines.top"]
    use_book_style()
    assert not matplotlib.rcParams["axes.spines.top"]
    assert matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][:3] == list(OKABE_ITO[:3])
    matplotlib.rcdefaults()


def test_cost_frame_sums_the_wall_times_of_the_stored_runs(tmp_path):
    from adlib.results import RunRecord, compute_cost_frame

    store = ResultsStore(tmp_path)
    for seed, seconds, scale in ((0, 60.0, "cpu"), (1, 120.0, "cpu"), (2, 999.0, "smoke")):
        cfg = {"paper": "ahmed2020", "experiment": "holdout", "seed": seed, "threads": 1, "scale": scale}
        store.put(RunRecord(cfg, {"ap": 0.5}, {"wall_time_s": seconds, "torch_threads": 1}))
    frame = compute_cost_frame(store, "cpu", workers=2).set_index("paper")
    assert frame.loc["ahmed2020", "runs"] == 2
    assert frame.loc["ahmed2020", "compute (min, one worker)"] == 3.0
    assert frame.loc["all", "wall on 2 workers (min)"] == 1.5


def test_cost_frame_by_experiment_gives_the_mean_seconds_per_run(tmp_path):
    from adlib.results import RunRecord, compute_cost_frame

    store = ResultsStore(tmp_path)
    for seed, seconds, experiment in ((0, 30.0, "holdout"), (1, 90.0, "holdout"), (2, 12.0, "pixel_baselines")):
        cfg = {"paper": "ahmed2020", "experiment": experiment, "seed": seed, "threads": 1, "scale": "cpu"}
        store.put(RunRecord(cfg, {"ap": 0.5}, {"wall_time_s": seconds, "torch_threads": 1}))
    frame = compute_cost_frame(store, "cpu", workers=2, by="experiment")
    holdout = frame[frame.experiment == "holdout"].iloc[0]
    assert (holdout.runs, holdout["mean s per run"], holdout["compute (min, one worker)"]) == (2, 60.0, 2.0)
    assert frame[frame.paper == "all"].runs.item() == 3
    with pytest.raises(ValueError, match="by must be"):
        compute_cost_frame(store, "cpu", by="seed")


def test_a_forced_whole_build_lists_and_prunes_the_stored_results_it_did_not_recompute(tmp_path, capsys):
    """Runs created before the forced session began (and at its scale) are the ones no page uses any
    more: listed per experiment, deleted with their score files only when asked."""
    from adlib.book import report_stale_results
    from adlib.results import RunRecord, compute_cost_frame

    store = ResultsStore(tmp_path)
    made = {}
    for seed, created, scale in ((0, "2026-01-01T00:00:00Z", "cpu"), (1, "2026-02-02T10:00:00Z", "cpu"),
                                 (2, "2026-01-01T00:00:00Z", "smoke")):
        cfg = {"paper": "singh2021", "experiment": "multi_class_normal", "seed": seed, "threads": 1, "scale": scale}
        made[seed] = store.put(RunRecord(cfg, {"auc": 0.5}, {"wall_time_s": 10.0, "created": created}))
        made[seed].with_suffix(".npz").write_bytes(b"scores")
    since = "2026-02-02T09:00:00Z"  # the forced session began between the two cpu runs
    assert report_stale_results(since, "cpu", prune=False, root=tmp_path) == [made[0]]
    assert "1 stored cpu results were not re-computed" in capsys.readouterr().out
    assert made[0].exists() and compute_cost_frame(store, "cpu").set_index("paper").loc["singh2021", "runs"] == 2
    report_stale_results(since, "cpu", prune=True, root=tmp_path)
    assert "pruned 1 stored cpu results no page uses any more (2 files): singh2021/multi_class_normal (1)" \
        in capsys.readouterr().out
    assert not made[0].exists() and not made[0].with_suffix(".npz").exists()
    assert made[1].exists() and made[1].with_suffix(".npz").exists() and made[2].exists()  # re-computed; other scale
    assert compute_cost_frame(store, "cpu").set_index("paper").loc["singh2021", "runs"] == 1
    assert report_stale_results(since, "cpu", prune=True, root=tmp_path) == []
    assert "every stored cpu result was re-computed" in capsys.readouterr().out


def test_pruning_needs_a_forced_build_of_every_paper():
    import subprocess
    import sys

    for extra in ([], ["--force", "--papers", "ruff2021"]):
        out = subprocess.run([sys.executable, "-m", "adlib.book", "execute", "--prune", *extra],
                             capture_output=True, text=True)
        assert out.returncode == 2 and "--prune needs --force and every paper" in out.stderr
