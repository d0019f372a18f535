"""singh2021 (Generalized Anomaly Detection, DeepMAD): the multi-class-normal experiments of
Tables 2–17 and §5.1, defined once for the three scales.

One run = one (dataset, normal-class combination, method, seed). Methods (singh2021 §3.1, §4):

* ``deep_svdd`` / ``drocc``: Algorithm 2, one detector trained on the union of the normal
  classes (the paper's "DeepSVDD", "DROCC");
* ``deep_svdd_m`` / ``drocc_m``: Algorithm 1, one detector per normal class, combined by
  "normal if any says normal" (:func:`adlib.detectors.any_normal_score`; the paper's
  "DeepSVDD(m)", "DROCC(m)");
* ``deepmad``: Algorithm 3, one autoencoder-pretrained encoder per normal class, fine-tuned with
  the other normal classes pushed beyond δ; d(x) = min_i ‖E_i(x) − c_i‖₂.

**Shared work.** Everything that depends on one class only is a *unit* trained once per (class,
seed) and reused by every combination: the per-class autoencoder (Deep SVDD(m)'s pre-training and
DeepMAD's A_i), the per-class Deep SVDD and the per-class DROCC of Algorithm 1. A unit is keyed
by the hash of its own config (:func:`unit_config`) and cached as its final training checkpoint
under ``checkpoint_dir("singh2021")``: a second run that needs it loads it instead of training
(:func:`adlib.train.train_classifier` resumes a finished checkpoint with zero epochs). At the
reduced scales only these shared units are checkpointed (:func:`_keeps_checkpoint`). The
per-class training subsets are drawn per class, independently of the combination, so that the
units really are shared. Run the sweep's 2/8 split first (or any order: a unit two workers
race for is computed twice, bit-identically, and written atomically).

Scales: ``smoke`` (scikit-learn digits at 28×28, seconds), ``cpu`` (Fashion-MNIST, reduced:
tiny bias-free encoder, 100 training images per class, 100 test images per class, few epochs;
a reduced analog, labelled as such) and ``paper`` (CIFAR-10, Fashion-MNIST, CIFAR-100
superclasses with the paper's encoder and Tables 18–20; RECYCLE is obtained by hand: see
:data:`RECYCLE_NOTE`).

Cost of the ``cpu`` sweep (measured 2026-11-29, one torch thread, CPU seconds per combination and
seed for all five methods, per-class units already trained): 2/8 ≈ 3.9 s, 5/5 ≈ 12 s (DeepMAD ≈
5.4 s of it: m encoders each trained on all m classes), 9/1 ≈ 26.5 s; the per-class units ≈ 1.5 s
per (class, seed). All 307 combinations × 3 seeds (:func:`sweep_configs`) ≈ 10,400 CPU-s ≈ 2.9
CPU-hours, ≈ 1.5 h on two idle cores (≈ 2 h measured under load).

Readings where the paper is silent (each a config parameter; spec §2.5, §2.6, §8.8):

* centres c_i: the mean of the pretrained encoder's outputs on the class's training images,
  coordinates closer to 0 than 0.1 pushed to ±0.1 (Deep SVDD's rule; :func:`initial_center`);
* DeepMAD δ: the paper's 8.2 (Table 20, middle row) at ``paper`` scale; at reduced scale the
  encoder's feature scale differs, so δ = ``delta_factor`` × the median initial distance of the
  other normal classes' training images to c_i (a training-data rule, never test AUC);
* DeepMAD's two sums both divided by N (``weighting="total"``, as printed);
* DROCC: inputs standardised with one mean/std per dataset; radius r = 8 (Table 18); γ = 1 (the
  authors' CIFAR script, which singh2021 ran: the annulus r ≤ ‖x̃ − x‖ ≤ γr is then the sphere of
  radius r; ``gamma=2`` gives a true annulus); 50 ascent steps projected every 10 at ``paper``
  scale, a few projected at the end at reduced scales; the 40 %/80 % learning-rate steps of the
  authors' code;
* Algorithm 1 combines raw scores with one threshold (``combine="min"``); ``"min_standardised"``
  (each detector's scores standardised by their mean/std on its own training class) and, for
  DROCC(m), ``"dempster_shafer"`` (Eqs. (2)/(4) on p_i = σ(f_i): score −logsumexp_i f_i) are options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from adlib.papers.ruff2021.experiments import initial_center  # Deep SVDD's centre rule (mean code, ±0.1)
from adlib.results import config_hash
from adlib.scales import check_scale

PAPER = "singh2021"
EXPERIMENT = "multi_class_normal"
RUNNER = "adlib.papers.singh2021.experiments:run"

METHODS: tuple[str, ...] = ("drocc", "drocc_m", "deep_svdd", "deep_svdd_m", "deepmad")
ALGORITHM1: tuple[str, ...] = ("drocc_m", "deep_svdd_m")
METHOD_LABELS = {"drocc": "DROCC", "drocc_m": "DROCC(m)", "deep_svdd": "DeepSVDD", "deep_svdd_m": "DeepSVDD(m)",
                 "deepmad": "DeepMAD"}
COMBINE_RULES: tuple[str, ...] = ("min", "min_standardised", "dempster_shafer")

N_CLASSES = {"digits_28": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100_coarse": 20, "recycle": 5}
SCALE_DATASETS = {"smoke": ("digits_28",), "cpu": ("fashion_mnist",),
                  "paper": ("cifar10", "fashion_mnist", "cifar100_coarse", "recycle")}
INPUT_STATS = {  # one mean/std per dataset, for DROCC's standardised inputs
    "digits_28": ((0.3053,), (0.3247,)),  # measured on the 1,797 upsampled digits
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),  # DROCC's CIFAR code
    "cifar100_coarse": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "recycle": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
SUBSET_SEED = 20211
"""Seeds the per-class training / test subsets (and the digits train/test split), so every
combination, method and run seed sees the same images of a class."""

RECYCLE_NOTE = (
    "RECYCLE (singh2021 §5: 5 recycle classes, 2,200 images each at 32×32×3, plus 300 'trash' test "
    "images) has no manifest: it is obtained by hand from the authors' page "
    "(https://web.cecs.pdx.edu/~singh/rcyc-web/index.html, spec §5) and is not loaded by adlib yet.")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return method


def default_dataset(scale: str) -> str:
    return SCALE_DATASETS[check_scale(scale)][0]


def _image_shape(dataset: str) -> tuple[int, int]:
    """(channels, side) of a dataset's images."""
    return (1, 28) if dataset in ("digits_28", "fashion_mnist") else (3, 32)


