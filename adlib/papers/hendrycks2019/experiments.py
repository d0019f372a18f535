"""hendrycks2019 (Outlier Exposure): the vision experiments of Tables 1, 7, 10, Figures 1, 4
and Appendix C, defined once for the three scales.

One run = one (method, seed) on one data configuration:

* ``baseline``: a classifier trained with cross-entropy, scored by MSP (the paper's "MSP").
* ``oe_tune``: that same baseline (cached checkpoint) fine-tuned with OE (§4.3; λ = 0.5,
  in-distribution and OE images concatenated in one forward pass).
* ``oe_scratch``: a classifier trained with OE from the first step (Appendix C).

Every run scores the in-distribution test set and every test-OOD set with MSP and with
-H(U; p) (App. E), and evaluates with the paper's protocol: OOD : in = 1 : 5, averaged over
10 random draws of the OOD subset scored by the one trained model (spec §3).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from adlib.detectors import get_detector
from adlib.models import create_model
from adlib.results import config_hash
from adlib.scales import check_scale
from adlib.train import ImagePipeline, TrainSpec, accuracy, checkpoint_dir, progress_enabled, load_weights, predict_logits, resolve_device, \
    seed_everything, train_classifier

PAPER = "hendrycks2019"
EXPERIMENT = "vision_oe"
RUNNER = "adlib.papers.hendrycks2019.experiments:run"
METHODS: tuple[str, ...] = ("baseline", "oe_tune", "oe_scratch")
DETECTORS: tuple[str, ...] = ("msp", "neg_uniform_xent")
METHOD_LABELS = {"baseline": "MSP", "oe_tune": "+OE", "oe_scratch": "OE from scratch"}

# Fashion-MNIST classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
# 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot. Split R1 of the spec (§8.0): apparel in,
# sandals and bags as OE, footwear never seen in training as test OOD.
FMNIST_IN = [0, 1, 2, 3, 4, 6]
FMNIST_OE = [5, 8]
FMNIST_TEST_OOD = [7, 9]

OOD_SET_LABELS = {
    "fmnist_footwear": "FMNIST footwear (Sneaker, Ankle boot)",
    "fmnist_test_classes": "FMNIST held-out test classes",
    "sklearn_digits": "Digits (sklearn, 8×8 → 28×28)",
    "gaussian": "Gaussian", "bernoulli": "Bernoulli", "rademacher": "Rademacher", "blobs": "Blobs",
    "textures": "Textures", "svhn": "SVHN", "places365": "Places365", "lsun_resize": "LSUN",
    "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
}

CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)

# paper-scale in-distribution datasets this module configures (spec §7)
PAPER_DATASETS = ("cifar10", "cifar100", "svhn")


def validate_data_choice(scale: str, in_dataset: str | None = None,
                         classes: dict[str, list[int]] | None = None) -> dict[str, tuple[int, ...]] | None:
    """Check a notebook's data choice; return ``classes`` normalised (None for the default split).

    ``in_dataset`` is for ``paper`` scale (one of :data:`PAPER_DATASETS`); ``classes`` for the
    reduced scales: Fashion-MNIST class indices (0..9) by role, ``{"in": [...], "oe": [...],
    "test_ood": [...]}``: pairwise disjoint (OE classes may never be test anomalies), ``in``
    with at least two classes, ``oe`` non-empty. Raises ValueError saying what to change.
    """
    from adlib.data.splits import ClassSplit

    check_scale(scale)
    if scale == "paper":
        if classes is not None:
            raise ValueError("classes is a Fashion-MNIST choice for scale smoke/cpu; at scale 'paper' "
                             f"choose in_dataset ({', '.join(PAPER_DATASETS)})")
        if in_dataset is not None and in_dataset not in PAPER_DATASETS:
            raise ValueError(f"paper-scale in-distribution dataset {in_dataset!r} is not configured; "
                             f"valid: {', '.join(PAPER_DATASETS)}")
        return None
    if in_dataset not in (None, "fashion_mnist"):
        raise ValueError(f"at scale {scale!r} the in-distribution data is fashion_mnist; "
                         f"use scale='paper' for {in_dataset!r}")
    if classes is None:
        return None
    if not isinstance(classes, dict) or set(classes) != {"in", "oe", "test_ood"}:
        raise ValueError('classes must be a dict with exactly the keys "in", "oe" and "test_ood", '
                         f'e.g. {{"in": {FMNIST_IN}, "oe": {FMNIST_OE}, "test_ood": {FMNIST_TEST_OOD}}}; '
                         f"got {classes!r}")
    split = ClassSplit(classes["in"], classes["oe"], classes["test_ood"], n_classes=10)
    if len(split.in_classes) < 2:
        raise ValueError(f"classes['in'] = {list(split.in_classes)}: a classifier needs at least two "
                         "in-distribution classes")
    if not split.oe_classes:
        raise ValueError("classes['oe'] is empty: Outlier Exposure needs at least one OE class")
    return {"in": split.in_classes, "oe": split.oe_classes, "test_ood": split.test_ood_classes}


ARCHITECTURES = ("default", "allconvnet")
"""``default``: the paper's network for the dataset (WRN at paper scale, the MNIST ConvNet at the
reduced scales); ``allconvnet``: App. D / Table 9's All-Convolutional Network."""


