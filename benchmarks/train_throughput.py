"""Training throughput per model family: adlib's step against a loop written the way the official
codes do it, and the FLOP/s it reaches against the machine's matrix-multiply rate.

For every model family the papers use at ``cpu`` scale, the same model, objective, optimiser and
batch size run in two data paths, one timed stretch each after a warm-up, all in one run:

* ``official-style``: a ``torch.utils.data.DataLoader`` (``num_workers=0``) over a torchvision-style
  dataset that turns every image into a PIL image and through ``transforms`` per item (``ToTensor``;
  for the CIFAR-shaped WRN also ``RandomCrop(32, 4)`` and ``RandomHorizontalFlip``), fp32, torch's
  default threading (what ``python train.py`` does on this machine with no environment tuning);
* ``adlib``: the images held as one uint8 tensor in memory, each batch sliced by a permutation and
  converted (and augmented) batched on tensors by :class:`adlib.train.ImagePipeline`, one torch
  thread (how adlib's sweeps run: one process per core), the model's weights in the memory format
  adlib's cpu-scale config gives that family (``channels_last`` for all but WRN-16-4 and the
  PixelCNN; :data:`adlib.models.MEMORY_FORMATS`);
* ``adlib-channels-last`` (a what-if for the families still contiguous): the same with the weights
  in ``channels_last``, reported as a ratio to ``adlib``;
* ``adlib-bf16`` (a what-if): adlib's step under ``torch.autocast("cpu", dtype=torch.bfloat16)``,
  reported as a ratio to ``adlib``. adlib's ``cpu`` scale trains in fp32: its results re-create bit
  for bit from fp32 arithmetic, and a CPU without bf16 units (AVX2) has no fast bf16 arithmetic;
* ``official-batches``: the official-style ``DataLoader`` alone, no step; the official loop's
  images/s over this is the share of its time spent making batches, all that a faster data path
  can take off it (the rest is the same torch kernels, on the machine's cores either way).

Each variant runs in its own subprocess, so thread settings do not leak between them; the last
runs one adlib process per core at once and reports their total, which is how a sweep of
independent runs uses the machine. The step of each family is the one adlib trains with (its
objective functions, :mod:`adlib.losses`, :mod:`adlib.models.adcgan`,
:func:`adlib.papers.hendrycks2019.pixelcnn.image_nll_bits`). The three variants the targets judge
(official-style, adlib, the sweep) run ``--repeats`` times per family, interleaved, and the row
reports their medians, beside each repeat's numbers and the range of the speed-up and of the
fraction of the matrix-product rate over the repeats: on a shared 2-core machine one run of a
variant can be 10–25 % off the next.

FLOP/s: the floating-point operations of one training step (forward and backward, counted by
``torch.utils.flop_counter.FlopCounterMode``: convolutions and matrix products) times the steps per
second, against the rate of a 1024×1024 fp32 matrix product on one thread. Reported as ratios;
nothing here asserts a time. Writes ``benchmarks/results/train_throughput.json``.

``--device cuda`` runs the same families on a GPU, one process per variant, and writes
``benchmarks/results/train_throughput.cuda.json``:

* ``official-style``: the same DataLoader and PIL transforms, with 4 workers and pinned memory as the
  OE code runs (``--prefetch 4``), each batch copied to the GPU, fp32, ``cudnn.benchmark`` on;
* ``adlib-bf16``: how adlib trains on CUDA: the uint8 images on the GPU, converted and augmented
  there, the step under bf16 autocast (``TrainSpec.amp``), cuDNN deterministic;
* ``adlib-fp32``: the same step without autocast (what mixed precision brings);

every step waits for the GPU (both loops read the loss each step), the three run ``--repeats`` times
per family, interleaved (medians reported, with the range of the speed-up and of the fraction of
peak), and the fraction of peak is adlib's FLOP/s against the GPU's measured bf16 rate on an
8192×8192 matrix product.

    python benchmarks/train_throughput.py [--seconds 4] [--repeats 3] [--families lenet,wrn16_4] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
WARMUP_STEPS = 3  # steps before timing (first-call allocations, kernel selection)


@dataclass(frozen=True)
class Family:
    """One model family as a paper trains it at ``cpu`` scale."""

    paper: str
    model: str  # what the family is, in words
    shape: tuple[int, int, int]  # C, H, W of one image
    batch_size: int
    cifar_augment: bool = False  # random crop (padding 4) + horizontal flip, as the CIFAR codes do
    memory_format: str = "contiguous"  # the layout adlib's cpu-scale config gives the model (create_model)


FAMILIES: dict[str, Family] = {
    "lenet": Family("ruff2021", "Deep SVDD LeNet (mnist_lenet, rep_dim 32, logit head), BCE on [nominal; OE]",
                    (1, 28, 28), 128, memory_format="channels_last"),
    "lenet_tiny": Family("singh2021", "bias-free LeNet encoder (widths 8, 4, rep_dim 128), Deep SVDD loss",
                         (1, 28, 28), 32, memory_format="channels_last"),
    "mnist_convnet": Family("hendrycks2019", "the OE code's MNIST ConvNet, cross-entropy", (1, 28, 28), 50,
                            memory_format="channels_last"),
    "small_convnet": Family("ahmed2020", "small ConvNet (w = 16), cross-entropy", (1, 28, 28), 128,
                            memory_format="channels_last"),
    "wrn16_4": Family("hendrycks2019 (paper scale)", "WRN-16-4 forward/backward, cross-entropy, crop + flip",
                      (3, 32, 32), 128, cifar_augment=True),
    "adcgan": Family("rafiee2021", "AD-CGAN GAN-phase step (critic, generator, autoencoder, D_z), 0.25x width",
                     (1, 28, 28), 32, memory_format="channels_last"),
    "pixelcnn": Family("hendrycks2019", "PixelCNN-style (masked 7x7 + 4 masked 3x3 blocks, 16 ch), "
                       "256-way likelihood", (1, 28, 28), 64),
}


def _images(family: Family, n: int):
    """uint8 images (N, C, H, W): Fashion-MNIST for 1-channel families, CIFAR-shaped noise otherwise
    (no CIFAR offline; the arithmetic does not depend on the pixel values)."""
    import torch

    if family.shape[0] == 1:
        from adlib.data.images import load_fashion_mnist

        x, _ = load_fashion_mnist("train")
        return x[:n].reshape(-1, *family.shape).contiguous()
    return torch.randint(0, 256, (n, *family.shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def make_step(name: str, memory_format: str = "contiguous", device: str = "cpu") -> Callable:
    """The family's model and a ``step(x)`` that trains it on one float batch in [0, 1] (N, C, H, W);
    ``memory_format``: the layout of the model's weights (:data:`adlib.models.MEMORY_FORMATS`);
    ``device``: where the model, its optimiser state and the batches live."""
    import torch
    import torch.nn.functional as F

    from adlib.models import create_model as _create_model

    def create_model(*args, **kwargs):
        return _create_model(*args, memory_format=memory_format, **kwargs).to(device)

    torch.manual_seed(0)
    if name == "adcgan":
        from adlib.models.adcgan import (autoencoder_objective, critic_objective, generator_objective,
                                         latent_disc_objective)
        from adlib.papers.rafiee2021.training import ONE_VS_ALL, _optimizers, _step

        spec = ONE_VS_ALL
        model = create_model("adcgan28", width=0.25)
        opts = _optimizers(model, spec)
        infonce = {"negatives": spec.infonce_negatives, "self_mask": spec.infonce_self_mask}
        model.train()

        def step(x):  # one GAN-phase step of adlib.papers.rafiee2021.training.train_adcgan
            z = model.sample_z(len(x))
            for _ in range(spec.n_critic):
                opts["critic"].zero_grad(set_to_none=True)
                critic_objective(model, x, z, spec.beta, **infonce).backward()
                opts["critic"].step()
            _step(generator_objective(model, x, z, spec.alpha, **infonce), opts["generator"])
            _step(autoencoder_objective(model, x, z, "adversarial", spec.latent_weight),
                  opts["encoder"], opts["generator"])
            _step(latent_disc_objective(model, x, z), opts["latent_disc"])

        return step
    if name == "pixelcnn":
        from adlib.papers.hendrycks2019.pixelcnn import as_levels, image_nll_bits

        model = create_model("pixelcnn_small", channels=16, n_res=4)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()

        def step(x):
            loss = image_nll_bits(model, as_levels(x)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step
    if name == "lenet":
        from adlib.losses import binary_outlier_loss

        model = create_model("mnist_lenet", rep_dim=32, logit_head=True)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def loss_fn(out, _n):
            return binary_outlier_loss(out, torch.arange(len(out), device=out.device) >= len(out) // 2)
    elif name == "lenet_tiny":
        from adlib.losses import deep_svdd_loss

        model = create_model("lenet", widths=(8, 4), rep_dim=128, bias=False)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        center = torch.randn(128).to(device)

        def loss_fn(out, _n):
            return deep_svdd_loss(out, center)
    else:
        num_classes = {"mnist_convnet": 6, "small_convnet": 9, "wrn16_4": 10}[name]
        model = create_model(name, num_classes=num_classes, **({"width": 16} if name == "small_convnet" else {}))
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        targets = (torch.arange(4096) % num_classes).to(device)

        def loss_fn(out, n):
            return F.cross_entropy(out, targets[:n])
    model.train()

    def step(x):
        loss = loss_fn(model(x), len(x))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def flops_per_image(name: str) -> float:
    """Forward + backward FLOPs of one training step, per image (convolutions and matmuls)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    family = FAMILIES[name]
    step = make_step(name)
    x = torch.rand(family.batch_size, *family.shape)
    with FlopCounterMode(display=False) as counter:
        step(x)
    return counter.get_total_flops() / family.batch_size


