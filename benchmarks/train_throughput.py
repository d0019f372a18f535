"""Training throughput: adlib's loop against a loop written the way the official code does it.

Same model (the OE code's MNIST ConvNet), same data (Fashion-MNIST apparel, 6 classes), same
optimiser and batch size (SGD Nesterov, batch 50), one epoch each, in one run:

* ``official-style``: a ``torch.utils.data.DataLoader`` over a torchvision-style dataset that
  decodes every image through PIL and ``transforms.ToTensor()`` per item, fp32, torch's default
  threading (what ``python train.py`` does on a 2-core machine with no environment tuning).
* ``adlib``: :func:`adlib.train.train_classifier`: images held as one uint8 tensor in memory,
  batches sliced and converted on the fly, one torch thread (how adlib's sweeps run: one
  process per core).

Each variant runs in its own subprocess so that thread settings do not leak between them.
Reports images/s and the ratio; writes ``benchmarks/results/train_throughput.json``.

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


def _data(n: int):
    import torch

    from adlib.data.images import load_fashion_mnist

    x, y = load_fashion_mnist("train")
    keep = torch.isin(y, torch.tensor([0, 1, 2, 3, 4, 6]))
    x, y = x[keep][:n], y[keep][:n]
    lut = torch.full((10,), -1, dtype=torch.long)
    lut[torch.tensor([0, 1, 2, 3, 4, 6])] = torch.arange(6)
    return x, lut[y]


def run_adlib(n: int) -> float:
    import torch

    from adlib.models import create_model
    from adlib.train import TrainSpec, train_classifier

    torch.set_num_threads(1)
    x, y = _data(n)
    torch.manual_seed(0)
    model = create_model("mnist_convnet", num_classes=6)
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
    start = time.perf_counter()
    for data, target in loader:
        loss = F.cross_entropy(model(data), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return len(arrays) / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=12000)
    p.add_argument("--variant", choices=["adlib", "official-style"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:
        fn = run_adlib if args.variant == "adlib" else run_official_style
        print(json.dumps({"images_per_s": fn(args.images)}))
        return 0
    results = {}
    for variant in ("official-style", "adlib"):
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"):  # the official-style run gets torch's defaults
            env.pop(var, None)
        out = subprocess.run([sys.executable, __file__, "--variant", variant, "--images", str(args.images)],
                             env=env, check=True, capture_output=True, text=True).stdout
        results[variant] = json.loads(out.strip().splitlines()[-1])["images_per_s"]
        print(f"{variant:>15}: {results[variant]:8.0f} images/s", flush=True)
    ratio = results["adlib"] / results["official-style"]
    print(f"{'ratio':>15}: {ratio:8.2f}x (adlib / official-style)")
    import torch

    record = {"images": args.images, "images_per_s": results, "ratio_adlib_over_official": ratio,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
              "torch": torch.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out_path = HERE / "results" / "train_throughput.json"
    out_path.parent.mkdir(exist_ok=True)
    out_path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
