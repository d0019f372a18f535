"""rafiee2021 (AD-CGAN): one trained model per (dataset, scheme, class, seed), scored once; Tables
1, 3 and 4 and the contrastive ablation all read the same runs.

Schemes (paper App. A.2):

* ``one_vs_all`` ("soft"): class c is normal, the other classes are anomalous;
* ``all_vs_one`` ("hard"): class c is the one anomalous class, the others are normal.

Test pools (the paper is silent; spec §2.10 item 11). Every run scores both:

* ``clean`` (the default, Tables 1, 3, 4): the normal and anomalous classes of the **test split**;
* ``public_code``: the authors' code, whose anomalous pool holds the anomalous classes of the
  **train and test splits**. The normal images are the same test-split images. (At ``cpu`` scale
  the larger side of each pool is drawn down to :data:`CPU_TEST_DRAW` images at random, stratified
  by class, to keep scoring cheap; the side holding the one class is complete.)

A run stores the four score components (L_GR, L_GD, L_FE, L_FL; Eqs. (4)–(5), the paper's sums)
of every clean test image, and the AUC of each Table 4 variant (LG, LFE, LFL, GF) on both pools
and under both readings of the score: ``sum`` (the paper's Σ) and ``mean`` (the authors' code,
the same components divided by their element counts), so no variant needs retraining.

Preprocessing follows the authors' code (the paper says nothing): (F)MNIST ``CenterCrop(36)`` (zero
padding of 4 pixels) then ``Resize(28)``, CIFAR-10 ``CenterCrop(38)`` then ``Resize(32)``, applied
once to the uint8 images (spec §2.10 item 10). Cats vs Dogs images are resized to 64×64 when
loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from adlib.results import config_hash
from adlib.scales import check_scale

PAPER = "rafiee2021"
EXPERIMENT = "adcgan"
RUNNER = "adlib.papers.rafiee2021.experiments:run"

SCHEMES: tuple[str, ...] = ("one_vs_all", "all_vs_one")
SCHEME_LABELS = {"one_vs_all": "one-vs-all", "all_vs_one": "all-vs-one"}
"""The schemes as the paper's tables name them (paper-value files use these labels)."""
TEST_POOLS: tuple[str, ...] = ("clean", "public_code")
POOL_LABELS = {"clean": "test split only (clean, default)",
               "public_code": "anomalies from train + test splits (the authors' code)"}
VARIANTS: tuple[str, ...] = ("LG", "LFE", "LFL", "GF")
"""Table 4's normality-score variants: LG = λ·L_GD + (1 − λ)·L_GR; LFE = LG + L_FE (ρ = 1);
LFL = LG + L_FL (ρ = 0); GF = LG + ρ·L_FE + (1 − ρ)·L_FL with ρ = 0.5 (the full score, Eq. (4))."""
REDUCTIONS: tuple[str, ...] = ("sum", "mean")

FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                  "Ankle boot")
CIFAR10_CLASSES = ("Airplane", "Automobile", "Bird", "Cat", "Deer", "Dog", "Frog", "Horse", "Ship", "Truck")


@dataclass(frozen=True)
class DatasetInfo:
    loader: str  # adlib.data.images.load_images name (= the manifest name)
    label: str  # the dataset as the paper's tables name it
    image_size: int
    class_names: tuple[str, ...]
    crop: int | None  # the code's CenterCrop before resizing back (None: no pad + resize)


