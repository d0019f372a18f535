"""singh2021 on the 20 CIFAR-100 superclasses (Table 3's CIFAR-100 column, Tables 10–12): the
paper-scale configs, the reduced scales left unchanged, the layouts and claims on fabricated runs,
and the missing-data message. No network, no training."""

import numpy as np
import pytest

from adlib.papers.singh2021 import experiments as ex
from adlib.papers.singh2021 import report as sr
from adlib.papers.singh2021.protocol import split_combinations
from adlib.papers.registry import notebook_for_artefact
from adlib.results import ResultsStore, RunRecord, config_hash


def _cifar100(configs):
    return [c for c in configs if c["data"]["dataset"] == "cifar100_coarse"]


def test_paper_scale_book_configs_hold_every_pair_of_superclasses():
    seeds = [0, 1, 2]
    cfgs = sr.book_configs("paper", seeds, device="cuda", threads=1)
    c100 = _cifar100(cfgs)
    assert len(c100) == 190 * 3 * len(seeds)
    assert len({config_hash(c) for c in cfgs}) == len(cfgs)
    for method in sr.CIFAR100_METHODS:
        for seed in seeds:
            mine = [c for c in c100 if c["method"] == method and c["seed"] == seed]
            assert len(mine) == 190
            assert {tuple(c["data"]["normal_classes"]) for c in mine} == set(split_combinations("2/18"))
    assert {c["method"] for c in c100} == {"drocc", "deep_svdd", "deepmad"}  # no (m) variants (§5)
    cfg = next(c for c in c100 if c["method"] == "deepmad")
    assert cfg["data"]["n_classes"] == 20 and cfg["data"]["n_train_per_class"] is None
    assert cfg["data"]["n_test_per_class"] is None
    assert cfg["model"]["in_channels"] == 3 and cfg["model"]["widths"] == [32, 64, 128]
    assert cfg["params"]["delta"] == 8.2 and cfg["train"]["svdd"]["lr"] == 1e-4
    assert cfg["device"] == "cuda"
    assert cfg == ex.run_config("paper", "deepmad", cfg["data"]["normal_classes"], cfg["seed"],
                                dataset="cifar100_coarse", device="cuda", threads=1)
    # CIFAR-10 part unchanged: the five methods on 2/8, 9/1 and 5/5
    assert len(cfgs) - len(c100) == (45 + 10 + 252) * 5 * len(seeds)


@pytest.mark.parametrize("scale", ["smoke", "cpu"])
def test_reduced_scales_have_no_cifar100_runs(scale):
    """The committed cpu results are keyed by config hash: the reduced book must not grow."""
    for seeds in ([0, 1, 2], [0]):
        cfgs = sr.book_configs(scale, seeds)
        assert not _cifar100(cfgs)
        assert {c["data"]["dataset"] for c in cfgs} == {ex.default_dataset(scale)}
    cpu = sr.book_configs("cpu", [0, 1, 2])
    assert len(cpu) == 45 * 5 * 3 + 10 * 5 * sr.CPU_SPLIT_SEEDS["9/1"] + sr.CPU_COMBINATIONS_5_5 * 5 * sr.CPU_SPLIT_SEEDS["5/5"]


def test_tables_10_to_12_are_on_the_combinations_page():
    for artefact in ("table10", "table11", "table12"):
        assert notebook_for_artefact("singh2021", artefact).name == "combinations"
    assert notebook_for_artefact("singh2021", "table3").name == "ranges"


def _records(level, seeds=(0, 1)):
    rng = np.random.default_rng(0)
    out = []
    for combo in split_combinations("2/18"):
        for method in sr.CIFAR100_METHODS:
            for seed in seeds:
                cfg = ex.run_config("paper", method, combo, seed, dataset="cifar100_coarse")
                auroc = level(sr.METHOD_LABELS[method], combo) + 0.01 * rng.random()
                out.append(RunRecord(config=cfg, metrics={"auroc": float(auroc)}, provenance={}))
    return out


def paper_like(method, combo):  # superclass 10 helps, DeepMAD higher and never below 0.5
    return 0.5 + 0.2 * (10 in combo) + (0.1 if method == "DeepMAD" else -0.05 * (combo == (2, 18)))


def contrary(method, combo):  # DeepMAD worst, below 0.5 on some pairs, superclass 10 no help
    return (0.45 if method == "DeepMAD" else 0.6) + 0.1 * (combo[0] == 0) - 0.1 * (10 in combo)