def _model(scale: str, dataset: str) -> dict[str, Any]:
    """The encoder every method shares (bias-free, as Deep SVDD needs), DROCC's head on top.

    ``paper``: App. C's three conv modules 32/64/128 (5×5), then one dense layer to rep_dim 128;
    DROCC's head 128 → 64 → 1 (its "64-d last layer", §5.1). Reduced scales: two conv modules 8/4
    then 196 → 128 (Deep SVDD's MNIST LeNet widths; spec §8.4)."""
    channels, side = _image_shape(dataset)
    widths = [32, 64, 128] if scale == "paper" else [8, 4]
    model: dict[str, Any] = {"in_channels": channels, "image_size": side, "widths": widths, "hidden": None,
                             "rep_dim": 128, "bias": False, "drocc_head_hidden": 64}
    if scale == "cpu":
        model["memory_format"] = "channels_last"  # NHWC weights: ~1.2× faster runs on CPU (benchmarks/train_throughput.py)
    return model


def _train_specs(scale: str) -> dict[str, dict[str, Any]]:
    """TrainSpec dicts of the phases: ``ae`` (autoencoder pre-training), ``svdd`` (Deep SVDD and
    DeepMAD's encoders: Adam, lr 1e-4, weight decay 1e-6; Tables 19–20) and ``drocc`` (Adam,
    lr 1e-3, ×0.1 at 40 % and 80 % of the epochs; Table 18). The paper gives no epochs or
    batch sizes: ``paper`` uses spec §6's defaults; reduced scales use few epochs and lr 1e-3
    for the SVDD phase (lr 1e-4 barely moves a tiny encoder in ~20 steps). Constant learning
    rate (``lr_milestones=()``) except DROCC; float32 everywhere, also on CUDA (``amp=False``:
    distances to a centre and DROCC's input gradients are precision-sensitive)."""
    from adlib.train import TrainSpec

    if scale == "paper":
        ae_epochs, epochs, drocc_epochs, batch, drocc_batch, lr = 100, 100, 40, 128, 256, 1e-4
    elif scale == "cpu":
        ae_epochs, epochs, drocc_epochs, batch, drocc_batch, lr = 6, 12, 6, 32, 32, 1e-3
    else:
        ae_epochs, epochs, drocc_epochs, batch, drocc_batch, lr = 2, 3, 2, 32, 32, 1e-3
    m1, m2 = max(1, round(0.4 * drocc_epochs)), max(1, round(0.8 * drocc_epochs))
    return {
        "ae": TrainSpec(epochs=ae_epochs, batch_size=batch, lr=1e-3, optimizer="adam", weight_decay=1e-6,
                        lr_milestones=(), amp=False).to_dict(),
        "svdd": TrainSpec(epochs=epochs, batch_size=batch, lr=lr, optimizer="adam", weight_decay=1e-6,
                          lr_milestones=(), amp=False).to_dict(),
        "drocc": TrainSpec(epochs=drocc_epochs, batch_size=drocc_batch, lr=1e-3, optimizer="adam", weight_decay=0.0,
                           lr_milestones=(m1, m2), amp=False).to_dict(),
    }