DATASETS: dict[str, DatasetInfo] = {
    "fmnist": DatasetInfo("fashion_mnist", "fMNIST", 28, FMNIST_CLASSES, 36),
    "mnist": DatasetInfo("mnist", "MNIST", 28, tuple(str(d) for d in range(10)), 36),
    "cifar10": DatasetInfo("cifar10", "CIFAR-10", 32, CIFAR10_CLASSES, 38),
    "cats_vs_dogs": DatasetInfo("cats_vs_dogs", "CatsVsDogs", 64, ("Cat", "Dog"), None),
}
OFFLINE_DATASETS = ("fmnist",)
"""The datasets ``smoke`` and ``cpu`` scale run on (the others need a download: ``paper`` scale)."""
CPU_TRAIN_IMAGES = 640
"""``cpu`` scale: normal training images per run, both schemes (of the normal class's 6,000
one-vs-all, stratified over the 9 normal classes all-vs-one): 20 batches of 32 per epoch."""
CPU_WARMUP_EPOCHS, CPU_EPOCHS = 5, 4
"""``cpu`` scale: autoencoder warm-up epochs, then GAN epochs, both schemes (paper: 5 + 15
one-vs-all, 15 + 35 all-vs-one). At this size the autoencoder's warm-up buys more than GAN
epochs do: 2 + 8 epochs on 320 images, at about the same cost, left the easy one-vs-all classes
(Trouser, Sandal, Sneaker) at mean AUCs of 51–66 over the 3 seeds (see issue 10)."""
CPU_TEST_DRAW = 2000
"""``cpu`` scale: how many images are drawn (stratified, at random) from the larger side of each
test pool: the 9,000 anomalies (one-vs-all) or 9,000 normal images (all-vs-one) of the clean pool,
and the train + test anomalies of the public-code pool (63,000 one-vs-all, 7,000 all-vs-one).
The smaller side (the test split's 1,000 images of the class) is always complete."""
PROTOCOL_SEED = 20212
"""Seeds the training subsets and the subsampled public-code pool, so that every seed and both
α settings of a (scheme, class) see the same images (the run seed drives the networks)."""


def class_names(dataset: str) -> tuple[str, ...]:
    return DATASETS[dataset].class_names


def check_datasets(scale: str, datasets: Any = None) -> None:
    """A notebook's ``datasets`` parameter: None (the scale's default) or a list of known dataset
    keys that the scale can run; ValueError naming the valid ones otherwise."""
    if datasets is None:
        return
    if isinstance(datasets, str) or not isinstance(datasets, (list, tuple)) or not datasets:
        raise ValueError(f"datasets must be a non-empty list such as ['fmnist'] (or None); got {datasets!r}")
    for d in datasets:
        if d not in DATASETS:
            raise ValueError(f"unknown dataset {d!r}; valid: {', '.join(DATASETS)}")
        if scale != "paper" and d not in OFFLINE_DATASETS:
            raise ValueError(f"{d} runs at scale='paper' only (it needs a download); at {scale} scale: "
                             f"{', '.join(OFFLINE_DATASETS)}")


