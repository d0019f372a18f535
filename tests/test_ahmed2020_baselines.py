"""ahmed2020 Appendix D: the pixel GMM and edge-energy detectors, the runs, the report and the
claims, and the paper-scale data check."""

import numpy as np
import pytest
import torch

from adlib.data.manifests import DatasetMissingError
from adlib.metrics import average_precision
from adlib.papers.ahmed2020 import appendix_d as ad
from adlib.papers.ahmed2020 import baselines_report as br
from adlib.papers.ahmed2020.baselines import PixelGMM, as_unit_images, edge_energy, edge_score
from adlib.results import ResultsStore, RunRecord
from adlib.sweep import execute_run, run_sweep

torch.set_num_threads(1)

MEANS, SDS, WEIGHTS = np.array([0.15, 0.5, 0.85]), np.array([0.03, 0.05, 0.04]), np.array([0.2, 0.5, 0.3])


def _mixture_images(n, rng, shape=(8, 8)):
    comp = rng.choice(3, size=(n, *shape), p=WEIGHTS)
    return np.clip(rng.normal(MEANS[comp], SDS[comp]), 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# the detectors


def test_gmm_recovers_a_known_mixture():
    x = _mixture_images(4000, np.random.default_rng(0))
    model = PixelGMM(n_pixels=100_000, seed=0).fit(x)
    g = model.mixtures[0]
    order = np.argsort(g.means_.ravel())
    np.testing.assert_allclose(g.means_.ravel()[order], MEANS, atol=0.01)
    np.testing.assert_allclose(np.sqrt(g.covariances_.ravel()[order]), SDS, atol=0.01)
    np.testing.assert_allclose(g.weights_[order], WEIGHTS, atol=0.02)


def test_gmm_score_is_minus_the_summed_pixel_log_density_and_anomalies_score_higher():
    rng = np.random.default_rng(1)
    model = PixelGMM(n_pixels=50_000, seed=0).fit(_mixture_images(2000, rng))
    normal = _mixture_images(300, rng)
    noise = rng.uniform(size=(300, 8, 8))
    ll = model.log_likelihood(normal)
    np.testing.assert_allclose(ll, model.mixtures[0].score_samples(normal.reshape(-1, 1)).reshape(300, -1).sum(1))
    np.testing.assert_array_equal(model.score(normal), -ll)
    scores = np.r_[model.score(normal), model.score(noise)]
    labels = np.r_[np.zeros(300), np.ones(300)]
    assert average_precision(scores, labels) > 0.99  # noise is the anomaly and scores higher
    assert average_precision(-scores, labels) < 0.6  # the wrong sign would be near chance or worse


def test_channels_get_their_own_mixture():
    rng = np.random.default_rng(2)
    dark = rng.normal(0.2, 0.03, size=(500, 1, 6, 6))
    bright = rng.normal(0.8, 0.03, size=(500, 1, 6, 6))
    model = PixelGMM(n_components=1, n_pixels=None).fit(np.clip(np.concatenate([dark, bright], 1), 0, 1))
    assert [round(float(g.means_[0, 0]), 1) for g in model.mixtures] == [0.2, 0.8]
    ok = np.clip(np.concatenate([dark, bright], 1)[:50], 0, 1)
    swapped = ok[:, ::-1]
    assert (model.score(swapped) > model.score(ok)).all()


def test_the_fit_is_seeded():
    x = _mixture_images(500, np.random.default_rng(3))
    a, b = (PixelGMM(n_pixels=5000, seed=7).fit(x) for _ in range(2))
    c = PixelGMM(n_pixels=5000, seed=8).fit(x)
    np.testing.assert_array_equal(a.score(x[:20]), b.score(x[:20]))
    assert not np.array_equal(a.score(x[:20]), c.score(x[:20]))


def test_uint8_and_float_inputs_agree():
    x = (np.random.default_rng(4).uniform(size=(50, 3, 5, 5)) * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(as_unit_images(x), x / 255.0)
    np.testing.assert_array_equal(as_unit_images(torch.from_numpy(x)), x / 255.0)
    assert as_unit_images(x[:, 0]).shape == (50, 1, 5, 5)
    np.testing.assert_allclose(edge_energy(x), edge_energy(x.astype(np.float32) / 255.0), rtol=1e-6)


def test_edge_energy_of_a_step_edge_and_of_flat_images():
    step = np.zeros((1, 5, 5))
    step[..., 2:] = 1.0  # a vertical edge: G_x = 4 on the two columns beside it, G_y = 0 (replicate borders)
    assert edge_energy(step)[0] == pytest.approx(5 * 2 * 16)
    flat = np.full((4, 3, 8, 8), 0.3)
    np.testing.assert_allclose(edge_energy(flat), 0.0, atol=1e-20)
    textured = np.random.default_rng(5).uniform(size=(4, 3, 8, 8))
    assert (edge_energy(textured) > 1.0).all()
    scores = np.r_[edge_score(textured), edge_score(flat)]
    assert average_precision(scores, np.r_[np.zeros(4), np.ones(4)]) == 1.0  # flat = anomalous, scores higher


def test_ap_of_perfect_inverted_and_random_scores():
    labels = np.r_[np.zeros(9000), np.ones(1000)]
    assert average_precision(labels * 2.0, labels) == 1.0
    assert average_precision(-labels, labels) == pytest.approx(0.1, abs=1e-9)  # all anomalies last: ties, then skew
    random = np.random.default_rng(6).uniform(size=labels.size)
    assert average_precision(random, labels) == pytest.approx(0.1, abs=0.015)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((4, 5, 5), np.int32), TypeError, "uint8"),
    (np.full((4, 5, 5), 1.5), ValueError, r"\[0, 1\]"),
    (np.full((4, 5, 5), np.nan), ValueError, "non-finite"),
    (np.zeros((4, 1, 1, 5, 5)), ValueError, r"\(N, H, W\) or \(N, C, H, W\)"),
    (np.zeros((5, 5)), ValueError, r"\(N, H, W\)"),
    (np.zeros((0, 5, 5)), ValueError, "empty"),
])
def test_bad_inputs_are_clear_errors(bad, error, match):
    with pytest.raises(error, match=match):
        PixelGMM().fit(bad)
    with pytest.raises(error, match=match):
        edge_energy(bad)