def run_config(scale: str, method: str, normal_classes: Sequence[int], seed: int, *, dataset: str | None = None,
               combine: str = "min", delta: float | None = None, delta_factor: float = 0.75, eta: float = 1.0,
               weighting: str = "total", radius: float = 8.0, gamma: float = 1.0, mu: float = 1.0,
               save_features: bool = False, rep_dim: int | None = None, device: str = "cpu",
               threads: int = 1) -> dict[str, Any]:
    """The full JSON-able config of one run. ``combine`` applies to the Algorithm 1 methods,
    ``delta``/``delta_factor``/``eta``/``weighting`` to DeepMAD (``delta=None``: the
    ``delta_factor`` × median-negative-distance rule; default 8.2 at ``paper`` scale),
    ``radius``/``gamma``/``mu`` to DROCC; parameters that do not apply are left out, so equal
    runs hash equally. ``save_features``: also return the §5.1 arrays (features of 100 test
    images per class). ``rep_dim``: the feature dimension (default 128; Figure 8 / Table 20 rows 4–5
    use 64 and 32; our reading of the paper's "extra dense layer" is the encoder's last dense layer
    mapping straight to ``rep_dim``)."""
    check_scale(scale)
    check_method(method)
    dataset = dataset or default_dataset(scale)
    if dataset not in SCALE_DATASETS[scale]:
        raise ValueError(f"dataset {dataset!r} is not available at scale {scale!r}; valid: "
                         f"{', '.join(SCALE_DATASETS[scale])}")
    n_classes = N_CLASSES[dataset]
    normal = sorted(int(c) for c in normal_classes)
    if len(set(normal)) != len(normal) or not normal or not all(0 <= c < n_classes for c in normal) \
            or len(normal) >= n_classes:
        raise ValueError(f"normal_classes must be 1..{n_classes - 1} distinct classes of 0..{n_classes - 1}; "
                         f"got {list(normal_classes)!r}")
    if combine not in COMBINE_RULES:
        raise ValueError(f"unknown combine rule {combine!r}; valid: {', '.join(COMBINE_RULES)}")
    if combine == "dempster_shafer" and method == "deep_svdd_m":
        raise ValueError("combine='dempster_shafer' needs per-detector probabilities: DROCC(m) only")
    n_train, n_test = {"smoke": (40, 30), "cpu": (100, 100), "paper": (None, None)}[scale]
    data = {"dataset": dataset, "n_classes": n_classes, "normal_classes": normal,
            "n_train_per_class": n_train, "n_test_per_class": n_test}
    specs = _train_specs(scale)
    params: dict[str, Any] = {}
    train: dict[str, Any] = {}
    if method in ("deep_svdd", "deep_svdd_m"):
        train = {"ae": specs["ae"], "svdd": specs["svdd"]}
    elif method == "deepmad":
        train = {"ae": specs["ae"], "svdd": specs["svdd"]}
        if delta is None and scale == "paper":
            delta = 8.2
        params = {"delta": None if delta is None else float(delta), "eta": float(eta), "weighting": weighting}
        if delta is None:
            params["delta_factor"] = float(delta_factor)
    else:
        train = {"drocc": specs["drocc"]}
        steps = 50 if scale == "paper" else 3 if scale == "smoke" else 5
        params = {"radius": float(radius), "gamma": float(gamma), "mu": float(mu), "ascent_steps": steps,
                  "ascent_step_size": 0.001, "project_every": 10 if scale == "paper" else None,
                  "input_stats": [list(v) for v in INPUT_STATS[dataset]]}
    if method in ALGORITHM1:
        params["combine"] = combine
    model = _model(scale, dataset)
    if rep_dim is not None:
        if isinstance(rep_dim, bool) or int(rep_dim) < 1:
            raise ValueError(f"rep_dim must be a positive feature dimension; got {rep_dim!r}")
        model["rep_dim"] = int(rep_dim)
    return {"paper": PAPER, "experiment": EXPERIMENT, "scale": scale, "method": method, "seed": int(seed),
            "device": device, "threads": int(threads), "data": data, "model": model,
            "params": params, "train": train, "save_features": bool(save_features)}