def run_config(scale: str, dataset: str, scheme: str, cls: int, seed: int, *, contrastive: bool = True,
               device: str = "cpu", threads: int = 1) -> dict[str, Any]:
    """The full, JSON-able config of one AD-CGAN run.

    ``cls``: the normal class (one-vs-all) or the anomalous class (all-vs-one).
    ``contrastive=False``: α = β = 0, the same GAN without the InfoNCE terms (our ablation; the
    paper never runs it).
    """
    from adlib.papers.rafiee2021.training import ALL_VS_ONE, ONE_VS_ALL

    scale = check_scale(scale)
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    info = DATASETS[dataset]
    if scale != "paper" and dataset not in OFFLINE_DATASETS:
        raise ValueError(f"{scale} scale runs {', '.join(OFFLINE_DATASETS)} only (offline data); "
                         f"{dataset} needs scale='paper' and its download (python -m adlib.data fetch {info.loader})")
    if dataset == "cats_vs_dogs" and scheme == "all_vs_one":
        raise ValueError("Cats vs Dogs has two classes: the paper runs it one-vs-all only (all-vs-one is '-')")
    n = len(info.class_names)
    if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)) or not 0 <= int(cls) < n:
        raise ValueError(f"cls must be a class index 0..{n - 1} of {dataset}; got {cls!r}")
    soft = scheme == "one_vs_all"
    paper_spec = ONE_VS_ALL if soft else ALL_VS_ONE
    if scale == "smoke":
        sizes = {"n_train": 256, "n_test_normal": 200, "n_test_anomalous": 200, "n_public_anomalous": 200}
        epochs, warmup, width = 2, 1, 0.25
    elif scale == "cpu":
        # the larger side of each test pool is drawn down to CPU_TEST_DRAW (the smaller is complete)
        sizes = {"n_train": CPU_TRAIN_IMAGES, "n_test_normal": None if soft else CPU_TEST_DRAW,
                 "n_test_anomalous": CPU_TEST_DRAW if soft else None, "n_public_anomalous": CPU_TEST_DRAW}
        epochs, warmup, width = CPU_EPOCHS, CPU_WARMUP_EPOCHS, 0.25
    else:
        sizes = {"n_train": None, "n_test_normal": None, "n_test_anomalous": None, "n_public_anomalous": None}
        epochs, warmup, width = paper_spec.epochs, paper_spec.warmup_epochs, 1.0
    weight = paper_spec.alpha if contrastive else 0.0
    train = paper_spec.to_dict() | {"epochs": epochs, "warmup_epochs": warmup, "alpha": weight, "beta": weight}
    model = {"name": f"adcgan{info.image_size}", "width": width, "latent_dim": 200 if dataset == "cats_vs_dogs" else 100}
    if scale == "cpu":
        model["memory_format"] = "channels_last"  # NHWC weights: faster on CPU (benchmarks/train_throughput.py)
    return {"paper": PAPER, "experiment": EXPERIMENT, "scale": scale, "seed": int(seed), "device": device,
            "threads": int(threads),
            "data": {"dataset": dataset, "scheme": scheme, "cls": int(cls), "pad_resize": info.crop is not None,
                     **sizes},
            "model": model, "train": train,
            "score": {"lam": 0.1, "rho": 0.5, "latent_source": "sample"}}


def table_configs(scale: str, seeds, *, dataset: str = "fmnist", schemes=SCHEMES, contrastive: bool = True,
                  classes=None, **kw) -> list[dict[str, Any]]:
    """Every (scheme, class, seed) config of one dataset: Tables 1, 3 and 4 share these runs.
    ``smoke`` scale runs class 1 only (a quick end-to-end check)."""
    n = len(DATASETS[dataset].class_names)
    classes = (1,) if classes is None and scale == "smoke" else range(n) if classes is None else classes
    return [run_config(scale, dataset, s, c, seed, contrastive=contrastive, **kw)
            for s in schemes if not (dataset == "cats_vs_dogs" and s == "all_vs_one")
            for c in classes for seed in seeds]


def ablation_configs(scale: str, seeds, **kw) -> list[dict[str, Any]]:
    """The contrastive ablation (ours): one-vs-all with α = β = 0.3 and with α = β = 0, paired seeds."""
    return [cfg for contrastive in (True, False)
            for cfg in table_configs(scale, seeds, schemes=("one_vs_all",), contrastive=contrastive, **kw)]


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class ADCGANData:
    """One run's images (uint8, (N, C, H, W), preprocessed): the normal training images, the clean
    test set with ``test_is_anomaly`` (1 = anomaly), and the public-code pool's anomalies."""

    train_x: torch.Tensor
    test_x: torch.Tensor
    test_is_anomaly: np.ndarray
    public_anomalous_x: torch.Tensor


def check_data_present(data: dict[str, Any]) -> None:
    """Raise DatasetMissingError (naming the command that gets it) when the dataset is absent."""
    from adlib.data.manifests import locate

    locate(DATASETS[data["dataset"]].loader)


