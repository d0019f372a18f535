"""The reduced-scale deviation boxes state the numbers of the configs the notebooks actually run:
change a config and not its box, and one of these fails."""

from __future__ import annotations

import pytest

from adlib.report import sci

SCALES = ("smoke", "cpu")


def _has(box: str, *parts: str) -> None:
    for p in parts:
        assert p in box, f"{p!r} not in the box:\n{box}"


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("artefact", ["table1", "figure2", "blur", "diversity", "table3", "figure7"])
def test_ruff2021(scale, artefact):
    from adlib.papers.ruff2021 import grids, report

    box = report.deviations(scale, artefact)
    cfg = grids.table1_configs("cpu", [0])[1]  # the box's body describes cpu scale
    tr = cfg["train"]
    _has(box, f"**{cfg['data']['n_nominal']:,}** training images", f"**{tr['epochs']} epochs**",
         "drops at epochs " + " and ".join(map(str, tr["lr_milestones"])), f"Adam {sci(tr['lr'])}",
         f"weight decay {sci(tr['weight_decay'])}", f"{tr['batch_size']} + {tr['oe_batch_size']} batches",
         f"rep_dim {cfg['model']['rep_dim']}", f"memory_format='{cfg['model']['memory_format']}'",
         f"**{len(grids.CPU_SEEDS)} seed", ", ".join(report.FMNIST_CLASSES[c] for c in grids.SWEEP_CLASSES_CPU))
    if scale == "smoke":
        sm = grids.table1_configs("smoke", [0])[1]
        _has(box, f"{sm['data']['n_nominal']:,} training images, {sm['train']['epochs']} epochs, "
                  f"{sm['data']['test_subset']:,} test images")
    if artefact == "blur":
        _has(box, "σ ∈ {" + ", ".join(f"{x:g}" for x in grids.BLUR_SIGMAS_CPU) + "}")


@pytest.mark.parametrize("scale", SCALES)
def test_rafiee2021(scale):
    from adlib.papers.rafiee2021 import experiments as ex, report

    box = report.deviations(scale)
    one, all_ = (next(c for c in ex.table_configs("cpu", [0]) if c["data"]["scheme"] == s) for s in ex.SCHEMES)
    tr = one["train"]
    _has(box, f"**{one['model']['width']:g}× width**", f"latent d = {one['model']['latent_dim']}",
         f"**{one['data']['n_train']:,}** of the 6,000", f"**{all_['data']['n_train']:,}** stratified",
         f"Epochs: {tr['warmup_epochs']} warm-up + {tr['epochs']} GAN", f"batch {tr['batch_size']}",
         f"{one['data']['n_public_anomalous']:,} of its 63,000", f"{all_['data']['n_public_anomalous']:,} of its 7,000",
         f"**{one['data']['n_test_anomalous']:,}** of the other 9,000", one["model"]["memory_format"],
         f"Seeds: **{len(report.CPU_SEEDS)} seed** by default (the spec: 3)", "only where more seeds are passed")
    if len(report.CPU_SEEDS) == 1:
        _has(box, "paired over the 10 classes of that one seed", "≥ 3 seeds × 10 classes")
    assert "3 seeds." not in box
    assert all_["data"]["n_test_normal"] == one["data"]["n_test_anomalous"]
    assert (all_["train"]["warmup_epochs"], all_["train"]["epochs"]) == (tr["warmup_epochs"], tr["epochs"])
    if scale == "smoke":
        sm = ex.table_configs("smoke", [0])[0]
        _has(box, f"{sm['data']['n_train']:,} training images, {sm['train']['warmup_epochs']} + "
                  f"{sm['train']['epochs']} epochs, {sm['data']['n_test_normal']:,} + "
                  f"{sm['data']['n_test_anomalous']:,} test images")