def test_misuse_of_the_gmm_is_an_error():
    with pytest.raises(RuntimeError, match="not fitted"):
        PixelGMM().score(np.zeros((2, 4, 4)))
    model = PixelGMM(n_pixels=1000).fit(np.random.default_rng(0).uniform(size=(20, 4, 4)))
    with pytest.raises(ValueError, match="1-channel"):
        model.score(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="n_components"):
        PixelGMM(n_components=0)
    with pytest.raises(ValueError, match="n_pixels"):
        PixelGMM(n_pixels=2)


# ---------------------------------------------------------------------------------------------
# configs and data


def test_configs_per_scale():
    cpu = ad.configs("cpu", [0, 1, 2])
    assert len(cpu) == 3 + 30 and {c["device"] for c in cpu} == {"cpu"}
    shift = cpu[0]
    assert shift["data"]["ood_sets"] == list(ad.CPU_OOD_SETS) and shift["data"]["n_ood"] == 2000
    assert shift["gmm"] == {"n_components": 3, "n_pixels": 500_000, "reg_covar": 1e-6, "max_iter": 200}
    paper = ad.run_config("paper", "dataset_shift", 0)
    assert paper["data"]["in_dataset"] == "cifar10" and paper["data"]["ood_sets"] == list(ad.PAPER_OOD_SETS)
    assert ad.required_datasets(paper) == ["cifar10", "tiny_imagenet_odin", "lsun", "isun"]
    assert len(ad.configs("smoke", [0])) == 3


