"""rafiee2021 report: Tables 1, 3, 4 and the ablation computed from (synthetic) run records, and the
claims checked both ways."""

import numpy as np
import pytest

from adlib.papers.rafiee2021 import experiments as ex
from adlib.papers.rafiee2021 import report as rr
from adlib.report import save_claims, load_all_claims
from adlib.results import ResultsStore, RunRecord

COMPONENTS = ("L_GR", "L_GD", "L_FE", "L_FL")


def _record(scheme, c, seed, variants, *, contrastive=True, public_shift=0.0):
    """A run whose AUC (%) for each variant is ``variants[v]`` + class + seed offsets."""
    cfg = ex.run_config("cpu", "fmnist", scheme, c, seed, contrastive=contrastive)
    offset = c + 0.1 * seed
    clean = {}
    for reading in ex.REDUCTIONS:
        for v in ex.VARIANTS:
            clean[f"{reading}/{v}"] = (variants[v] + offset - (1 if reading == "mean" else 0)) / 100
    for j, name in enumerate(COMPONENTS):
        clean[f"component/{name}"] = (60 + 5 * j) / 100
    public = {k: v + public_shift / 100 for k, v in clean.items()}
    return RunRecord(config=cfg, metrics={"auroc": {"clean": clean, "public_code": public}}, provenance={})


GOOD = {"LG": 70, "LFE": 75, "LFL": 80, "GF": 88}
BAD = {"LG": 80, "LFE": 75, "LFL": 70, "GF": 55}


def _df(soft=GOOD, hard=GOOD, hard_minus=5.0, classes=(0, 3), ablation=None, public_shift=0.0, seeds=(0, 1, 2)):
    hard_v = {k: v - hard_minus for k, v in hard.items()}
    recs = [_record(s, c, seed, soft if s == "one_vs_all" else hard_v, public_shift=public_shift)
            for s in ex.SCHEMES for c in classes for seed in seeds]
    if ablation is not None:
        recs += [_record("one_vs_all", c, seed, {k: v - ablation + 0.5 * seed for k, v in soft.items()},
                         contrastive=False) for c in classes for seed in seeds]
    return rr.runs_frame(recs)


def test_runs_frame_has_one_row_per_run_pool_and_score():
    df = _df()
    assert len(df) == 2 * 2 * 3 * 2 * (2 * 4 + 4)
    assert set(df.score) >= {"sum/GF", "mean/LG", "component/L_FL"}
    row = df[(df.scheme == "one_vs_all") & (df.cls == 3) & (df.seed == 2) & (df.score == "sum/GF")
             & (df.pool == "clean")]
    assert row.auroc.item() == pytest.approx(88 + 3 + 0.2)
    assert row.class_name.item() == "Dress"


def test_paper_style_is_the_population_std_over_classes_in_fraction_units():
    df = _df(classes=(0, 4))
    # one-vs-all GF class means: 88.1 and 92.1 -> mean 90.1, population std 2.0 -> "± 0.02"
    assert rr.paper_style(df[df.scheme == "one_vs_all"]) == "90.1 ± 0.02"
    assert rr.seed_spread(df[df.scheme == "one_vs_all"]) == "90.1 ± 0.1"


def test_table1_claims_follow_the_numbers():
    claims = rr.table1_claims(_df())
    by = {(c.artefact, c.claim[:40]): c.held for c in claims}
    assert [c.held for c in claims] == [True, True, True, None, True, True]
    claims = rr.table1_claims(_df(soft=BAD, hard_minus=-10, classes=(0, 3, 6), public_shift=2.5))
    held = [c.held for c in claims]
    assert held == [False, True, False, None, False, False], claims
    assert "below 60 on T-shirt/top 55.1" in claims[0].evidence
    assert "(+2.50)" in claims[4].evidence
    assert by  # claims are keyed by artefact and text


def test_table1_and_table3_frames_put_the_papers_numbers_beside_ours():
    df = _df()
    t1 = rr.table1_frame(df)
    assert t1.loc[("fMNIST", "one-vs-all"), "paper AD-CGAN"] == "93.9 ± 0.02"
    assert t1.loc[("fMNIST", "one-vs-all"), "ours AD-CGAN (clean pool)"] == rr.paper_style(df[df.scheme == "one_vs_all"])
    assert t1.loc[("MNIST", "one-vs-all"), "ours AD-CGAN (clean pool)"] == "not run at this scale"
    t3 = rr.table3_frame(df[df.scheme == "all_vs_one"], "all_vs_one")
    assert list(t3.index) == ["0: T-shirt/top", "3: Dress", "Mean (± over classes, fraction units)"]
    assert t3.loc["0: T-shirt/top", "paper AD-CGAN"] == 89.5
    assert t3.loc["0: T-shirt/top", "ours − paper"] == pytest.approx(83.1 - 89.5, abs=0.05)