def _hendrycks_sizes(box, scale, module):
    cfg = module.run_config("smoke", module.METHODS[-1], 0)
    phases = [cfg[p]["epochs"] for p in ("pretrain", "finetune", "scratch") if p in cfg]
    _has(box, f"{cfg['data']['train_subset']:,} training images", f"{cfg['data']['test_subset']:,} test images")
    if phases:
        assert len(set(phases)) == 1
        _has(box, f"{phases[0]} epoch per phase")


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("architecture", ["default", "allconvnet"])
def test_hendrycks2019_vision(scale, architecture):
    from adlib.papers.hendrycks2019 import experiments as ex, report

    box = report.deviations(scale, architecture=architecture)
    cfg = ex.run_config("cpu", "oe_tune", 0, architecture=architecture)
    pre, fine = cfg["pretrain"], cfg["finetune"]
    _has(box, f"{pre['epochs']} baseline epochs", f"{fine['epochs']} OE fine-tuning epochs",
         f"lr {fine['lr']:g}, batch {fine['batch_size']} + {fine['oe_batch_size']} OE", f"λ = {fine['oe_weight']:g}",
         f"the {cfg['data']['n_draws']} OOD re-draws")
    if architecture == "default":
        _has(box, f"OE from scratch {ex.run_config('cpu', 'oe_scratch', 0)['scratch']['epochs']} epochs")
    if scale == "cpu":
        k, n = len(cfg["data"]["in_classes"]), cfg["data"]["train_subset"]
        _has(box, f"{n:,} training images (a fixed random subset of the {k} classes × 6,000 = {k * 6000:,})")
        if architecture == "allconvnet":
            _has(box, f"baseline epochs at lr {pre['lr']:g}")
    else:
        _hendrycks_sizes(box, scale, ex)


@pytest.mark.parametrize("scale", SCALES)
def test_hendrycks2019_calibration(scale):
    from adlib.papers.hendrycks2019 import calibration as cal

    box = cal.deviations(scale)
    cfg, cpu = cal.run_config(scale, "oe", 0), cal.run_config("cpu", "oe", 0)
    n = cfg["data"]["train_subset"] or len(cfg["data"]["in_classes"]) * 6000
    held = cal.holdout_size(n, cfg["data"]["holdout"])
    _has(box, f"{n - held:,} training images and {held:,} held out", f"({cpu['model']['num_classes']} classes)",
         f"{cpu['pretrain']['epochs']} baseline epochs + {cpu['finetune']['epochs']} OE fine-tuning epochs")
    if scale == "smoke":
        _has(box, f"{cfg['data']['test_subset']:,} test images, {cfg['pretrain']['epochs']} epoch per phase")


@pytest.mark.parametrize("scale", SCALES)
def test_hendrycks2019_confidence_branch(scale):
    from adlib.papers.hendrycks2019 import confidence_branch as cb

    box = cb.deviations(scale)
    cpu = cb.run_config("cpu", "branch_oe", 0)
    pre, fine = cpu["pretrain"], cpu["finetune"]
    _has(box, f"MNIST recipe ({pre['epochs']} epochs", f"lr {pre['lr']:g} cosine, batch {pre['batch_size']}",
         f"OE fine-tuning: {fine['epochs']} epochs, lr {fine['lr']:g}, batch {fine['batch_size']} in-distribution + "
         f"{fine['oe_batch_size']} OE", f"{cpu['data']['n_draws']} OOD re-draws")
    if scale == "smoke":
        _hendrycks_sizes(box, scale, cb)


@pytest.mark.parametrize("scale", SCALES)
def test_hendrycks2019_gan_outliers(scale):
    from adlib.papers.hendrycks2019 import gan_outliers as go

    box = go.deviations(scale)
    cfg = go.run_config(scale, "gan_oe", 0)
    j, fine = cfg["joint"], cfg["finetune"]
    _has(box, f"batch {j['batch_size']}", f"classifier Adam lr {sci(j['lr'])}" if scale == "smoke" else
         f"classifier's Adam lr is {sci(j['lr'])}", f"OE fine-tuning: {fine['epochs']} epoch(s)",
         f"batch {fine['batch_size']} in-distribution + {fine['oe_batch_size']} OE")
    if scale == "cpu":
        _has(box, f"{j['epochs']} epochs of {j['epoch_subset']:,} images",
             "after epoch " + ", ".join(map(str, j["lr_decay_epochs"])))
    else:
        _has(box, f"{j['epochs']} epoch, ")
        _hendrycks_sizes(box, scale, go)