def split_configs(scale: str, split: str, seeds: Sequence[int], methods: Sequence[str] = METHODS,
                  **kwargs: Any) -> list[dict[str, Any]]:
    """Every run of one split (``"2/8"``, ``"5/5"``, ``"9/1"``; ``"2/18"`` for CIFAR-100): all
    combinations × methods × seeds."""
    from adlib.papers.singh2021.protocol import split_combinations

    return [run_config(scale, method, combo, seed, **kwargs)
            for combo in split_combinations(split) for method in methods for seed in seeds]


SWEEP_ORDER: tuple[str, ...] = ("2/8", "9/1", "5/5")
"""The order a sweep runs the splits in: 2/8 first trains every per-class unit (each class is in
nine pairs), so the 9/1 and 5/5 runs only load them."""


def sweep_configs(scale: str, seeds: Sequence[int], splits: Sequence[str] = SWEEP_ORDER,
                  methods: Sequence[str] = METHODS, **kwargs: Any) -> list[dict[str, Any]]:
    """Every run of ``splits`` (in that order), e.g. the whole reduced fMNIST sweep of Tables 2-3
    and Figures 3-4: ``sweep_configs("cpu", [0, 1, 2])`` (921 combination × seed pairs, 5 methods)."""
    return [cfg for split in splits for cfg in split_configs(scale, split, seeds, methods, **kwargs)]