def matmul_rate(threads: int = 1, n: int = 1024, seconds: float = 2.0, device: str = "cpu",
                dtype: "torch.dtype | None" = None) -> float:
    """FLOP/s of an n×n matrix product (best of the repeats): on the CPU fp32 on ``threads`` torch
    threads, on a GPU in ``dtype`` (what its tensor cores run for autocast: bf16; fp32 as torch's
    default leaves it, without TF32 for matrix products)."""
    import torch

    torch.set_num_threads(threads)
    sync = _synchronizer(device)
    a, b = (torch.randn(n, n, device=device, dtype=dtype or torch.float32) for _ in range(2))
    for _ in range(3):
        a @ b
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        sync()
        start = time.perf_counter()
        a @ b
        sync()
        best = max(best, 2 * n ** 3 / (time.perf_counter() - start))
    return best


def _synchronizer(device: str) -> Callable[[], None]:
    """What waits for the device's queued work: nothing on the CPU, ``torch.cuda.synchronize`` on a GPU."""
    import torch

    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def _timed(batches, step, seconds: float, sync: Callable[[], None] = lambda: None) -> float:
    """Images/s of ``step`` over the batches ``batches()`` yields (cycled), after the warm-up.
    ``sync`` runs after every step: on a GPU it waits for the step to finish, as reading the loss
    every step does in adlib's loop (``loss.item()``) and in the official codes' (``float(loss)``)."""
    done, it = 0, iter(())
    timed_images, start = 0, None
    while True:
        try:
            x = next(it)
        except StopIteration:
            it = iter(batches())
            continue
        step(x)
        sync()
        done += 1
        if done == WARMUP_STEPS:
            start = time.perf_counter()
        elif start is not None:
            timed_images += len(x)
            if time.perf_counter() - start >= seconds:
                return timed_images / (time.perf_counter() - start)