@pytest.mark.parametrize("scale", SCALES)
def test_singh2021(scale):
    from adlib.papers.singh2021 import experiments as ex, report

    box = report.deviations(scale)
    svdd = ex.run_config("cpu", "deep_svdd", (0, 1), 0)
    drocc = ex.run_config("cpu", "drocc", (0, 1), 0)
    _has(box, f"**{svdd['data']['n_train_per_class']} training and {svdd['data']['n_test_per_class']} test images",
         f"autoencoder {svdd['train']['ae']['epochs']}, Deep SVDD / DeepMAD {svdd['train']['svdd']['epochs']}, "
         f"DROCC {drocc['train']['drocc']['epochs']}", f"learning rate {sci(svdd['train']['svdd']['lr'])}",
         f"{drocc['params']['ascent_steps']} ascent steps", f"**{len(report.CPU_SEEDS)} seed** by default", f"9/1 runs on the first {report.CPU_SPLIT_SEEDS['9/1']} seed",
         f"5/5 on the first {report.CPU_SPLIT_SEEDS['5/5']}",
         f"of the 252 of 5/5 a fixed random **{report.CPU_COMBINATIONS_5_5}**")
    if scale == "smoke":
        sm = ex.run_config("smoke", "drocc", (0, 1), 0)["data"]
        _has(box, f"{sm['n_train_per_class']} training and {sm['n_test_per_class']} test images per class")


@pytest.mark.parametrize("scale", (*SCALES, "paper"))
def test_hendrycks2019_pixelcnn(scale):
    from adlib.papers.hendrycks2019 import pixelcnn as px

    box = px.deviations(scale)
    cfg = px.run_config(scale, "bpp_oe", 0)
    pre, fine, d, n_pix = cfg["pretrain"], cfg["finetune"], cfg["data"], cfg["num_pixels"]
    if scale == "paper":
        _has(box, f"OE fine-tuning for {fine['epochs']} epochs", f"λ = {fine['oe_weight']:g}",
             f"num_pixels = {n_pix:,} sub-pixels", f"The learning rate ({sci(fine['lr'])})")
        return
    m = cfg["model"]
    _has(box, f"{m['n_res']} masked-B 3×3 residual layers, {m['channels']} channels",
         f"Adam, lr {sci(pre['lr'])}, batch {pre['batch_size']}", f"OE fine-tuning: {fine['epochs']} epoch",
         f"Sandal and Bag ({d['oe_subset']:,} images)", f"max{{0, {n_pix} + nll_bits",
         f"λ = {fine['oe_weight']:g} and lr {sci(fine['lr'])}", f"num_pixels = {n_pix} (one channel)",
         f"A {d['test_subset']:,}-image subset", f"each OOD draw has {d['test_subset'] // d['ood_ratio']:,} images",
         f"the 1:{d['ood_ratio']} OOD ratio and {d['n_draws']}")
    if scale == "smoke":
        _has(box, f"{d['train_subset']:,} training images, {pre['epochs']} epoch, a {d['test_subset']:,}-image "
                  f"test subset, {d['n_draws']} OOD draws")
    else:
        _has(box, f"a {d['train_subset']:,}-image training subset (of {len(d['in_classes']) * 6000:,}), "
                  f"{pre['epochs']} epochs")
        paper = px.run_config("paper", "bpp_oe", 0)["data"]  # "Unchanged: the 1:5 OOD ratio and 10 re-draws"
        assert (paper["ood_ratio"], paper["n_draws"]) == (d["ood_ratio"], d["n_draws"])


def _text_net(model):
    from adlib.papers.hendrycks2019 import text_report

    return text_report._model_kwargs(model)