def runs_frame(records) -> "pd.DataFrame":  # noqa: F821
    """One row per stored run (:class:`adlib.results.RunRecord`), the input of
    :func:`adlib.papers.singh2021.protocol.per_combination`: ``split`` ("2/8", …), ``method``
    (the paper's label, e.g. "DROCC(m)"), ``classes`` ("(0, 8)"), ``seed``, ``auroc``."""
    import pandas as pd

    from adlib.papers.singh2021.protocol import combination_label

    rows = []
    for rec in records:
        cfg = rec.config
        normal = cfg["data"]["normal_classes"]
        rows.append({"dataset": cfg["data"]["dataset"], "split": f"{len(normal)}/{cfg['data']['n_classes'] - len(normal)}",
                     "method": METHOD_LABELS[cfg["method"]], "classes": combination_label(normal),
                     "seed": cfg["seed"], "auroc": rec.metrics["auroc"], "scale": cfg["scale"]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class MultiClassData:
    """uint8 training images per normal class, and the test images with their original labels."""

    train: dict[int, torch.Tensor]
    test_x: torch.Tensor
    test_y: torch.Tensor


def required_datasets(data: dict[str, Any]) -> list[str]:
    """Manifest names a data config reads."""
    return {"digits_28": ["digits_sklearn"], "fashion_mnist": ["fashion_mnist"], "cifar10": ["cifar10"],
            "cifar100_coarse": ["cifar100"], "recycle": []}[data["dataset"]]


def check_data_present(data: dict[str, Any]) -> None:
    """Raise DatasetMissingError (naming the fetch command) for a missing dataset."""
    from adlib.data.manifests import locate

    if data["dataset"] == "recycle":
        raise NotImplementedError(RECYCLE_NOTE)
    for name in required_datasets(data):
        if name != "digits_sklearn":
            locate(name)


def _subset(idx: np.ndarray, k: int | None, rng: np.random.Generator) -> np.ndarray:
    return idx if k is None or k >= len(idx) else np.sort(rng.permutation(idx)[:k])


def _load_splits(dataset: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from adlib.data.images import load_images

    if dataset == "digits_28":  # no official split: a seeded 50/50 split per class
        x, y = load_images("digits_28", "all")
        is_train = np.zeros(len(y), dtype=bool)
        for c in range(10):
            idx = np.flatnonzero(y.numpy() == c)
            is_train[np.random.default_rng([SUBSET_SEED, c, 9]).permutation(idx)[: len(idx) // 2]] = True
        mask = torch.from_numpy(is_train)
        return x[mask], y[mask], x[~mask], y[~mask]
    name, kw = ("cifar100", {"coarse": True}) if dataset == "cifar100_coarse" else (dataset, {})
    tr_x, tr_y = load_images(name, "train", **kw)
    te_x, te_y = load_images(name, "test", **kw)
    return tr_x, tr_y, te_x, te_y


def build_data(data: dict[str, Any], classes: Sequence[int] | None = None) -> MultiClassData:
    """The training images of ``classes`` (default: the normal classes) and the test set (every
    class; ``n_test_per_class`` of each). Subsets are drawn per class with :data:`SUBSET_SEED`."""
    check_data_present(data)
    tr_x, tr_y, te_x, te_y = _load_splits(data["dataset"])
    train = {}
    for c in classes if classes is not None else data["normal_classes"]:
        idx = _subset(np.flatnonzero(tr_y.numpy() == c), data["n_train_per_class"],
                      np.random.default_rng([SUBSET_SEED, int(c)]))
        train[int(c)] = tr_x[torch.from_numpy(idx)]
    keep = np.concatenate([_subset(np.flatnonzero(te_y.numpy() == c), data["n_test_per_class"],
                                   np.random.default_rng([SUBSET_SEED, c, 1])) for c in range(data["n_classes"])])
    keep = torch.from_numpy(np.sort(keep))
    return MultiClassData(train, te_x[keep], te_y[keep])


def _pipeline(cfg: dict[str, Any], standardise: bool = False):
    """[0, 1] inputs (Deep SAD's code) for Deep SVDD/DeepMAD; DROCC standardises (its code)."""
    from adlib.train import ImagePipeline

    if standardise:
        mean, std = cfg["params"]["input_stats"]
        return ImagePipeline(mean=tuple(mean), std=tuple(std))
    return ImagePipeline()


# ---------------------------------------------------------------------------------------------
# units: trained once per (kind, classes, seed) and cached as their final checkpoint


def unit_config(cfg: dict[str, Any], kind: str, classes: Sequence[int], own: int | None = None) -> dict[str, Any]:
    """The config of one unit: ``ae`` (autoencoder on ``classes``), ``deep_svdd`` (pre-trained,
    then Deep SVDD on ``classes``), ``drocc`` (DROCC on ``classes``) or ``deepmad`` (encoder
    ``own`` fine-tuned on ``classes``, all the combination's normal classes). It holds exactly
    what changes the unit's weights, so runs that need the same unit share its hash."""
    data = {k: cfg["data"][k] for k in ("dataset", "n_train_per_class")}
    unit: dict[str, Any] = {"paper": PAPER, "unit": kind, "classes": sorted(int(c) for c in classes),
                            "seed": cfg["seed"], "device": cfg["device"], "threads": cfg["threads"], "data": data,
                            "model": cfg["model"]}
    if kind == "ae":
        unit["train"] = {"ae": cfg["train"]["ae"]}
    elif kind == "deep_svdd":
        unit["train"] = {"ae": cfg["train"]["ae"], "svdd": cfg["train"]["svdd"]}
    elif kind == "drocc":
        unit["train"] = {"drocc": cfg["train"]["drocc"]}
        unit["params"] = {k: v for k, v in cfg["params"].items() if k != "combine"}
    elif kind == "deepmad":
        unit["train"] = {"ae": cfg["train"]["ae"], "svdd": cfg["train"]["svdd"]}
        unit["params"] = dict(cfg["params"])
        unit["own"] = int(own)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown unit kind {kind!r}")
    return unit


def _keeps_checkpoint(cfg: dict[str, Any], unit: dict[str, Any]) -> bool:
    """Whether a unit is checkpointed: always at ``paper`` scale (long runs resume), and at the
    reduced scales only the shared per-class units (``ae``, ``deep_svdd``, ``drocc`` on one class).
    A reduced-scale unit of one combination trains in seconds and is never reused, and the full
    ``cpu`` sweep would otherwise leave ~6,000 checkpoints (~2.5 GB)."""
    return cfg["scale"] == "paper" or (unit["unit"] != "deepmad" and len(unit["classes"]) == 1)


def _fit(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, unit: dict[str, Any], phase: str,
         objective, pipeline, device: torch.device, keep: bool = True) -> list[float]:
    """Train one unit's ``phase``, or load it if its finished checkpoint exists (``keep=False``:
    train without checkpoints)."""
    from adlib.train import TrainSpec, checkpoint_dir, progress_enabled, train_classifier

    key = config_hash({**unit, "phase": phase})
    path = checkpoint_dir(PAPER) / f"{unit['unit']}-{phase}-{key}.pt" if keep else None
    history = train_classifier(
        model, images, labels, TrainSpec(**unit["train"][phase]), seed=unit["seed"], pipeline=pipeline,
        device=device, checkpoint_path=path, checkpoint_key=key,
        progress=progress_enabled(), desc=f"{unit['unit']} {phase} {unit['classes']} seed {unit['seed']}",
        objective=objective)
    return history.losses


def _encoder_args(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg["model"].items() if k != "drocc_head_hidden"}


def pretrained_encoder(cfg: dict[str, Any], classes: Sequence[int], train: dict[int, torch.Tensor],
                       device: torch.device) -> torch.nn.Module:
    """The encoder of an autoencoder trained (MSE) on ``classes`` (the ``ae`` unit)."""
    from adlib.models import create_model
    from adlib.train import ReconstructionObjective, seed_everything

    unit = unit_config(cfg, "ae", classes)
    seed_everything(cfg["seed"], cfg["threads"])
    ae = create_model("lenet_autoencoder", **_encoder_args(cfg))
    x = torch.cat([train[c] for c in unit["classes"]])
    _fit(ae, x, torch.zeros(len(x), dtype=torch.long), unit, "ae", ReconstructionObjective(), _pipeline(cfg), device,
         _keeps_checkpoint(cfg, unit))
    encoder = create_model("lenet", **_encoder_args(cfg)).to(device)
    encoder.load_state_dict(ae.encoder.state_dict())
    return encoder.eval()


def deep_svdd_unit(cfg: dict[str, Any], classes: Sequence[int], train: dict[int, torch.Tensor],
                   device: torch.device) -> tuple[torch.nn.Module, torch.Tensor]:
    """(encoder φ, centre c) of Deep SVDD on the union of ``classes``: AE pre-training, c = the
    mean pretrained code (±0.1 rule), then (1/n) Σ ‖φ(x) − c‖² (:func:`adlib.losses.deep_svdd_loss`)."""
    from adlib.losses import deep_svdd_loss
    from adlib.train import NominalVsOutlierObjective

    encoder = pretrained_encoder(cfg, classes, train, device)
    unit = unit_config(cfg, "deep_svdd", classes)
    x = torch.cat([train[c] for c in unit["classes"]])
    pipe = _pipeline(cfg)
    center = initial_center(encoder, x, pipe)
    objective = NominalVsOutlierObjective(lambda z, out: deep_svdd_loss(z, center))
    _fit(encoder, x, torch.zeros(len(x), dtype=torch.long), unit, "svdd", objective, pipe, device,
         _keeps_checkpoint(cfg, unit))
    return encoder.eval(), center


def drocc_unit(cfg: dict[str, Any], classes: Sequence[int], train: dict[int, torch.Tensor],
               device: torch.device) -> torch.nn.Module:
    """DROCC trained on the union of ``classes`` (:class:`adlib.train.DROCCObjective`)."""
    from adlib.models import create_model
    from adlib.train import DROCCObjective, seed_everything

    unit = unit_config(cfg, "drocc", classes)
    p = cfg["params"]
    seed_everything(cfg["seed"], cfg["threads"])
    model = create_model("lenet", **_encoder_args(cfg), logit_head=True, head_hidden=cfg["model"]["drocc_head_hidden"])
    x = torch.cat([train[c] for c in unit["classes"]])
    objective = DROCCObjective(p["radius"], p["gamma"], p["mu"], p["ascent_steps"], p["ascent_step_size"],
                               p["project_every"])
    _fit(model, x, torch.ones(len(x), dtype=torch.long), unit, "drocc", objective, _pipeline(cfg, True), device,
         _keeps_checkpoint(cfg, unit))
    return model.eval()


def deepmad_delta(encoder: torch.nn.Module, center: torch.Tensor, others: torch.Tensor, pipeline,
                  factor: float) -> float:
    """The reduced-scale δ rule: ``factor`` × the median of ‖E_i(x) − c_i‖₂ over the other normal
    classes' training images x, under the pretrained encoder (before fine-tuning)."""
    from adlib.detectors import get_detector

    d = get_detector("center_distance", center=center, squared=False).score(encoder, others, prepare=pipeline)
    return float(factor * d.median())


def deepmad_unit(cfg: dict[str, Any], own: int, train: dict[int, torch.Tensor],
                 device: torch.device) -> tuple[torch.nn.Module, torch.Tensor, float]:
    """(E_i, c_i, δ) of DeepMAD's encoder for normal class ``own`` (Algorithm 3): the pretrained
    encoder of A_i (shared with Deep SVDD(m)'s pre-training), c_i from it, then
    :func:`adlib.losses.deepmad_loss` on all the normal classes (label 1 = class ``own``)."""
    from adlib.train import DeepMADObjective

    normal = cfg["data"]["normal_classes"]
    encoder = pretrained_encoder(cfg, [own], train, device)
    pipe = _pipeline(cfg)
    center = initial_center(encoder, train[own], pipe)
    p = cfg["params"]
    others = torch.cat([train[c] for c in normal if c != own])
    delta = p["delta"] if p["delta"] is not None else deepmad_delta(encoder, center, others, pipe, p["delta_factor"])
    unit = unit_config(cfg, "deepmad", normal, own)
    x = torch.cat([train[c] for c in normal])
    labels = torch.cat([torch.full((len(train[c]),), int(c == own), dtype=torch.long) for c in normal])
    _fit(encoder, x, labels, unit, "svdd", DeepMADObjective(center, delta, p["eta"], p["weighting"]), pipe, device,
         _keeps_checkpoint(cfg, unit))
    return encoder.eval(), center, delta


# ---------------------------------------------------------------------------------------------
# the runner


def _combine(per_detector: torch.Tensor, rule: str, train_stats: list[tuple[float, float]] | None = None,
             logits: torch.Tensor | None = None) -> torch.Tensor:
    """Algorithm 1's combined score from per-detector scores ``(m, N)`` (see the module docstring)."""
    from adlib.detectors import any_normal_score

    if rule == "min":
        return any_normal_score(per_detector)
    if rule == "min_standardised":
        mean = torch.tensor([s[0] for s in train_stats or []]).view(-1, 1)
        std = torch.tensor([max(s[1], 1e-12) for s in train_stats or []]).view(-1, 1)
        return any_normal_score((per_detector - mean) / std)
    if rule == "dempster_shafer":  # P(Λ|x) = 1 / (1 + Σ_i exp(f_i)), decreasing in logsumexp_i f_i
        return -torch.logsumexp(logits, dim=0)  # type: ignore[arg-type]
    raise ValueError(f"unknown combine rule {rule!r}; valid: {', '.join(COMBINE_RULES)}")


def run(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train (or load the shared units of) one run's method and score the test set.

    Metrics: ``auroc`` (anomalies = the non-normal classes, positive), the test counts, the mean
    score per test class, DeepMAD's δ per encoder. Arrays (none at ``cpu`` scale unless
    ``save_features``, to keep the committed sweep small): ``test_scores``, ``test_labels``
    (original classes), for Algorithm 1 and DeepMAD ``detector_scores`` ``(m, N)``; with
    ``save_features``: ``feature_index`` (100 test images per class) and ``features`` (``(n, D)``,
    or ``(m, n, D)`` per detector), the §5.1 inputs.
    """
    from adlib.detectors import get_detector, model_outputs
    from adlib.metrics import auroc
    from adlib.papers.singh2021.features import sample_per_class
    from adlib.train import resolve_device, seed_everything

    device = resolve_device(cfg["device"])
    seed_everything(cfg["seed"], cfg["threads"])
    method, normal = cfg["method"], cfg["data"]["normal_classes"]
    data = build_data(cfg["data"])
    pipe = _pipeline(cfg)
    metrics: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    feat_idx = sample_per_class(data.test_y.numpy(), 100, SUBSET_SEED) if cfg["save_features"] else None
    features = []

    def keep_features(model: torch.nn.Module, prepare, head: bool = False) -> None:
        if feat_idx is not None:
            net = _HeadFeatures(model) if head else model
            features.append(model_outputs(net, data.test_x[torch.from_numpy(feat_idx)], prepare=prepare).numpy())

    if method in ("deep_svdd", "deep_svdd_m", "deepmad"):
        groups = [normal] if method == "deep_svdd" else [[c] for c in normal]
        per, stats, deltas = [], [], []
        for group in groups:
            if method == "deepmad":
                model, center, delta = deepmad_unit(cfg, group[0], data.train, device)
                deltas.append(delta)
            else:
                model, center = deep_svdd_unit(cfg, group, data.train, device)
            det = get_detector("center_distance", center=center, squared=method != "deepmad")
            per.append(det.score(model, data.test_x, prepare=pipe))
            if method == "deep_svdd_m" and cfg["params"]["combine"] == "min_standardised":
                s = det.score(model, data.train[group[0]], prepare=pipe)
                stats.append((float(s.mean()), float(s.std())))
            keep_features(model, pipe)
        per_t = torch.stack(per)
        scores = per_t[0] if method == "deep_svdd" else _combine(per_t, cfg["params"].get("combine", "min"), stats)
        if method == "deepmad":
            metrics["delta"] = deltas
    else:  # drocc, drocc_m
        dpipe = _pipeline(cfg, standardise=True)
        groups = [normal] if method == "drocc" else [[c] for c in normal]
        logits, stats = [], []
        for group in groups:
            model = drocc_unit(cfg, group, data.train, device)
            logits.append(model_outputs(model, data.test_x, prepare=dpipe).flatten())
            if method == "drocc_m" and cfg["params"]["combine"] == "min_standardised":
                s = -model_outputs(model, data.train[group[0]], prepare=dpipe).flatten()
                stats.append((float(s.mean()), float(s.std())))
            keep_features(model, dpipe, head=True)
        logit_t = torch.stack(logits)
        per_t = torch.stack([get_detector("normal_logit").score_outputs(f) for f in logits])
        scores = per_t[0] if method == "drocc" else _combine(per_t, cfg["params"]["combine"], stats, logit_t)
    scores_np = scores.numpy().astype(np.float32)
    labels = data.test_y.numpy()
    is_anomaly = ~np.isin(labels, normal)
    metrics.update({
        "auroc": auroc(scores_np, is_anomaly),
        "n_test_normal": int((~is_anomaly).sum()),
        "n_test_anomalous": int(is_anomaly.sum()),
        "mean_score_per_class": {str(int(c)): float(scores_np[labels == c].mean()) for c in np.unique(labels)},
    })
    arrays = {"test_scores": scores_np, "test_labels": labels.astype(np.int16)}
    if method in ALGORITHM1 or method == "deepmad":
        arrays["detector_scores"] = per_t.numpy().astype(np.float32)
    if feat_idx is not None:
        arrays["feature_index"] = feat_idx.astype(np.int32)
        # float16: the §5.1 KS tests and CDFs need no more, and it halves the stored arrays
        arrays["features"] = (features[0] if len(features) == 1 else np.stack(features)).astype(np.float16)
    elif cfg["scale"] == "cpu":
        arrays = {}  # the cpu sweep's ~4,600 runs keep their metrics only (the scores would be ~50 MB in git)
    return metrics, arrays


class _HeadFeatures(torch.nn.Module):
    """A DROCC model's 64-d last hidden layer as its output (§5.1's DROCC features)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.head_features(x)