def run_adlib(name: str, n: int, seconds: float, memory_format: str | None = None,
              autocast: "torch.dtype | None" = None, device: str = "cpu") -> float:
    """adlib's step, the model in ``memory_format`` (default: the family's, as adlib's cpu-scale
    config has it); ``autocast``: a dtype to run the step under autocast. On the CPU one thread (one
    process per core); on a GPU the images as uint8 on the device, converted and augmented there,
    with the threads and cuDNN settings adlib's GPU runs have (:func:`adlib.sweep.sweep_threads`,
    :func:`adlib.train.seed_everything`)."""
    import torch

    from adlib.sweep import sweep_threads
    from adlib.train import ImagePipeline

    torch.set_num_threads(sweep_threads(torch.device(device).type))
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    family = FAMILIES[name]
    x_all = _images(family, n).to(device)
    pipeline = ImagePipeline(crop_padding=4 if family.cifar_augment else 0, hflip=family.cifar_augment)
    gen = torch.Generator().manual_seed(0)
    step = make_step(name, memory_format or family.memory_format, device)
    if autocast is not None:
        plain_step = step

        def step(x):
            with torch.autocast(torch.device(device).type, dtype=autocast):
                plain_step(x)
    bs = family.batch_size

    def batches():
        order = torch.randperm(len(x_all), generator=gen).to(device)
        for i in range(0, len(order) - bs + 1, bs):
            yield pipeline(x_all[order[i:i + bs]], train=True, generator=gen)

    return _timed(batches, step, seconds, _synchronizer(device))