@pytest.mark.parametrize("args, kw, match", [
    (("cpu", "one_vs_rest", 0), {}, "task"),
    (("cpu", "holdout", 0), {}, "held_out"),
    (("cpu", "holdout", 0), {"held_out": 10}, "0..9"),
    (("cpu", "dataset_shift", 0), {"held_out": 1}, "holdout"),
    (("huge", "dataset_shift", 0), {}, "unknown scale"),
])
def test_bad_configs_are_clear_errors(args, kw, match):
    with pytest.raises(ValueError, match=match):
        ad.run_config(*args, **kw)


def test_the_semantic_split_leaves_the_held_out_class_out_of_the_fit():
    data = ad.build_data(ad.run_config("cpu", "holdout", 0, held_out=3))
    assert len(data.train_x) == 54_000 and 3 not in set(data.train_y.tolist())
    assert set(data.train_y.tolist()) == set(range(10)) - {3}
    assert len(data.test_x) == 10_000 and int((data.test_y == 3).sum()) == 1000 and not data.ood
    smoke = ad.build_data(ad.run_config("smoke", "holdout", 0, held_out=0))
    assert len(smoke.train_x) == 2000 and 0 not in set(smoke.train_y.tolist())


def test_cpu_ood_sets_are_uint8_seeded_and_as_described():
    pool = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    for key in ad.CPU_OOD_SETS:
        a = ad.build_cpu_ood(key, 40, (28, 28), 0, pool)
        assert a.dtype == torch.uint8 and a.shape == (40, 28, 28), key
        assert torch.equal(a, ad.build_cpu_ood(key, 40, (28, 28), 0, pool)), key
    assert not torch.equal(ad.build_cpu_ood("dark_flat", 40, (28, 28), 0, pool),
                           ad.build_cpu_ood("dark_flat", 40, (28, 28), 1, pool))
    flat = ad.build_cpu_ood("dark_flat", 40, (28, 28), 0, pool).float()
    assert flat.max() <= 10 and (flat == 0).float().mean() > 0.4  # dark, near-constant
    assert ad.build_cpu_ood("dim_blur", 40, (28, 28), 0, pool).max() <= round(0.15 * 255)
    assert ad.digits_nearest_crop().shape == (1797, 28, 28)


# ---------------------------------------------------------------------------------------------
# runs end to end, report, claims


def test_a_smoke_run_is_bit_reproducible(tmp_path):
    cfg = ad.run_config("smoke", "dataset_shift", 0)
    first = execute_run(ad.RUNNER, cfg)
    second = execute_run(ad.RUNNER, cfg)
    assert first.metrics == second.metrics
    assert set(first.arrays) == set(second.arrays)
    for key, arr in first.arrays.items():
        np.testing.assert_array_equal(arr, second.arrays[key])
    ap = first.metrics["ap"]
    assert set(ap["gmm"]) == set(ad.CPU_OOD_SETS) and ap["gmm"]["uniform_noise"] > 0.95
    assert ap["edge"]["dark_flat"] > ap["gmm"]["dark_flat"]
    assert first.metrics["skew"]["uniform_noise"] == pytest.approx(200 / 1200)
    other = execute_run(ad.RUNNER, ad.run_config("smoke", "dataset_shift", 1))
    assert other.metrics["ap"] != first.metrics["ap"]


def test_smoke_sweep_report_and_claims(tmp_path):
    store = ResultsStore(tmp_path / "store")
    records = br.run_configs(ad.configs("smoke", [0]), "smoke", store=store, progress=False, workers=1)
    df = br.runs_frame(records)
    assert set(df.task) == {"dataset_shift", "holdout"} and set(df.method) == {"gmm", "edge"}
    ours = br.ours_frame(df)
    assert list(ours.index) == [ad.SHORT_LABELS[s] for s in ad.CPU_OOD_SETS]
    assert not any("paper" in c for c in ours.columns) and "stands in for (analogue only)" in ours.columns
    sem = br.semantic_frame(df)
    assert list(sem.index) == ["0 T-shirt/top", "1 Trouser", "mean over classes"]
    claims = br.claims(df)
    assert len(claims) == 3 and all(c.held is not None for c in claims)
    fig = br.plot_ap(df)
    assert len(fig.axes[0].patches) == 2 * (len(ad.CPU_OOD_SETS) + 1)