@pytest.mark.parametrize("scale", SCALES)
def test_hendrycks2019_text_classifier(scale):
    from adlib.papers.hendrycks2019 import text, text_report

    box = text_report.deviations(scale, "classifier")
    cfg, cpu = (text.classifier_config(s, "oe_tune", 0) for s in (scale, "cpu"))
    d, c, pre, fine = cfg["data"], cpu["data"], cpu["pretrain"], cpu["finetune"]
    net = _text_net(cpu["model"])
    _has(box, f"{d['n_train']:,} training, {d['n_test']:,} test and {d['n_oe']:,} OE sequences",
         f"synthetic {c['n_classes']}-class", f"over {c['vocab_size']} tokens (Dirichlet({c['concentration']:g})",
         f"sequences of {c['length'][0]}–{c['length'][1]} tokens", f"sequences of {c['oe_chains']} other",
         f"{c['ood_chains']} unseen chains", f"(Dirichlet({c['low_entropy_concentration']:g}) rows)",
         f"(embedding {net['embed_dim']} → {net['num_layers']}-layer GRU {net['hidden']} → linear)",
         f"Adam at lr {pre['lr']:g}", f"batch {fine['batch_size']} + {fine['oe_batch_size']} OE",
         f"λ = {fine['oe_weight']:.1f}, {fine['epochs']} OE epochs (the paper's number",
         f"the 1:{c['ood_ratio']} OOD ratio and {c['n_draws']} OOD re-draws")
    if scale == "smoke":
        _has(box, f"{cfg['pretrain']['epochs']} epoch per phase")
        assert cfg["pretrain"]["epochs"] == cfg["finetune"]["epochs"]
    else:
        _has(box, f"{pre['epochs']} baseline epochs, {fine['epochs']} OE epochs")
    # the "Unchanged" line: the cpu run keeps the paper's network and OE recipe
    paper = text.classifier_config("paper", "oe_tune", 0)
    assert _text_net(paper["model"])["hidden"] == net["hidden"]
    for key in ("lr", "batch_size", "oe_batch_size", "oe_weight", "epochs"):
        assert paper["finetune"][key] == fine[key], key
    assert paper["pretrain"]["lr"] == pre["lr"]
    assert (paper["data"]["ood_ratio"], paper["data"]["n_draws"]) == (c["ood_ratio"], c["n_draws"])


@pytest.mark.parametrize("scale", SCALES)
def test_hendrycks2019_text_lm(scale):
    from adlib.papers.hendrycks2019 import text, text_report

    box = text_report.deviations(scale, "lm")
    cfg, cpu = (text.lm_config(s, "oe_tune", 0) for s in (scale, "cpu"))
    d, c, pre, fine = cfg["data"], cpu["data"], cpu["pretrain"], cpu["finetune"]
    net = _text_net(cpu["model"])
    shift = round(100 * c["shift_weight"])
    lo, hi = c["oe_concentration_range"]
    _has(box, f"{d['n_train']:,} training, {d['n_test']:,} test and {d['n_oe']:,} OE sequences",
         f"over {c['vocab_size']} tokens (Dirichlet({c['concentration']:g}) rows)",
         f"fixed sequences of {c['seq_len']} tokens", f"sequences of {c['oe_chains']} other chains",
         f"concentrations from {lo:g} to {hi:g}", f"{100 - shift} % the in-distribution rows and {shift} % new",
         f"The {shift} % shift was chosen",  # the pilot's story is typed: a new shift needs a new story
         f"a {net['num_layers']}-layer GRU language model (embedding {net['embed_dim']}, hidden {net['hidden']})",
         f"Adam (lr {pre['lr']:g}, clip {pre['clip']:g})", f"with weight {fine['oe_weight']:g}",
         f"the 1:{c['ood_ratio']} OOD ratio and {c['n_draws']} OOD re-draws")
    if scale == "smoke":
        _has(box, f"{cfg['pretrain']['epochs']} epoch per phase")
    else:
        _has(box, f"{pre['epochs']} baseline epochs, {fine['epochs']} OE epochs")
    paper = text.lm_config("paper", "oe_tune", 0, in_dataset="ptb_word")
    assert paper["data"]["seq_len"] == c["seq_len"]  # "the paper's word-level length"
    assert paper["finetune"]["oe_weight"] == fine["oe_weight"]
    assert (paper["data"]["ood_ratio"], paper["data"]["n_draws"]) == (c["ood_ratio"], c["n_draws"])


@pytest.mark.parametrize("scale", (*SCALES, "paper"))
def test_ahmed2020_baselines(scale):
    from adlib.papers.ahmed2020 import appendix_d, baselines_report

    box = baselines_report.deviations(scale)
    gmm = appendix_d.run_config(scale, "dataset_shift", 0)["gmm"]
    _has(box, f"one 1-D {gmm['n_components']}-component", f"fitted on {gmm['n_pixels']:,} of the channel's",
         f"variance floor {sci(gmm['reg_covar'])}")
    if scale == "paper":
        return
    cpu = appendix_d.run_config("cpu", "dataset_shift", 0)["data"]
    smoke = appendix_d.run_config("smoke", "dataset_shift", 0)["data"]
    assert cpu["n_test"] is None  # the full 10,000-image Fashion-MNIST test split
    _has(box, f"Each has {cpu['n_ood']:,} images", f"(digits: {min(cpu['n_ood'], 1797):,}) against 10,000",
         f"a skew of ≈ {100 * cpu['n_ood'] / (cpu['n_ood'] + 10_000):.1f} %",
         f"(smoke: {smoke['n_ood']:,}\n  against {smoke['n_test']:,})")