def run_official_style(name: str, n: int, seconds: float, device: str = "cpu") -> float:
    """The official codes' way: a PIL image and transforms per item, a DataLoader, default threads,
    fp32. On a GPU as the OE code runs there: 4 loader workers with pinned memory (its
    ``--prefetch 4``), each batch copied to the device, ``cudnn.benchmark`` on."""
    import torch

    on_gpu = torch.device(device).type == "cuda"
    torch.backends.cudnn.benchmark = on_gpu
    loader = _official_loader(name, n, workers=4 if on_gpu else 0)  # built once; each pass over it reshuffles
    step = make_step(name, device=device)
    return _timed(lambda: (x.to(device, non_blocking=True) for x, _ in loader), step, seconds, _synchronizer(device))


def run_official_batches(name: str, n: int, seconds: float) -> float:
    """The official-style DataLoader alone: images/s of making the batches, no training step."""
    loader = _official_loader(name, n)
    return _timed(lambda: (x for x, _ in loader), lambda x: None, seconds)


def run_adlib_bf16(name: str, n: int, seconds: float, device: str = "cpu") -> float:
    """adlib's step under bf16 autocast: on the CPU a what-if (adlib's cpu scale trains in fp32),
    on a GPU how adlib trains (``TrainSpec.amp``)."""
    import torch

    return run_adlib(name, n, seconds, autocast=torch.bfloat16, device=device)


def _official_loader(name: str, n: int, workers: int = 0):
    import torch
    from PIL import Image
    from torchvision import transforms

    family = FAMILIES[name]
    arrays = _images(family, n).permute(0, 2, 3, 1).squeeze(-1).numpy()
    steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if family.cifar_augment else []
    transform = transforms.Compose([*steps, transforms.ToTensor()])

    class PILDataset(torch.utils.data.Dataset):  # torchvision's MNIST/CIFAR __getitem__
        def __len__(self):
            return len(arrays)

        def __getitem__(self, i):
            return transform(Image.fromarray(arrays[i])), 0

    return torch.utils.data.DataLoader(PILDataset(), batch_size=family.batch_size, shuffle=True, num_workers=workers,
                                       pin_memory=workers > 0, drop_last=True)


def run_adlib_channels_last(name: str, n: int, seconds: float) -> float:
    """What-if: adlib's step with the model in channels_last, whatever the family's config says."""
    return run_adlib(name, n, seconds, "channels_last")


