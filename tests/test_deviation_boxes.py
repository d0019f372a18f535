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
         f"rep_dim {cfg['model']['rep_dim']}")
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
         f"{one['data']['n_public_anomalous']:,} of its 63,000")
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
        k = len(cfg["data"]["in_classes"])
        _has(box, f"{k * 6000:,} training images ({k} classes × 6,000)")
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
         f"{drocc['params']['ascent_steps']} ascent steps", f"first {report.CPU_SEEDS_5_5} seed")
    if scale == "smoke":
        sm = ex.run_config("smoke", "drocc", (0, 1), 0)["data"]
        _has(box, f"{sm['n_train_per_class']} training and {sm['n_test_per_class']} test images per class")