def pad_resize(images: torch.Tensor, crop: int) -> torch.Tensor:
    """The authors' preprocessing: ``CenterCrop(crop)`` of a smaller image zero-pads it, then
    ``Resize`` back to the original size (bilinear, antialiased) shrinks the object; uint8 in and
    out, ``(N, C, H, W)``."""
    import torchvision.transforms.v2.functional as TF

    size = list(images.shape[-2:])
    return TF.resize(TF.center_crop(images, [crop, crop]), size, antialias=True)


def _as_nchw(images: torch.Tensor) -> torch.Tensor:
    if images.ndim == 3:
        return images.unsqueeze(1)
    if images.ndim == 4 and images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):
        return images.permute(0, 3, 1, 2).contiguous()
    return images


def _draw(labels: torch.Tensor, classes: tuple[int, ...], n: int | None, rng: np.random.Generator) -> torch.Tensor:
    """Indices of the images of ``classes``: all of them (``n`` None), or ``n`` stratified over the
    classes in proportion to their counts (largest remainders), at random, in index order."""
    idx_per_class = [np.flatnonzero(labels.numpy() == c) for c in classes]
    total = sum(len(i) for i in idx_per_class)
    if n is None or n >= total:
        return torch.from_numpy(np.sort(np.concatenate(idx_per_class)))
    quota = np.array([n * len(i) / total for i in idx_per_class])
    take = np.floor(quota).astype(int)
    for j in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[j] += 1
    picked = [rng.choice(i, size=k, replace=False) for i, k in zip(idx_per_class, take)]
    return torch.from_numpy(np.sort(np.concatenate(picked)))


def build_data(data: dict[str, Any]) -> ADCGANData:
    """Load and split one run's images (deterministic given the data config; independent of the
    run seed, so every seed of a class sees the same images)."""
    from adlib.data.images import load_images

    info = DATASETS[data["dataset"]]
    check_data_present(data)
    tr_x, tr_y = load_images(info.loader, "train")
    te_x, te_y = load_images(info.loader, "test")
    tr_x, te_x = _as_nchw(tr_x), _as_nchw(te_x)
    c = data["cls"]
    others = tuple(k for k in range(len(info.class_names)) if k != c)
    normal, anomalous = ((c,), others) if data["scheme"] == "one_vs_all" else (others, (c,))
    rng = np.random.default_rng([PROTOCOL_SEED, SCHEMES.index(data["scheme"]), c])
    train_x = tr_x[_draw(tr_y, normal, data["n_train"], rng)]
    test_normal = _draw(te_y, normal, data["n_test_normal"], rng)
    test_anomalous = _draw(te_y, anomalous, data["n_test_anomalous"], rng)
    test_x = torch.cat([te_x[test_normal], te_x[test_anomalous]])
    is_anomaly = np.r_[np.zeros(len(test_normal), np.uint8), np.ones(len(test_anomalous), np.uint8)]
    pool_x = torch.cat([tr_x, te_x])
    pool_y = torch.cat([tr_y, te_y])
    public = pool_x[_draw(pool_y, anomalous, data["n_public_anomalous"], rng)]
    if data["pad_resize"]:
        train_x, test_x, public = (pad_resize(x, info.crop) for x in (train_x, test_x, public))
    return ADCGANData(train_x.contiguous(), test_x.contiguous(), is_anomaly, public.contiguous())


# ---------------------------------------------------------------------------------------------
# scores


def variant_scores(components: np.ndarray, variant: str, lam: float = 0.1, rho: float = 0.5) -> np.ndarray:
    """One of Table 4's score variants (:data:`VARIANTS`) from the component columns
    (L_GR, L_GD, L_FE, L_FL), ``(N, 4)``; higher = more anomalous."""
    from adlib.detectors import adcgan_normality_score

    rhos = {"LFE": 1.0, "LFL": 0.0, "GF": rho}
    if variant not in VARIANTS:
        raise ValueError(f"unknown score variant {variant!r}; valid: {', '.join(VARIANTS)}")
    comps = torch.from_numpy(np.asarray(components, dtype=np.float32))
    return adcgan_normality_score(comps, lam, rhos.get(variant, rho), feature_terms=variant != "LG").numpy()