def run_config(scale: str, method: str, seed: int, *, device: str = "cpu", in_dataset: str | None = None,
               threads: int = 1, classes: dict[str, list[int]] | None = None,
               architecture: str = "default") -> dict[str, Any]:
    """The full, JSON-able config of one run. Everything that changes the numbers is in it.

    ``in_dataset`` picks the paper-scale in-distribution set, ``classes`` the Fashion-MNIST
    split at the reduced scales (see :func:`validate_data_choice`), ``architecture`` the network
    (:data:`ARCHITECTURES`).
    """
    check_scale(scale)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}")
    split = validate_data_choice(scale, in_dataset, classes)
    if scale == "paper":
        data, model, pretrain, finetune, scratch = _paper_scale(in_dataset or "cifar10")
        if architecture == "allconvnet":  # App. D: same schedules as the WRN
            model = {"name": "allconvnet", "num_classes": model["num_classes"]}
    else:
        data, model, pretrain, finetune, scratch = _reduced_scale(scale, split)
        if architecture == "allconvnet":  # spec §8.1 Table 9: 5 baseline epochs, 3 OE epochs
            model = {**model, "name": "allconvnet_small"}
            if scale == "cpu":  # lr 0.1 as the paper's WRN schedule: at 0.01 it stays at chance on 6,000 images
                pretrain = dataclasses.replace(pretrain, epochs=5, lr=0.1)
                finetune = dataclasses.replace(finetune, epochs=3)
                scratch = dataclasses.replace(scratch, epochs=5, lr=0.1)
    cfg: dict[str, Any] = {
        "paper": PAPER, "experiment": EXPERIMENT, "scale": scale, "method": method, "seed": int(seed),
        "device": device, "threads": int(threads), "data": data, "model": model,
        "pretrain": pretrain.to_dict(),
    }
    if method == "oe_tune":
        cfg["finetune"] = finetune.to_dict()
    if method == "oe_scratch":
        del cfg["pretrain"]
        cfg["scratch"] = scratch.to_dict()
    return cfg


CPU_TRAIN_SUBSET = 6000
"""In-distribution training images at ``cpu`` scale: a fixed random 6,000 of the 36,000 of the six
Fashion-MNIST in-classes (about 1,000 per class), so that the whole chapter re-computes in minutes
on two cores (issue 10). The OE set and the test sets stay whole."""


def _reduced_scale(scale: str, split: dict[str, tuple[int, ...]] | None = None):
    smoke = scale == "smoke"
    in_c, oe_c, ood_c = (FMNIST_IN, FMNIST_OE, FMNIST_TEST_OOD) if split is None else \
        (list(split["in"]), list(split["oe"]), list(split["test_ood"]))
    # the default split keeps its historical name (and so its stored results' config hashes)
    held_out = [] if not ood_c else ["fmnist_footwear" if ood_c == FMNIST_TEST_OOD else "fmnist_test_classes"]
    data = {
        "in_dataset": "fashion_mnist", "in_classes": in_c, "oe_source": "fmnist_classes",
        "oe_classes": oe_c, "test_ood_classes": ood_c,
        "test_ood": held_out + ["sklearn_digits", "gaussian", "bernoulli", "blobs"],
        "input_space": "unit",
        "train_subset": 1500 if smoke else CPU_TRAIN_SUBSET, "oe_subset": 1500 if smoke else None,
        "test_subset": 500 if smoke else None, "ood_ratio": 5, "n_draws": 2 if smoke else 10,
    }
    model = {"name": "mnist_convnet", "num_classes": len(in_c), "memory_format": "channels_last"}
    epochs = (1, 1, 1) if smoke else (10, 5, 10)
    pretrain = TrainSpec(epochs=epochs[0], batch_size=50, lr=0.01)
    finetune = TrainSpec(epochs=epochs[1], batch_size=50, lr=0.01, oe_batch_size=100, oe_weight=0.5)
    scratch = TrainSpec(epochs=epochs[2], batch_size=50, lr=0.01, oe_batch_size=100, oe_weight=0.5)
    return data, model, pretrain, finetune, scratch


