"""Training throughput: adlib's loop against a loop written the way the official code does it.

Same model (the OE code's MNIST ConvNet), same data (Fashion-MNIST apparel, 6 classes), same
optimiser and batch size (SGD Nesterov, batch 50), one timed epoch each after a short warm-up,
in one run:

* ``official-style``: a ``torch.utils.data.DataLoader`` over a torchvision-style dataset that
  decodes every image through PIL and ``transforms.ToTensor()`` per item, fp32, torch's default
  threading (what ``python train.py`` does on a 2-core machine with no environment tuning).
* ``adlib``: :func:`adlib.train.train_classifier`: images held as one uint8 tensor in memory,
  batches sliced and converted on the fly, one torch thread (how adlib's sweeps run: one
  process per core).

Each variant runs in its own subprocess so that thread settings do not leak between them; the
last one runs one adlib process per core at once and reports their total, which is how a sweep
of independent runs uses the machine. Reports images/s and ratios to the official-style loop;
writes ``benchmarks/results/train_throughput.json``.

    python benchmarks/train_throughput.py [--images 12000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WARMUP = 1000  # images trained on before timing (first-call allocations and kernel selection)


def _data(n: int):
    import torch

    from adlib.data.images import load_fashion_mnist

    x, y = load_fashion_mnist("train")
    keep = torch.isin(y, torch.tensor([0, 1, 2, 3, 4, 6]))
    x, y = x[keep][:n], y[keep][:n]
    lut = torch.full((10,), -1, dtype=torch.long)
    lut[torch.tensor([0, 1, 2, 3, 4, 6])] = torch.arange(6)
    return x, lut[y]


def run_adlib(n: int, threads: int = 1) -> float:
    import torch

    from adlib.models import create_model
    from adlib.train import TrainSpec, train_classifier

    torch.set_num_threads(threads)
    x, y = _data(n)
    torch.manual_seed(0)
    model = create_model("mnist_convnet", num_classes=6)
    train_classifier(model, x[:WARMUP], y[:WARMUP], TrainSpec(epochs=1, batch_size=50), seed=0, progress=False)
    start = time.perf_counter()
    train_classifier(model, x, y, TrainSpec(epochs=1, batch_size=50), seed=0, progress=False)
    return len(x) / (time.perf_counter() - start)


def run_official_style(n: int) -> float:
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torchvision import transforms

    from adlib.models import create_model

    x, y = _data(n)
    arrays, labels = x.numpy(), y.tolist()

    class PILDataset(torch.utils.data.Dataset):  # torchvision's MNIST-family __getitem__
        transform = transforms.ToTensor()

        def __len__(self):
            return len(arrays)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(arrays[i], mode="L")), labels[i]

    loader = torch.utils.data.DataLoader(PILDataset(), batch_size=50, shuffle=True, num_workers=0)
    torch.manual_seed(0)
    model = create_model("mnist_convnet", num_classes=6)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model.train()

    def epoch(limit: int | None = None) -> None:
        for i, (data, target) in enumerate(loader):
            if limit is not None and i * 50 >= limit:
                break
            loss = F.cross_entropy(model(data), target)
            opt.zero_grad()
            loss.backward()
            opt.step()

    epoch(WARMUP)
    start = time.perf_counter()
    epoch()
    return len(arrays) / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=12000)
    p.add_argument("--variant", choices=["adlib", "adlib-default-threads", "official-style"],
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        fn = {"adlib": run_adlib, "adlib-default-threads": lambda n: run_adlib(n, threads=os.cpu_count() or 1),
              "official-style": run_official_style}[args.variant]
        print(json.dumps({"images_per_s": fn(args.images)}))
        return 0
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"):  # every variant starts from torch's defaults
        env.pop(var, None)

    def launch(variant: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, __file__, "--variant", variant, "--images", str(args.images)],
                                env=env, stdout=subprocess.PIPE, text=True)

    def result(proc: subprocess.Popen) -> float:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"benchmark subprocess failed with exit code {proc.returncode}")
        return json.loads(out.strip().splitlines()[-1])["images_per_s"]

    results: dict[str, float] = {}
    labels = {"official-style": "official-style loop, 1 process, default threads",
              "adlib-default-threads": "adlib, 1 process, one thread per core",
              "adlib": "adlib, 1 process, 1 thread"}
    for variant in ("official-style", "adlib-default-threads", "adlib"):
        results[labels[variant]] = result(launch(variant))
    workers = os.cpu_count() or 1
    procs = [launch("adlib") for _ in range(workers)]  # how adlib's sweeps run: one process per core
    results[f"adlib sweep, {workers} processes x 1 thread (total)"] = sum(result(p) for p in procs)
    base = results[labels["official-style"]]
    for name, ips in results.items():
        print(f"{name:>52}: {ips:8.0f} images/s  ({ips / base:.2f}x)", flush=True)
    ratio = results[f"adlib sweep, {workers} processes x 1 thread (total)"] / base
    import torch

    record = {"images": args.images, "images_per_s": results, "ratio_adlib_sweep_over_official": ratio,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
              "torch": torch.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out_path = HERE / "results" / "train_throughput.json"
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