def variant_aurocs(components: np.ndarray, is_anomaly: np.ndarray, sizes: np.ndarray, lam: float,
                   rho: float) -> dict[str, float]:
    """``"<reduction>/<variant>"`` → AUROC (anomalies positive), both reductions, every variant,
    plus ``"component/<name>"`` for each component alone. ``sizes``: the element count of each
    component, to turn the paper's sums into the code's means."""
    from adlib.detectors import ADCGAN_COMPONENTS
    from adlib.metrics import auroc

    out = {}
    for reduction in REDUCTIONS:
        comps = components if reduction == "sum" else components / sizes[None, :]
        for v in VARIANTS:
            out[f"{reduction}/{v}"] = auroc(variant_scores(comps, v, lam, rho), is_anomaly)
    for j, name in enumerate(ADCGAN_COMPONENTS):
        out[f"component/{name}"] = auroc(components[:, j], is_anomaly)
    return out


def run(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The runner the sweep calls: build the data, train AD-CGAN, score both test pools.

    Metrics: ``auroc`` ({pool: {"sum/GF": …, "mean/LG": …, "component/L_FE": …}}, fractions,
    anomalies positive), the pool sizes, the element count of each component, the last epoch's
    mean losses. Arrays: ``test_components`` (clean test set, (N, 4) float32, the paper's sums) and
    ``test_is_anomaly``.
    """
    from adlib.detectors import adcgan_score_components
    from adlib.models import create_model
    from adlib.papers.rafiee2021.training import ADCGANTrainSpec, train_adcgan
    from adlib.train import checkpoint_dir, progress_enabled, resolve_device, seed_everything

    device = resolve_device(cfg["device"])
    seed = cfg["seed"]
    data = build_data(cfg["data"])
    seed_everything(seed, cfg["threads"])
    model_cfg = dict(cfg["model"])
    model = create_model(model_cfg.pop("name"), **model_cfg).to(device)
    spec = ADCGANTrainSpec(**cfg["train"])
    key = config_hash(cfg)
    d = cfg["data"]
    history = train_adcgan(model, data.train_x, spec, seed=seed, device=device,
                           checkpoint_path=checkpoint_dir(PAPER) / f"adcgan-{key}.pt", checkpoint_key=key,
                           progress=progress_enabled(),
                           desc=f"AD-CGAN {d['dataset']} {SCHEME_LABELS[d['scheme']]} class {d['cls']} seed {seed}")
    score = cfg["score"]

    def components(images: torch.Tensor, score_seed: int) -> np.ndarray:
        comps = adcgan_score_components(model, images, seed=score_seed, prepare=lambda b: b.float().div_(255.0),
                                        reduction="sum", latent_source=score["latent_source"])
        return np.stack([v.numpy() for v in comps.values()], axis=1).astype(np.float32)

    test = components(data.test_x, seed)
    public = components(data.public_anomalous_x, seed + 1)
    sizes = np.asarray(model.score_component_sizes(), dtype=np.float64)
    normal = test[data.test_is_anomaly == 0]
    public_all = np.concatenate([normal, public])
    public_labels = np.r_[np.zeros(len(normal), np.uint8), np.ones(len(public), np.uint8)]
    metrics = {
        "auroc": {"clean": variant_aurocs(test, data.test_is_anomaly, sizes, score["lam"], score["rho"]),
                  "public_code": variant_aurocs(public_all, public_labels, sizes, score["lam"], score["rho"])},
        "n_train": int(len(data.train_x)),
        "n_test_normal": int(len(normal)),
        "n_test_anomalous": int(data.test_is_anomaly.sum()),
        "n_public_anomalous": int(len(public)),
        "component_sizes": [int(s) for s in sizes],
        "final_losses": history.losses[-1] if history.losses else {},
    }
    return metrics, {"test_components": test, "test_is_anomaly": data.test_is_anomaly}