def _paper_scale(in_dataset: str):
    if in_dataset not in PAPER_DATASETS:
        raise ValueError(f"paper-scale in-distribution dataset {in_dataset!r} is not configured; "
                         f"valid: {', '.join(PAPER_DATASETS)}")
    ood = ["gaussian", "rademacher", "blobs", "textures", "svhn", "places365", "lsun_resize",
           "cifar100" if in_dataset == "cifar10" else "cifar10"]
    if in_dataset == "svhn":
        ood = ["gaussian", "bernoulli", "blobs", "textures", "places365", "lsun_resize", "cifar10"]
    data = {"in_dataset": in_dataset, "oe_source": "random_300k", "test_ood": ood,
            "input_space": "unit" if in_dataset == "svhn" else "normalized",
            "train_subset": None, "oe_subset": None, "test_subset": None, "ood_ratio": 5, "n_draws": 10}
    num_classes = 100 if in_dataset == "cifar100" else 10
    if in_dataset == "svhn":  # WRN-16-4, 20 epochs at lr 0.01, [0,1] inputs, no augmentation
        model = {"name": "wrn16_4", "num_classes": num_classes}
        pretrain = TrainSpec(epochs=20, batch_size=128, lr=0.01, weight_decay=5e-4)
        finetune = TrainSpec(epochs=5, batch_size=128, lr=1e-4, weight_decay=5e-4, oe_batch_size=256)
    else:  # WRN-40-2, 100 epochs at lr 0.1; OE fine-tuning 10 epochs at lr 0.001
        model = {"name": "wrn40_2", "num_classes": num_classes}
        pretrain = TrainSpec(epochs=100, batch_size=128, lr=0.1, weight_decay=5e-4)
        finetune = TrainSpec(epochs=10, batch_size=128, lr=0.001, weight_decay=5e-4, oe_batch_size=256)
    scratch = TrainSpec(epochs=pretrain.epochs, batch_size=128, lr=pretrain.lr, weight_decay=5e-4,
                        oe_batch_size=256)
    return data, model, pretrain, finetune, scratch


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class VisionData:
    """Everything one run needs, as tensors in memory.

    Images are uint8 (go through ``pipeline``); synthetic OOD sets are float tensors already
    in the model's input space (the pipeline passes them through unchanged).
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    oe_x: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    ood: dict[str, torch.Tensor]
    pipeline: ImagePipeline


def _subset(x: torch.Tensor, y: torch.Tensor | None, n: int | None, seed: int = 0):
    if n is None or n >= len(x):
        return x, y
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return x[idx], (None if y is None else y[idx])


SYNTHETIC_SETS = ("gaussian", "bernoulli", "rademacher", "blobs")
GENERATED_OR_BUNDLED = ("fmnist_footwear", "fmnist_test_classes", "sklearn_digits", "fmnist_classes")


# loader name (adlib.data.images.IMAGE_LOADERS) -> manifest name, where the two differ
LOADER_MANIFEST = {"lsun_crop": "lsun", "lsun_resize": "lsun"}


def required_datasets(data: dict[str, Any]) -> list[str]:
    """Manifest names of the datasets a data config reads (generated and bundled sets excluded)."""
    names = [data["in_dataset"], data["oe_source"], *data["test_ood"]]
    return list(dict.fromkeys(LOADER_MANIFEST.get(n, n) for n in names
                              if n not in SYNTHETIC_SETS + GENERATED_OR_BUNDLED))


def check_data_present(data: dict[str, Any]) -> None:
    """Raise :class:`~adlib.data.manifests.DatasetMissingError` (which names the one command that
    gets the data) for the first dataset of ``data`` that is not on this machine."""
    from adlib.data.manifests import locate

    for name in required_datasets(data):
        locate(name)


def build_data(data: dict[str, Any]) -> VisionData:
    """Load and split the data a config asks for (deterministic: subsets use a fixed seed)."""
    from adlib.data.images import load_digits_28, load_fashion_mnist, load_images
    from adlib.data.splits import ClassSplit, select
    from adlib.data.synthetic import make_synthetic

    name = data["in_dataset"]
    if name == "fashion_mnist":
        tr_x, tr_y = load_fashion_mnist("train")
        te_x, te_y = load_fashion_mnist("test")
        split = ClassSplit(tuple(data["in_classes"]), tuple(data["oe_classes"]),
                           tuple(data["test_ood_classes"]), n_classes=10)  # validates disjointness
        train_x, train_y = select(tr_x, tr_y, split.in_classes, split.label_map())
        test_x, test_y = select(te_x, te_y, split.in_classes, split.label_map())
        oe_x, _ = select(tr_x, tr_y, split.oe_classes)
        real_ood = {name: select(te_x, te_y, split.test_ood_classes)[0]
                    for name in ("fmnist_footwear", "fmnist_test_classes") if name in data["test_ood"]}
        pipeline = ImagePipeline()
        shape = (1, 28, 28)
    else:
        train_x, train_y = load_images(name, "train")
        test_x, test_y = load_images(name, "test")
        oe_x, _ = load_images(data["oe_source"], "train")
        real_ood = {}
        if data["input_space"] == "normalized":
            pipeline = ImagePipeline(mean=CIFAR_MEAN, std=CIFAR_STD, crop_padding=4, hflip=True)
        else:
            pipeline = ImagePipeline()
        shape = tuple(train_x.shape[1:])
    train_x, train_y = _subset(train_x, train_y, data["train_subset"])
    oe_x, _ = _subset(oe_x, None, data["oe_subset"])
    test_x, test_y = _subset(test_x, test_y, data["test_subset"])
    ood_num = len(test_x) // data["ood_ratio"]
    pool = data["n_draws"] * ood_num
    ood: dict[str, torch.Tensor] = {}
    for i, ood_name in enumerate(data["test_ood"]):
        if ood_name in real_ood:
            ood[ood_name] = real_ood[ood_name]
        elif ood_name == "sklearn_digits":
            ood[ood_name] = load_digits_28()[0]
        elif ood_name in SYNTHETIC_SETS:
            ood[ood_name] = make_synthetic(ood_name, pool, shape, seed=1000 + i, space=data["input_space"])
        elif ood_name == "places365":  # 328,500 test images: decode a fixed random pool only
            ood[ood_name] = load_images(ood_name, "test", limit=pool, seed=0)[0]
        else:
            ood[ood_name] = load_images(ood_name, "test")[0]
    return VisionData(train_x, train_y, oe_x, test_x, test_y, ood, pipeline)


# ---------------------------------------------------------------------------------------------
# training and evaluation



def _baseline_model(cfg: dict[str, Any], data: VisionData, device: torch.device) -> torch.nn.Module:
    """Train the baseline (or load it from the checkpoint cache, keyed by its own config)."""
    from filelock import FileLock

    spec = TrainSpec(**cfg["pretrain"])
    base_cfg = {k: cfg[k] for k in ("data", "model", "pretrain", "seed", "device", "threads")}
    key = config_hash(base_cfg)
    path = checkpoint_dir(PAPER) / f"baseline-{key}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg["seed"], cfg["threads"])
    model = create_model(**cfg["model"])
    with FileLock(str(path) + ".lock"):
        if not load_weights(model, path, key, spec):
            train_classifier(model, data.train_x, data.train_y, spec, seed=cfg["seed"], pipeline=data.pipeline,
                             device=device, checkpoint_path=path, checkpoint_key=key,
                             progress=progress_enabled(), desc=f"baseline seed {cfg['seed']}")
    return model.to(device)



def train_model(cfg: dict[str, Any], data: VisionData, device: torch.device) -> torch.nn.Module:
    """The trained network of a run config (baseline, OE fine-tuned, or OE from scratch)."""
    method = cfg["method"]
    if method in ("baseline", "oe_tune"):
        model = _baseline_model(cfg, data, device)
        if method == "baseline":
            return model
        spec = TrainSpec(**cfg["finetune"])
        model = copy.deepcopy(model)
        seed_everything(cfg["seed"] + 1, cfg["threads"])
        key = config_hash(cfg)
        train_classifier(model, data.train_x, data.train_y, spec, seed=cfg["seed"] + 1, pipeline=data.pipeline,
                         oe_images=data.oe_x, device=device, checkpoint_path=checkpoint_dir(PAPER) / f"oe_tune-{key}.pt",
                         checkpoint_key=key, progress=progress_enabled(), desc=f"OE fine-tune seed {cfg['seed']}")
        return model
    spec = TrainSpec(**cfg["scratch"])
    seed_everything(cfg["seed"], cfg["threads"])
    model = create_model(**cfg["model"])
    key = config_hash(cfg)
    train_classifier(model, data.train_x, data.train_y, spec, seed=cfg["seed"], pipeline=data.pipeline,
                     oe_images=data.oe_x, device=device, checkpoint_path=checkpoint_dir(PAPER) / f"oe_scratch-{key}.pt",
                     checkpoint_key=key, progress=progress_enabled(), desc=f"OE from scratch seed {cfg['seed']}")
    return model


def evaluate(model: torch.nn.Module, data: VisionData, cfg: dict[str, Any],
             device: torch.device) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Accuracy and the OE protocol's OOD metrics for each detector and each test-OOD set."""
    in_logits = predict_logits(model, data.test_x, data.pipeline, device=device)
    ood_logits = {name: predict_logits(model, x, data.pipeline, device=device) for name, x in data.ood.items()}
    scorers = {name: get_detector(name).score_outputs for name in DETECTORS}
    return protocol_metrics(scorers, in_logits, ood_logits, accuracy(in_logits, data.test_y), cfg)