@pytest.mark.parametrize("scale", (*SCALES, "paper"))
def test_ruff2021_toy(scale):
    from adlib.papers.ruff2021 import toy

    box = toy.deviations(scale)
    ideal, skewed = (toy.toy_config("cpu", st, "hsc", 0) for st in toy.SETTINGS)
    d, tr, ev = ideal["data"], ideal["train"], ideal["eval"]
    ann, gau = d["oe"], skewed["data"]["oe"]
    assert (skewed["data"]["n_nominal"], skewed["data"]["n_oe"]) == (d["n_nominal"], d["n_oe"])
    assert d["nominal"] == {"mean": [0.0, 0.0], "std": 1.0} and tr["weight_decay"] == 0
    _has(box, f"{d['n_nominal']} nominal points ~ N(0, I₂)",
         f"*ideal* OE = {d['n_oe']} points uniform on the annulus {ann['r_min']:g} ≤ r ≤ {ann['r_max']:g}",
         f"*skewed* OE = {d['n_oe']} points ~ N(({gau['mean'][0]:g}, {gau['mean'][1]:g}), {gau['std']:g}² I)",
         f"{toy.STEPS['cpu']:,} steps of full-batch Adam (lr {sci(tr['lr'])}, no weight decay)",
         f"Linear({ideal['model']['rep_dim']}→1)", f"the {ev['quantile']:.0%} quantile",
         f"on {ev['circle_points']} points of the circle r = {ev['circle_radius']:g}",
         f"({toy.STEPS[scale]} " if scale != "smoke" else f"{toy.STEPS['smoke']} training steps")
    assert toy.toy_config(scale, "ideal", "hsc", 0)["train"]["steps"] == toy.STEPS[scale]


@pytest.mark.parametrize("scale", SCALES)
def test_ahmed2020_holdout_box(scale):
    from adlib.models import create_model
    from adlib.papers.ahmed2020 import experiments as ex
    from adlib.papers.ahmed2020 import report as ar

    box = ar.deviations(scale)
    coarse, small = ar.benchmarks_at(scale)["cifar10"], ar.benchmarks_at(scale)["stl10"]
    c = ex.run_config(scale, coarse, 0, "rotation", 0)
    s = ex.run_config(scale, small, 0, "rotation", 0)
    params = sum(p.numel() for p in create_model("small_convnet", num_classes=len(ex.benchmark(coarse).members) - 1,
                                                  width=c["model"]["width"]).parameters())
    _has(box, f"w = {c['model']['width']}, {params:,} parameters",
         f"{c['train']['epochs']} epoch", f"{s['train']['epochs']} epoch",
         f"at epochs {'/'.join(map(str, c['train']['lr_milestones']))} of {c['train']['epochs']}",
         f"divided by {1 / c['train']['lr_gamma']:g}", f"λ is the paper's ({c['train']['aux_weight']:.1f} and "
         f"{s['train']['aux_weight']:.1f})")
    if c["data"]["train_per_class"] and c["data"]["test_per_class"]:
        _has(box, f"{c['data']['train_per_class']} training and {c['data']['test_per_class']} test images per class")
    elif c["data"]["train_per_class"]:
        _has(box, f"{c['data']['train_per_class']} training images per class")
    if scale == "cpu":
        _has(box, f"**{len(ar.CPU_SEEDS)} seed", f"weights stored `{c['model']['memory_format']}`")


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("module, args", [("report", ()), ("calibration", ()), ("confidence_branch", ()),
                                          ("gan_outliers", ()), ("pixelcnn", ()), ("text_report", ("classifier",)),
                                          ("text_report", ("lm",))])
def test_hendrycks2019_boxes_state_the_cpu_seeds(scale, module, args):
    import importlib

    from adlib.papers.hendrycks2019 import report

    box = importlib.import_module(f"adlib.papers.hendrycks2019.{module}").deviations(scale, *args)
    _has(box, f"- Seeds: **{len(report.CPU_SEEDS)} seed", "(the spec: 3)", "only where more seeds are passed")
    assert "mean over independently trained seeds" not in box.replace("then a mean over independently", "")