def run_adlib_fp32(name: str, n: int, seconds: float, device: str = "cuda") -> float:
    """What-if on a GPU: adlib's step without mixed precision (fp32, as the official codes train)."""
    return run_adlib(name, n, seconds, device=device)


VARIANTS = {"adlib": run_adlib, "official-style": run_official_style, "adlib-channels-last": run_adlib_channels_last,
            "adlib-bf16": run_adlib_bf16, "official-batches": run_official_batches}
GPU_VARIANTS = {"official-style": run_official_style, "adlib-bf16": run_adlib_bf16, "adlib-fp32": run_adlib_fp32}
"""On a GPU: the official-style fp32 loop, adlib's step as adlib trains there (bf16 autocast) and
adlib's step in fp32 (what mixed precision brings)."""


REPEATED = {
    "cpu": (("official_images_per_s", "adlib_images_per_s", "adlib_sweep_images_per_s"), 2,
            "speedup_adlib_sweep", "fraction_of_matmul_rate"),
    "cuda": (("official_images_per_s", "adlib_images_per_s", "adlib_fp32_images_per_s"), 1,
             "speedup_adlib", "fraction_of_bf16_matmul_rate"),
}
"""Per device: the row's names of the three variants each repeat measures (the official-style loop
first, adlib's judged step second, the third the sweep on the CPU and the fp32 step on a GPU), which
of them the speed-up target judges against the first (the sweep on the CPU, the bf16 step on a GPU),
that speed-up's name, and the name of the fraction of the matrix-product rate (of the second)."""


def repeat_spread(measured: list[tuple[float, float, float]], flops: float, matmul: float,
                  device: str = "cpu") -> dict:
    """What the repeats of one family measured, beside the medians the row reports: each repeat's
    images/s of the three variants (:data:`REPEATED`) and the range over the repeats of the two
    quantities the targets judge, the speed-up (each repeat against the same repeat's official-style
    loop) and the fraction of the matrix-product rate ``matmul`` (fp32 on the CPU, bf16 on a GPU)."""
    columns, judged, speedup, fraction = REPEATED[device]
    speedups = [m[judged] / m[0] for m in measured]
    fractions = [flops * m[1] / matmul for m in measured]
    return {"repeats": {column: [m[i] for m in measured] for i, column in enumerate(columns)},
            f"{speedup}_range": [min(speedups), max(speedups)],
            f"{fraction}_range": [min(fractions), max(fractions)]}


def family_fields(name: str, flops: float) -> dict:
    """What every row, CPU or GPU, says of the family it measured: the paper, model, batch size,
    weights' memory format and FLOPs per image."""
    family = FAMILIES[name]
    return {"family": name, "paper": family.paper, "model": family.model, "batch_size": family.batch_size,
            "memory_format": family.memory_format, "flops_per_image": flops}


