"""The measurements page: peak memory sampling, the benchmark scripts' steps and FLOP counts, and the
frames the page builds from what they write."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from adlib.measurements import (MATMUL_FRACTION_TARGET, SPEEDUP_TARGET, book_time_frame, memory_frame,
                                plot_throughput, throughput_frame)
from adlib.memory import PeakTreeMemory, tree_rss_bytes

REPO = Path(__file__).resolve().parents[1]


def _load(name: str):
    module_name = f"benchmarks_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_peak_tree_memory_sees_a_child_that_holds_memory_briefly():
    before = tree_rss_bytes()
    with PeakTreeMemory(interval=0.05) as memory:
        subprocess.run([sys.executable, "-c", "import time; b = b'x' * (300 * 2**20); time.sleep(0.6)"], check=True)
    assert memory.peak_bytes - before > 250 * 2**20  # the child's 300 MiB, counted in this process's tree
    assert tree_rss_bytes() < memory.peak_bytes  # and gone once it exited
    with PeakTreeMemory(interval=0.05, include_root=False) as children:
        subprocess.run([sys.executable, "-c", "import time; b = b'x' * (300 * 2**20); time.sleep(0.6)"], check=True)
    assert 250 * 2**20 < children.peak_bytes < memory.peak_bytes - before + 100 * 2**20  # the child alone
    assert tree_rss_bytes(include_root=False) < tree_rss_bytes()
    with pytest.raises(ValueError, match="interval"):
        PeakTreeMemory(interval=0)


@pytest.mark.parametrize("family", ["lenet", "lenet_tiny", "mnist_convnet", "small_convnet", "adcgan", "pixelcnn"])
def test_each_benchmark_step_trains_its_model_and_counts_its_flops(family):
    import torch

    bench = _load("train_throughput")
    torch.set_num_threads(1)
    f = bench.FAMILIES[family]
    step = bench.make_step(family)
    x = torch.rand(8, *f.shape)
    step(x)  # one step runs: shapes, objective and optimiser fit together
    flops = bench.flops_per_image(family)
    assert flops > 1e5  # a conv net's step is not free; a miscounted step (no backward, no convs) would be


def test_benchmark_rejects_an_unknown_family():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_throughput.py"), "--families", "vgg"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "unknown families ['vgg']" in out.stderr


def _throughput_record():
    fam = {"family": "lenet", "paper": "ruff2021", "model": "m", "batch_size": 128, "flops_per_image": 2e7,
           "official_images_per_s": 1000.0, "adlib_images_per_s": 1500.0, "adlib_sweep_images_per_s": 2800.0,
           "speedup_adlib_1_thread": 1.5, "speedup_adlib_sweep": 2.8, "fraction_of_matmul_rate": 0.3}
    return {"workers": 2, "families": [fam], "seconds_per_variant": 4.0, "command": "python benchmarks/x.py",
            "matmul_flops_per_s_1_thread": 1e11, "machine": {"cpu_count": 2, "platform": "p"}, "torch": "t",
            "created": "now"}


def test_throughput_frame_and_plot_show_the_measured_ratios_against_the_targets():
    import matplotlib

    matplotlib.use("agg")
    record = _throughput_record()
    frame = throughput_frame(record)
    row = frame.iloc[0]
    assert (row["speed-up, 2 processes"], row["% of matmul rate (1 thread)"], row["MFLOP / image (fwd+bwd)"]) == (2.8, 30, 20.0)
    fig = plot_throughput(frame, 2)
    ax_speed, ax_frac = fig.axes
    assert [round(p.get_height(), 2) for p in ax_speed.patches] == [1.5, 2.8]
    assert SPEEDUP_TARGET in [line.get_ydata()[0] for line in ax_speed.lines]
    assert 100 * MATMUL_FRACTION_TARGET in [line.get_ydata()[0] for line in ax_frac.lines]


def test_memory_frame_bounds_a_notebook_by_kernel_plus_one_run_per_worker():
    record = {"workers": 2, "runs": [
        {"paper": "rafiee2021", "run": "adcgan/x", "stored_wall_time_s": 90.0, "peak_bytes": 700 * 2**20,
         "notebook": "table2", "kernel_peak_bytes": 400 * 2**20},
        {"paper": "ahmed2020", "run": "holdout/y", "stored_wall_time_s": 80.0, "peak_bytes": 1600 * 2**20,
         "notebook": "holdout", "kernel_peak_bytes": 1000 * 2**20}]}
    frame = memory_frame(record).set_index("paper")
    assert frame.loc["rafiee2021", "kernel + 2 runs (MiB)"] == 400 + 2 * 700
    assert frame.loc["rafiee2021", "under 4 GiB"] and not frame.loc["ahmed2020", "under 4 GiB"]


def test_book_time_frame_totals_the_seconds_and_keeps_the_largest_peak(tmp_path):
    import json

    import pandas as pd

    from adlib.book import write_book_times

    table = pd.DataFrame([{"notebook": "a.ipynb", "seconds": 10.0, "peak memory (MiB)": 300},
                          {"notebook": "b.ipynb", "seconds": 5.5, "peak memory (MiB)": 900}])
    path = tmp_path / "times.json"
    write_book_times(path, table, scale="cpu", force=True, total_seconds=16.0)
    record = json.loads(path.read_text())
    assert record["command"] == "make book FORCE=1" and record["provenance"]["git_commit"]
    frame = book_time_frame(record).set_index("notebook")
    assert frame.loc["all", "seconds"] == 15.5 and frame.loc["all", "peak memory (MiB)"] == 900