def _fake_records(scale, shift_ap, holdout_ap, seeds=(0, 1, 2)):
    """Records with made-up AP fractions: shift_ap {method: {set: ap}}, holdout_ap {class: ap}."""
    out = []
    for seed in seeds:
        cfg = ad.run_config(scale, "dataset_shift", seed)
        sets = cfg["data"]["ood_sets"]
        out.append(RunRecord(cfg, {"ap": {m: {s: shift_ap[m][s] for s in sets} for m in ("gmm", "edge")},
                                   "auroc": {m: {s: 0.5 for s in sets} for m in ("gmm", "edge")},
                                   "skew": {s: 0.5 for s in sets}}, {}))
        for c, value in holdout_ap.items():
            out.append(RunRecord(ad.run_config(scale, "holdout", seed, held_out=c),
                                 {"ap": {"gmm": value, "edge": 0.1}, "auroc": {"gmm": 0.5, "edge": 0.5},
                                  "skew": 0.1}, {}))
    return out


def test_claims_follow_the_numbers():
    good = {"gmm": {"uniform_noise": 1.0, "gaussian_noise": 0.97, "dark_flat": 0.14, "dim_blur": 0.9,
                    "digits_bilinear": 0.6, "digits_nearest_crop": 0.2},
            "edge": {"uniform_noise": 0.1, "gaussian_noise": 0.1, "dark_flat": 1.0, "dim_blur": 1.0,
                     "digits_bilinear": 0.4, "digits_nearest_crop": 0.1}}
    df = br.runs_frame(_fake_records("cpu", good, {c: 0.13 for c in range(10)}))
    assert [c.held for c in br.claims(df)] == [True, True, True]
    bad = {"gmm": good["gmm"] | {"gaussian_noise": 0.9, "dark_flat": 0.35}, "edge": good["edge"] | {"dark_flat": 0.95}}
    df_bad = br.runs_frame(_fake_records("cpu", bad, {c: 0.25 for c in range(10)}))
    assert [c.held for c in br.claims(df_bad)] == [False, False, False]
    edge_fails = {"gmm": good["gmm"], "edge": good["edge"] | {"dark_flat": 0.5}}
    assert br.claims(br.runs_frame(_fake_records("cpu", edge_fails, {0: 0.1})))[1].held is False
    cnn = br.semantic_vs_cnn_claim(df, 30.0, "test")
    assert cnn.held is True and "13.0 vs CNN MSP mean AP 30.0" in cnn.evidence
    assert br.semantic_vs_cnn_claim(df, 10.0).held is False
    assert br.semantic_vs_cnn_claim(df, None).held is None


def test_paper_scale_rows_stand_beside_the_papers_values():
    paper = br.paper_frame()
    assert list(paper.index) == list(ad.PAPER_OOD_SETS.values())
    assert paper.loc["LSUN", "pixel-level 3-component GMM"] == "58.06"
    ap = {"gmm": {"tiny_imagenet_crop": 0.97, "tiny_imagenet_resize": 0.99, "lsun_crop": 0.6, "lsun_resize": 0.99,
                  "isun": 0.99},
          "edge": {"tiny_imagenet_crop": 0.5, "tiny_imagenet_resize": 0.5, "lsun_crop": 0.88, "lsun_resize": 0.5,
                   "isun": 0.5}}
    df = br.runs_frame(_fake_records("paper", ap, {c: 0.12 for c in range(10)}))
    ours = br.ours_frame(df)
    assert ours.loc["LSUN (crop)", "AP GMM, paper"] == "58.06" and ours.loc["LSUN (crop)", "AP edge, paper"] == "87.50"
    assert ours.loc["iSUN", "AP GMM, ours"] == "99.0 ± 0.0" and "stands in for (analogue only)" not in ours.columns
    assert [c.held for c in br.claims(df)] == [True, True, True]
    assert "CIFAR-10" in br.claims(df)[2].evidence