def test_table4_claims_follow_the_numbers():
    claims = rr.table4_claims(_df())
    assert [c.held for c in claims] == [True, True, True, True]
    claims = rr.table4_claims(_df(soft=BAD, hard={"LG": 70, "LFE": 75, "LFL": 74, "GF": 88}))
    assert [c.held for c in claims] == [False, False, True, False]
    assert "code's means" in claims[0].evidence
    frame = rr.table4_frame(_df())
    assert frame.loc[("one-vs-all", "AD-CGAN_GF"), "paper"] == "93.9 ± 0.02"


@pytest.mark.parametrize("effect, held", [(3.0, True), (0.0, False), (-3.0, False)])
def test_ablation_claim_needs_an_interval_above_zero(effect, held):
    df = _df(ablation=effect)
    on, off = rr.paired_ablation(df)
    assert len(on) == 6
    (claim,) = rr.ablation_claims(df)
    assert claim.held is held
    assert "6 pairs" in claim.evidence
    assert rr.ablation_frame(df).index[-1] == "Mean"


def test_t_interval():
    from adlib.report import t_interval

    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and lo == pytest.approx(2 - 4.302653 / np.sqrt(3), rel=1e-5) and hi > 4
    assert all(np.isnan(v) for v in t_interval([1.0])[1:])


def test_table2_counts_match_the_paper():
    frame = rr.table2_frame()
    assert len(frame) == 3 * 4 * 3 and frame.match.all()
    (claim,) = rr.table2_claims(frame)
    assert claim.held is True
    broken = frame.copy()
    broken.loc[0, "match"] = False
    assert rr.table2_claims(broken)[0].held is False


def test_claims_are_json_storable(tmp_path):
    claims = rr.table1_claims(_df()) + rr.table4_claims(_df()) + rr.ablation_claims(_df(ablation=1.0))
    store = ResultsStore(tmp_path)
    save_claims(store, "rafiee2021", "table1", "cpu", [0, 1, 2], claims, ["table1"])
    (loaded,) = load_all_claims(store, "rafiee2021")
    assert [c["held"] for c in loaded["claims"]] == [c.held for c in claims]


def test_a_run_shared_by_two_artefacts_counts_once():
    recs = [_record("one_vs_all", c, seed, GOOD) for c in (0, 3) for seed in (0, 1, 2)]
    off = [_record("one_vs_all", c, seed, {k: v - 1.0 for k, v in GOOD.items()}, contrastive=False)
           for c in (0, 3) for seed in (0, 1, 2)]
    once, twice = rr.runs_frame(recs + off), rr.runs_frame(recs + recs + off)
    assert len(once) == len(twice)
    assert rr.ablation_claims(once)[0].evidence == rr.ablation_claims(twice)[0].evidence
    assert "6 pairs" in rr.ablation_claims(twice)[0].evidence


def test_one_seed_shows_values_without_a_spread_over_seeds():
    """At cpu scale the pages run one seed (CPU_SEEDS): no "± 0.0" and no "± over seeds" columns, while
    the spreads over classes and over (class, seed) pairs stay."""
    assert rr.CPU_SEEDS == (0,)
    df = _df(classes=(0, 3, 6), ablation=2.0, seeds=rr.CPU_SEEDS)
    soft = df[df.scheme == "one_vs_all"]
    assert rr.seed_spread(soft) == "91.0"
    t1 = rr.table1_frame(df)
    assert "ours ± over seeds" not in t1.columns
    assert t1.loc[("fMNIST", "one-vs-all"), "ours AD-CGAN (clean pool)"] == "91.0 ± 0.02"  # over classes
    t3 = rr.table3_frame(df[df.scheme == "all_vs_one"], "all_vs_one")
    assert t3.loc["3: Dress", "ours AD-CGAN"] == "86.0"
    assert t3.loc["3: Dress", "ours, public-code pool"] == "86.0"
    assert "± over seeds (Σ)" not in " ".join(rr.table4_frame(df).columns)
    pools = rr.pools_frame(df)
    assert pools.loc["one-vs-all", "paired difference (public − clean)"] == "0.00 ± 0.00"  # 3 (class, seed) runs
    abl = rr.ablation_frame(df)
    assert abl.loc["3: Dress", "α = β = 0.3 (AD-CGAN)"] == "91.0"
    assert abl.loc["3: Dress", "paired difference"] == "2.0"
    assert abl.loc["Mean", "paired difference"] == "2.0 ± 0.0"  # over the 3 (class, seed) pairs
    cells = abl.drop(index="Mean").to_numpy().ravel().tolist() + t3.drop(index=t3.index[-1]).to_numpy().ravel().tolist()
    assert not any("±" in str(cell) for cell in cells)
    for claim in rr.table1_claims(df) + rr.table4_claims(df):
        assert "per seed" not in claim.evidence, claim
    (claim,) = rr.ablation_claims(df)
    assert "3 pairs" in claim.evidence and "per seed" not in claim.evidence
    assert "class means with/without 91.0/89.0 (seed 0)" in claim.evidence


def test_ablation_claim_with_a_single_pair_checks_nothing():
    (claim,) = rr.ablation_claims(_df(classes=(1,), ablation=3.0, seeds=(0,)))
    assert claim.held is None
    assert "1 pair: no interval" in claim.evidence and "nan" not in claim.evidence