def gpu_row(name: str, flops: float, official: float, adlib: float, adlib_fp32: float,
            matmul_bf16: float) -> dict:
    """One family's GPU measurement: images/s of the three variants, adlib's speed-up over the
    official-style loop and over its own fp32 step, and the fraction of the GPU's bf16
    matrix-product rate adlib's step reaches (its FLOP/s, counted as on the CPU, ÷ that rate)."""
    return {**family_fields(name, flops), "official_images_per_s": official, "adlib_images_per_s": adlib,
            "adlib_fp32_images_per_s": adlib_fp32,
            "speedup_adlib": adlib / official, "speedup_mixed_precision": adlib / adlib_fp32,
            "fraction_of_bf16_matmul_rate": flops * adlib / matmul_bf16}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=4.0, help="timed stretch per variant and family")
    p.add_argument("--images", type=int, default=4096, help="images held in memory / in the dataset")
    p.add_argument("--repeats", type=int, default=3,
                   help="times the judged variants run per family, interleaved (CPU: official-style, adlib, sweep; "
                        "GPU: official-style, adlib-bf16, adlib-fp32); medians reported")
    p.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated, from {', '.join(FAMILIES)}")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: the GPU benchmark (mixed precision against the official-style fp32 loop)")
    p.add_argument("--output", type=Path, help="default: benchmarks/results/train_throughput[.cuda].json")
    p.add_argument("--variant", choices=[*VARIANTS, *GPU_VARIANTS, "matmul", "flops"], help=argparse.SUPPRESS)
    args = p.parse_args()
    names = [f.strip() for f in args.families.split(",") if f.strip()]
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1; got {args.repeats}")
    unknown = sorted(set(names) - set(FAMILIES))
    if unknown:
        p.error(f"unknown families {unknown}; valid: {', '.join(FAMILIES)}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            p.error(f"--device cuda: no CUDA GPU is available here (torch {torch.__version__}); run it on a machine "
                    "with an NVIDIA GPU, or leave --device out for the CPU benchmark")
    output = args.output or HERE / "results" / ("train_throughput.json" if args.device == "cpu"
                                                else "train_throughput.cuda.json")
    if args.variant == "matmul":
        import torch

        value = (matmul_rate() if args.device == "cpu" else
                 {dt: matmul_rate(4, 8192, device="cuda", dtype=getattr(torch, dt)) for dt in ("bfloat16", "float32")})
        print(json.dumps({"value": value}))
        return 0
    if args.variant == "flops":
        print(json.dumps({"value": flops_per_image(names[0])}))
        return 0
    if args.variant:
        run = (VARIANTS if args.device == "cpu" else GPU_VARIANTS)[args.variant]
        kwargs = {} if args.device == "cpu" else {"device": "cuda"}
        print(json.dumps({"value": run(names[0], args.images, args.seconds, **kwargs)}))
        return 0

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS"):  # every variant starts from torch's defaults
        env.pop(var, None)
    env["ADLIB_PROGRESS"] = "0"

    def launch(variant: str, family: str = "") -> subprocess.Popen:
        return subprocess.Popen([sys.executable, __file__, "--variant", variant, "--families", family or names[0],
                                 "--images", str(args.images), "--seconds", str(args.seconds),
                                 "--device", args.device], env=env, stdout=subprocess.PIPE, text=True)

    def result(proc: subprocess.Popen):
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"benchmark subprocess {proc.args} failed with exit code {proc.returncode}")
        return json.loads(out.strip().splitlines()[-1])["value"]

    command = "python benchmarks/train_throughput.py" + "".join(
        f" --{k} {v}" for k, v in (("seconds", args.seconds), ("images", args.images), ("device", args.device),
                                   ("repeats", args.repeats)) if v != p.get_default(k))
    if args.device == "cuda":
        return _main_gpu(names, launch, result, output, args, command)
    workers = os.cpu_count() or 1
    matmul = result(launch("matmul"))
    print(f"matrix product, 1 thread: {matmul / 1e9:.1f} GFLOP/s", flush=True)
    rows = []
    for name in names:
        family = FAMILIES[name]
        flops = result(launch("flops", name))
        measured = []  # per repeat: official-style, adlib 1 thread, adlib sweep (interleaved: drifts hit all three)
        for _ in range(args.repeats):
            official = result(launch("official-style", name))
            single = result(launch("adlib", name))
            procs = [launch("adlib", name) for _ in range(workers)]
            measured.append((official, single, sum(result(proc) for proc in procs)))
        official, single, sweep = (statistics.median(m[i] for m in measured) for i in range(3))
        channels_last = single if family.memory_format == "channels_last" else result(launch("adlib-channels-last", name))
        bf16 = result(launch("adlib-bf16", name))
        batches = result(launch("official-batches", name))
        row = {**family_fields(name, flops), "official_images_per_s": official, "adlib_images_per_s": single,
               "adlib_sweep_images_per_s": sweep,
               "speedup_adlib_1_thread": single / official, "speedup_adlib_sweep": sweep / official,
               "fraction_of_matmul_rate": flops * single / matmul,
               "adlib_channels_last_images_per_s": channels_last,
               "speedup_channels_last_1_thread": channels_last / single,
               "official_batches_images_per_s": batches, "official_batch_share": official / batches,
               "adlib_bf16_images_per_s": bf16, "speedup_bf16_1_thread": bf16 / single,
               **repeat_spread(measured, flops, matmul)}
        rows.append(row)
        low, high = row["speedup_adlib_sweep_range"]
        print(f"{name:>14}: official {official:8.0f} img/s | adlib 1 thread {single:8.0f} ({single / official:.2f}x) | "
              f"adlib sweep {workers}x1 {sweep:8.0f} ({sweep / official:.2f}x, repeats {low:.2f}-{high:.2f}x) | "
              f"{flops / 1e6:8.1f} MFLOP/img, {100 * row['fraction_of_matmul_rate']:.0f}% of matmul rate | "
              f"channels_last {channels_last / single:.2f}x, bf16 {bf16 / single:.2f}x adlib's | "
              f"official loop {100 * official / batches:.0f}% in making batches", flush=True)
    import torch

    from _record import machine, now, write_measurement

    record = {"workers": workers, "seconds_per_variant": args.seconds, "images": args.images, "repeats": args.repeats,
              "matmul_flops_per_s_1_thread": matmul, "families": rows, "command": command,
              "machine": machine(), "torch": torch.__version__, "created": now()}
    write_measurement(output, record, complete=set(names) == set(FAMILIES), what="families")
    return 0