def test_best_worst_and_range_tables_on_fabricated_cifar100_runs():
    df = ex.runs_frame(_records(paper_like))
    assert set(df.split) == {"2/18"} and set(df.dataset) == {"cifar100_coarse"} and sr.has_cifar100(df)
    ours = sr.best_worst_table(df, "2/18")
    assert list(ours.columns) == ["DROCC", "DeepSVDD", "DeepMAD"]
    assert len(ours) == 20 and "10" in ours.loc[("best", 1), "DeepMAD"]
    table = sr.cifar100_best_worst(df)
    assert list(table.columns) == [(f"{m} (Table {t})", s) for m, t in (("DROCC", 10), ("DeepSVDD", 11), ("DeepMAD", 12))
                                   for s in ("paper", "ours")]
    assert table.loc[("best", 1), ("DROCC (Table 10)", "paper")] == "(1, 10) 0.7341"
    assert table.loc[("worst", 1), ("DeepMAD (Table 12)", "paper")] == "(13, 15) 0.5384"
    assert table.loc[("worst", 1), ("DROCC (Table 10)", "ours")].startswith("(2, 18) ")
    assert list(table.index)[:2] == [("best", 1), ("best", 2)] and list(table.index)[10] == ("worst", 1)
    ranges = sr.cifar100_range_table(df)
    row = ranges.loc[("2-in, 18-out", "DeepMAD")]
    assert row["paper (CIFAR-100) mean"] == 0.658 and row["combinations × seeds"] == "190 × 2"
    assert row["paper (CIFAR-100) min ↔ max"] == "0.5384 ↔ 0.8213"


def test_without_cifar100_runs_the_paper_values_alone_and_no_claims():
    from tests.test_singh2021_report import PAPER_LIKE as FMNIST, _frame

    df = _frame(FMNIST)  # a cpu-scale frame: Fashion-MNIST only
    assert not sr.has_cifar100(df)
    table = sr.cifar100_best_worst(df)
    assert {s for _, s in table.columns} == {"paper"} and len(table) == 20
    ranges = sr.cifar100_range_table(df)
    assert set(ranges["ours"]) == {"paper scale only"}
    assert ranges.loc[("2-in, 18-out", "DROCC"), "paper (CIFAR-100) min ↔ max"] == "0.3548 ± 0.0006 ↔ 0.7329 ± 0.0971"
    assert sr.cifar100_claims(df) == [] and sr.cifar100_claims(df, ["table3"]) == []
    assert "paper" in sr.CIFAR100_SCALE_NOTE.format(scale="cpu")
    assert "python -m adlib.data fetch cifar100" in sr.CIFAR100_SCALE_NOTE


def test_cifar100_claims_follow_the_numbers():
    held = sr.cifar100_claims(ex.runs_frame(_records(paper_like)))
    assert [c.artefact for c in held] == ["table3", "table10", "table11", "table12"]
    assert [c.held for c in held] == [True, True, True, True]
    assert "10 of our best 10 contain 10" in held[1].evidence and "(190 pairs)" in held[1].evidence
    against = sr.cifar100_claims(ex.runs_frame(_records(contrary)))
    assert [c.held for c in against] == [False, False, False, False]
    only = sr.cifar100_claims(ex.runs_frame(_records(paper_like)), ["table3"])
    assert [c.artefact for c in only] == ["table3"]


def test_missing_cifar100_names_the_fetch_command(tmp_path, monkeypatch):
    from adlib.data.manifests import DatasetMissingError, clear_verification_cache, locate

    monkeypatch.setenv("ADLIB_DATA", str(tmp_path / "no-data"))
    monkeypatch.chdir(tmp_path)
    clear_verification_cache()
    cfg = ex.run_config("paper", "deepmad", (2, 10), 0, dataset="cifar100_coarse")
    try:
        locate("cifar100")
        pytest.skip("CIFAR-100 is present on this machine")
    except DatasetMissingError:
        pass
    with pytest.raises(DatasetMissingError, match="python -m adlib.data fetch cifar100"):
        ex.check_data_present(cfg["data"])
    with pytest.raises(DatasetMissingError, match="python -m adlib.data fetch cifar100"):
        sr.run_configs([cfg], "paper", workers=1, progress=False, store=ResultsStore(tmp_path / "store"))
    assert not (tmp_path / "store").exists()  # nothing ran