def _paper_ap(method):
    from adlib.paper_values import load_values

    paper = load_values(ad.PAPER, ad.ARTEFACT)
    return paper[paper.method == method].set_index("ood_dataset").value


def test_plot_ap_draws_the_papers_appendix_d_values():
    import matplotlib

    matplotlib.use("agg")
    gmm, edge = _paper_ap("pixel-level 3-component GMM"), _paper_ap("edge-map energy threshold (text)")
    # cpu scale: our analogue sets on the left, the paper's CIFAR-10 values in their own labelled panel
    cpu = {m: {s: 0.5 for s in ad.CPU_OOD_SETS} for m in ("gmm", "edge")}
    fig = br.plot_ap(br.runs_frame(_fake_records("cpu", cpu, {0: 0.1})))
    ours, side = fig.axes
    assert len(ours.patches) == 2 * (len(ad.CPU_OOD_SETS) + 1)
    assert not any("paper" in (line.get_label() or "") for line in ours.lines)  # nothing of the paper on ours
    assert side.get_title().startswith("paper (Appendix D, CIFAR-10)")
    sets = [t.get_text() for t in side.get_xticklabels()]
    assert sets == list(ad.PAPER_OOD_SETS.values())
    heights = np.array([p.get_height() for p in side.patches])
    np.testing.assert_allclose(heights[:5], gmm.reindex(sets).to_numpy())
    np.testing.assert_allclose(heights[5:], edge.reindex(sets).to_numpy())  # NaN except LSUN
    # paper scale: the same sets, so the paper's values are markers on our bars
    ap = {m: {s: 0.5 for s in ad.PAPER_OOD_SETS} for m in ("gmm", "edge")}
    fig = br.plot_ap(br.runs_frame(_fake_records("paper", ap, {0: 0.1})))
    assert len(fig.axes) == 1
    marks = {line.get_label(): line.get_ydata() for line in fig.axes[0].lines if "paper" in line.get_label()}
    assert set(marks) == {"paper GMM (Appendix D, CIFAR-10)", "paper edge (Appendix D, CIFAR-10)"}
    expected = [gmm.get(ad.PAPER_OOD_SETS[s], np.nan) for s in ad.PAPER_OOD_SETS] + [np.nan]
    np.testing.assert_allclose(marks["paper GMM (Appendix D, CIFAR-10)"], expected)
    assert marks["paper edge (Appendix D, CIFAR-10)"][2] == pytest.approx(87.5)


# ---------------------------------------------------------------------------------------------
# paper-scale data


def test_missing_paper_scale_data_names_the_fetch_command(tmp_path, monkeypatch):
    from adlib.data.images import load_isun, load_tiny_imagenet_odin
    from adlib.data.manifests import clear_verification_cache, locate

    monkeypatch.setenv("ADLIB_DATA", str(tmp_path / "no-data"))
    monkeypatch.chdir(tmp_path)
    clear_verification_cache()
    for loader, name in ((load_isun, "isun"), (lambda: load_tiny_imagenet_odin(variant="resize"), "tiny_imagenet_odin")):
        with pytest.raises(DatasetMissingError, match=f"python -m adlib.data fetch {name}"):
            loader()
    cfg = ad.run_config("paper", "dataset_shift", 0)
    try:
        for name in ad.required_datasets(cfg):
            locate(name)
        pytest.skip("every paper-scale dataset is present on this machine")
    except DatasetMissingError:
        pass
    with pytest.raises(DatasetMissingError, match="python -m adlib.data fetch"):
        run_sweep([cfg], ad.RUNNER, store=ResultsStore(tmp_path / "store"), progress=False,
                  check=ad.check_data_present)
    assert not (tmp_path / "store").exists()  # nothing ran