def _main_gpu(names: list[str], launch, result, output: Path, args, command: str) -> int:
    """The GPU benchmark: per family the official-style fp32 loop, adlib's bf16-autocast step and its
    fp32 step, one process each, one after another (the GPU is shared by nothing else), the three
    interleaved ``--repeats`` times; the row reports their medians and :func:`repeat_spread`."""
    import torch

    from _record import machine, now, write_measurement

    matmul = result(launch("matmul"))
    print(f"matrix product on {torch.cuda.get_device_name(0)}: bf16 {matmul['bfloat16'] / 1e12:.1f} TFLOP/s, "
          f"fp32 {matmul['float32'] / 1e12:.1f} TFLOP/s", flush=True)
    rows = []
    for name in names:
        flops = result(launch("flops", name))
        measured = [tuple(result(launch(variant, name)) for variant in ("official-style", "adlib-bf16", "adlib-fp32"))
                    for _ in range(args.repeats)]
        medians = (statistics.median(m[i] for m in measured) for i in range(3))
        row = {**gpu_row(name, flops, *medians, matmul["bfloat16"]),
               **repeat_spread(measured, flops, matmul["bfloat16"], "cuda")}
        rows.append(row)
        low, high = row["speedup_adlib_range"]
        print(f"{name:>14}: official fp32 {row['official_images_per_s']:9.0f} img/s | adlib bf16 "
              f"{row['adlib_images_per_s']:9.0f} ({row['speedup_adlib']:.2f}x, repeats {low:.2f}-{high:.2f}x) | "
              f"adlib fp32 {row['adlib_fp32_images_per_s']:9.0f} (bf16 {row['speedup_mixed_precision']:.2f}x it) | "
              f"{100 * row['fraction_of_bf16_matmul_rate']:.1f}% of the bf16 matmul rate", flush=True)
    record = {"device": "cuda", "gpu": torch.cuda.get_device_name(0), "seconds_per_variant": args.seconds,
              "images": args.images, "repeats": args.repeats, "matmul_flops_per_s_bf16": matmul["bfloat16"],
              "matmul_flops_per_s_fp32": matmul["float32"], "families": rows, "command": command,
              "machine": machine(), "torch": torch.__version__, "cuda": torch.version.cuda, "created": now()}
    write_measurement(output, record, complete=set(names) == set(FAMILIES), what="families")
    return 0


if __name__ == "__main__":
    sys.exit(main())