def protocol_metrics(scorers: dict[str, Any], in_outputs: torch.Tensor, ood_outputs: dict[str, torch.Tensor],
                     test_accuracy: float, cfg: dict[str, Any],
                     tpr: float = 0.95) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The OE protocol's OOD metrics (spec §3) of each scorer (model outputs → scores, higher =
    more anomalous) on each test-OOD set: OOD : in = 1 : ``ood_ratio``, ``n_draws`` seeded draws of
    the OOD subset, then the mean over sets; FPR at ``tpr`` (FPR95 for vision, FPR90 for the NLP
    and language-model experiments). Returns (metrics, the score arrays)."""
    from adlib.metrics import repeated_ood_metrics

    metrics: dict[str, Any] = {"test_accuracy": test_accuracy, "n_test_in": len(in_outputs),
                               "ood": {}, "ood_mean": {}, "n_ood_pool": {}}
    arrays: dict[str, np.ndarray] = {}
    for det_name, score_outputs in scorers.items():
        in_scores = score_outputs(in_outputs).numpy().astype(np.float32)
        arrays[f"{det_name}__in"] = in_scores
        per_set = {}
        for j, (name, outputs) in enumerate(ood_outputs.items()):
            out_scores = score_outputs(outputs).numpy().astype(np.float32)
            arrays[f"{det_name}__{name}"] = out_scores
            rng = np.random.default_rng([cfg["seed"], j])
            per_set[name] = repeated_ood_metrics(in_scores, out_scores, n_draws=cfg["data"]["n_draws"],
                                                 ratio=cfg["data"]["ood_ratio"], rng=rng, tpr=tpr)
            metrics["n_ood_pool"][name] = len(out_scores)
        metrics["ood"][det_name] = per_set
        keys = [k for k in next(iter(per_set.values())) if not k.endswith("_std") and k not in ("ood_num", "n_draws")]
        metrics["ood_mean"][det_name] = {k: float(np.mean([m[k] for m in per_set.values()])) for k in keys}
    return metrics, arrays


def run(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The runner the sweep calls: train (or load) the run's model, evaluate it."""
    device = resolve_device(cfg["device"])
    data = build_data(cfg["data"])
    model = train_model(cfg, data, device)
    return evaluate(model, data, cfg, device)
