"""The measurements page: peak memory sampling, the benchmark scripts' steps and FLOP counts, and the
frames the page builds from what they write."""

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from adlib.measurements import (MATMUL_FRACTION_TARGET, SPEEDUP_TARGET, book_time_frame, memory_frame,
                                plot_throughput, throughput_frame)
from adlib.memory import PeakTreeMemory, tree_memory

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
    before = tree_memory().resident
    with PeakTreeMemory(interval=0.05) as memory:
        subprocess.run([sys.executable, "-c", "import time; b = b'x' * (300 * 2**20); time.sleep(0.6)"], check=True)
    assert memory.peak_bytes - before > 250 * 2**20  # the child's 300 MiB, counted in this process's tree
    assert tree_memory().resident < memory.peak_bytes  # and gone once it exited
    with PeakTreeMemory(interval=0.05, include_root=False) as children:
        subprocess.run([sys.executable, "-c", "import time; b = b'x' * (300 * 2**20); time.sleep(0.6)"], check=True)
    assert 250 * 2**20 < children.peak_bytes < memory.peak_bytes - before + 100 * 2**20  # the child alone
    assert tree_memory(include_root=False).resident < tree_memory().resident
    with pytest.raises(ValueError, match="interval"):
        PeakTreeMemory(interval=0)


def test_tree_memory_counts_the_libraries_every_process_maps_once():
    code = "import time, torch; x = torch.ones(2**25); time.sleep(8)"  # 128 MiB of its own beside libtorch
    children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    try:
        import time

        import psutil

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                psutil.Process(c.pid).memory_info().rss > 300 * 2**20 for c in children):
            time.sleep(0.2)
        tree = tree_memory(include_root=False)
        one = [psutil.Process(c.pid).memory_info() for c in children]
        assert tree.rss_sum >= sum(m.rss for m in one) - 50 * 2**20
        shared = min(m.shared for m in one)
        assert shared > 100 * 2**20  # torch's libraries, resident in each
        assert tree.resident < tree.rss_sum - shared + 50 * 2**20  # counted once, not twice
        assert tree.resident > sum(m.rss - m.shared for m in one) - 50 * 2**20  # each one's own memory is all there
    finally:
        for c in children:
            c.kill()
            c.wait()
    alone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])  # no children of its own
    try:
        single = tree_memory(alone.pid)
        assert single.resident == single.rss_sum > 0  # one process: its resident set
    finally:
        alone.kill()
        alone.wait()


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


def test_benchmark_families_use_the_memory_format_of_their_papers_cpu_configs():
    from adlib.papers.ahmed2020 import experiments as ahmed
    from adlib.papers.rafiee2021 import experiments as rafiee
    from adlib.papers.ruff2021 import experiments as ruff
    from adlib.papers.singh2021 import experiments as singh

    bench = _load("train_throughput")
    cpu_model = {"lenet": ruff.run_config("cpu", "bce", 0, 0)["model"],
                 "adcgan": rafiee.table_configs("cpu", [0])[0]["model"],
                 "small_convnet": ahmed.run_config("cpu", "fmnist", 0, "classification", 0)["model"],
                 "lenet_tiny": singh.run_config("cpu", "deepmad", [2, 7], 0)["model"]}
    for family, model in cpu_model.items():
        assert bench.FAMILIES[family].memory_format == model.get("memory_format", "contiguous"), family


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


def test_throughput_summary_says_which_families_miss_a_target_and_by_how_much():
    from adlib.measurements import throughput_summary

    record = _throughput_record()
    fast = dict(record["families"][0], family="mnist_convnet", speedup_adlib_sweep=3.5, fraction_of_matmul_rate=0.1)
    record["families"].append(fast)
    text = throughput_summary(record)
    assert "met by mnist_convnet (3.50×); not met by lenet (2.80×, 0.93 of the target)" in text
    assert "met by lenet (30 %); not met by mnist_convnet (10 %, 0.40 of the target)" in text
    assert "making batches" not in text  # a record without the data-path variant
    # 3× of 1,000 img/s at 20 MFLOP each is 60 GFLOP/s: 30 % of 2 cores at 100 GFLOP/s each
    assert "lenet 30 %, mnist_convnet 30 %: within the matrix-product rate" in text
    assert "no fp32 step reaches" not in text
    assert list(throughput_frame(record)["3× would need (% of the 2-core matmul rate)"]) == [30, 30]
    record["families"][1] = dict(fast, official_images_per_s=4000.0)  # 240 GFLOP/s: beyond the two cores
    text = throughput_summary(record)
    assert ("mnist_convnet 120 %: more than the matrix product itself, so no fp32 step reaches 3× for this family "
            "on this machine; lenet 30 %: within") in text
    record["families"][1] = fast
    for fam, share in zip(record["families"], (0.2, 0.6)):
        fam.update(official_batch_share=share, speedup_bf16_1_thread=1.5)
    assert "lenet 20 % (at most 1.25×), mnist_convnet 60 % (at most 2.50×)" in throughput_summary(record)
    assert list(throughput_frame(record)["official: % of time making batches"]) == [20, 60]


def test_repeats_give_each_family_a_range_and_the_summary_says_which_verdicts_are_within_the_noise():
    from adlib.measurements import throughput_caption, throughput_summary

    bench = _load("train_throughput")
    # three repeats of (official-style, adlib 1 thread, adlib sweep), images/s
    spread = bench.repeat_spread([(1000.0, 1500.0, 2800.0), (900.0, 1400.0, 2800.0), (1000.0, 1700.0, 3200.0)],
                                 flops=2e7, matmul=1e11)
    assert spread["speedup_adlib_sweep_range"] == [2.8, 3.2]
    assert spread["fraction_of_matmul_rate_range"] == [pytest.approx(0.28), pytest.approx(0.34)]
    assert spread["repeats"]["official_images_per_s"] == [1000.0, 900.0, 1000.0]
    record = _throughput_record()
    record["repeats"] = 3
    record["families"][0].update(spread)
    text = throughput_summary(record)
    assert "lenet (2.80×, 2.80× to 3.20× over the repeats, 0.93 of the target)" in text
    assert "the repeats of lenet fall on both sides of a target" in text
    row = throughput_frame(record).iloc[0]
    assert row["speed-up, 2 processes, over the repeats"] == "2.80–3.20"
    assert row["% of matmul rate, over the repeats"] == "28–34"
    assert "medians of 3 interleaved repeats" in throughput_caption(record)
    record["families"][0]["speedup_adlib_sweep_range"] = [3.1, 3.4]
    record["families"][0]["fraction_of_matmul_rate_range"] = [0.3, 0.4]
    assert "no family's repeats fall on both sides of a target" in throughput_summary(record)


def test_benchmark_rejects_fewer_than_one_repeat():
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_throughput.py"), "--repeats", "0"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "--repeats must be at least 1" in out.stderr


def test_benchmark_variants_time_the_data_path_alone_and_the_bf16_what_if():
    import torch

    bench = _load("train_throughput")
    threads = torch.get_num_threads()
    try:
        batches = bench.run_official_batches("lenet_tiny", 256, 0.2)
        bf16 = bench.run_adlib_bf16("lenet_tiny", 256, 0.2)
    finally:
        torch.set_num_threads(threads)
    assert batches > 0 and bf16 > 0
    assert set(bench.VARIANTS) >= {"official-batches", "adlib-bf16"}


def test_gpu_benchmark_says_clearly_that_it_needs_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the benchmark would run")
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "train_throughput.py"), "--device", "cuda",
                          "--families", "lenet"], capture_output=True, text=True)
    assert out.returncode == 2 and "no CUDA GPU is available here" in out.stderr


def test_gpu_benchmark_records_mixed_precision_against_the_official_loop_and_the_bf16_peak(monkeypatch, tmp_path):
    """The GPU run's bookkeeping, with the subprocesses' numbers made up (no GPU here): one row per
    family, its ratios, and the page's frame and caption from the file it writes."""
    import argparse
    import json

    import torch

    from adlib.measurements import gpu_throughput_caption, gpu_throughput_frame

    bench = _load("train_throughput")
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Test GPU 80GB")
    made_up = {"matmul": {"bfloat16": 5e14, "float32": 5e13}, "flops": 1e9, "official-style": [1000.0] * 3,
               "adlib-bf16": [4000.0, 3000.0, 5000.0], "adlib-fp32": [2000.0, 1500.0, 2500.0]}
    launched = []

    def launch(variant, family=""):
        launched.append(variant)
        return variant, launched.count(variant) - 1

    def result(proc):  # the n-th launch of a variant (per family, so modulo the repeats) gives its n-th number
        variant, n = proc
        value = made_up[variant]
        return value[n % 3] if isinstance(value, list) else value

    out = tmp_path / "train_throughput.cuda.json"
    args = argparse.Namespace(seconds=1.0, images=256, repeats=3)
    assert bench._main_gpu(list(bench.FAMILIES), launch, result, out, args, "cmd --device cuda") == 0
    assert set(launched) == set(made_up) and launched.count("adlib-bf16") == 3 * len(bench.FAMILIES)
    assert launched[2:5] == ["official-style", "adlib-bf16", "adlib-fp32"]  # interleaved, not one variant 3 times
    record = json.loads(out.read_text())
    assert record["gpu"] == "Test GPU 80GB" and record["matmul_flops_per_s_bf16"] == 5e14 and record["repeats"] == 3
    row = record["families"][0]
    assert (row["speedup_adlib"], row["speedup_mixed_precision"]) == (4.0, 2.0)  # medians
    assert row["fraction_of_bf16_matmul_rate"] == pytest.approx(1e9 * 4000 / 5e14)
    assert row["speedup_adlib_range"] == [3.0, 5.0] and row["repeats"]["adlib_fp32_images_per_s"] == [2000, 1500, 2500]
    assert row["fraction_of_bf16_matmul_rate_range"] == [pytest.approx(0.006), pytest.approx(0.01)]
    frame = gpu_throughput_frame(record)
    assert list(frame.family) == list(bench.FAMILIES)
    assert frame.iloc[0]["% of bf16 matmul rate"] == 0.8 and frame.iloc[0]["speed-up over official"] == 4.0
    assert frame.iloc[0]["speed-up, over the repeats"] == "3.00–5.00"
    assert frame.iloc[0]["% of bf16 matmul rate, over the repeats"] == "0.6–1.0"
    caption = gpu_throughput_caption(record)
    assert "Test GPU 80GB" in caption and "bf16 500 TFLOP/s" in caption and "medians of 3 interleaved repeats" in caption


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true:UserWarning")
def test_benchmark_waits_for_the_device_after_every_step_and_loads_with_workers():
    """On a GPU the timing must wait for each step (``sync``), and the official-style loader runs
    with worker processes there; both paths, exercised on the CPU."""
    import torch

    bench = _load("train_throughput")
    waits, steps = [], []
    rate = bench._timed(lambda: iter([torch.zeros(4, 1)] * 8), steps.append, 0.05, sync=lambda: waits.append(1))
    assert rate > 0 and len(waits) == len(steps) > bench.WARMUP_STEPS
    loader = bench._official_loader("lenet_tiny", 96, workers=2)
    shapes = {tuple(x.shape) for x, _ in loader}
    assert shapes == {(32, 1, 28, 28)} and loader.num_workers == 2


def test_memory_frame_bounds_a_notebook_by_kernel_plus_one_run_per_worker():
    record = {"workers": 2, "runs": [
        {"paper": "rafiee2021", "run": "adcgan/x", "stored_wall_time_s": 90.0, "peak_bytes": 700 * 2**20,
         "notebook": "table2", "kernel_peak_bytes": 400 * 2**20},
        {"paper": "ahmed2020", "run": "holdout/y", "stored_wall_time_s": 80.0, "peak_bytes": 1600 * 2**20,
         "notebook": "holdout", "kernel_peak_bytes": 1000 * 2**20}]}
    frame = memory_frame(record).set_index("paper")
    assert frame.loc["rafiee2021", "kernel + 2 runs (MiB)"] == 400 + 2 * 700
    assert frame.loc["rafiee2021", "under 4 GiB"] and not frame.loc["ahmed2020", "under 4 GiB"]


def test_peak_memory_of_some_papers_replaces_their_rows_only_on_the_same_kind_of_machine():
    import sys

    from adlib.results import REPO_ROOT

    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    from peak_memory import merge_into

    from adlib.measurements import memory_caption

    def row(paper, mib, **extra):
        return {"paper": paper, "run": "e/m", "stored_wall_time_s": 1.0, "peak_bytes": mib * 2**20,
                "notebook": "nb", "kernel_peak_bytes": 100 * 2**20, **extra}

    machine = {"platform": "Linux-x", "cpu_count": 2}
    old = {"workers": 2, "machine": machine, "created": "2026-01-01T00:00:00Z", "command": "python benchmarks/peak_memory.py",
           "runs": [row("a", 500), row("b", 600), row("c", 700)]}
    new = {"workers": 2, "machine": {**machine, "cpu_model": "AMD EPYC"}, "created": "2026-02-02T00:00:00Z",
           "command": "python benchmarks/peak_memory.py --papers b",
           "runs": [row("b", 300, created="2026-02-02T00:00:00Z", command="python benchmarks/peak_memory.py --papers b")]}
    merged, complete = merge_into(old, new, ["a", "b", "c"])
    assert complete and [r["paper"] for r in merged["runs"]] == ["a", "b", "c"]
    assert [round(r["peak_bytes"] / 2**20) for r in merged["runs"]] == [500, 300, 700]
    assert [r["created"][:7] for r in merged["runs"]] == ["2026-01", "2026-02", "2026-01"]
    assert "its own time" in memory_caption(merged)
    assert "measured" in memory_frame(merged).columns
    other_machine = {**old, "machine": {"platform": "Linux-y", "cpu_count": 2}}
    alone, complete = merge_into(other_machine, new, ["a", "b", "c"])
    assert not complete and [r["paper"] for r in alone["runs"]] == ["b"]  # not written: a subset
    assert merge_into(None, new, ["b"])[1]


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


def test_book_pages_of_some_papers_are_their_chapters_only():
    from adlib.book import book_pages

    pages = book_pages(Path("/x"), papers=["ruff2021"])
    assert pages and {p.output.parent.name for p in pages} == {"ruff2021"}
    assert pages[0].output.name == "index.ipynb"
    assert "measurements.ipynb" in {p.output.name for p in book_pages(Path("/x"))}
    with pytest.raises(ValueError, match="unknown paper.*nope"):
        book_pages(Path("/x"), papers=["ruff2021", "nope"])


def test_a_forced_build_of_some_papers_records_one_time_table_per_paper(tmp_path, monkeypatch):
    import json

    import adlib.book as book

    executed = []
    monkeypatch.setattr(book, "execute_notebook", lambda source, output, params, title=None: executed.append(
        (output, params)))
    monkeypatch.setattr(book, "paper_book_times_path", lambda paper: tmp_path / f"book_times.{paper}.json")
    monkeypatch.setenv("ADLIB_FORCE_SINCE", "2026-01-01T00:00:00Z")
    table = book.execute_book("cpu", force=True, executed_dir=tmp_path / "executed",
                              papers=["rafiee2021", "ruff2021"])
    assert set(table.paper) == {"rafiee2021", "ruff2021"}
    assert all(params["force"] is True for output, params in executed if output.name != "index.ipynb")
    written = sorted(p.name for p in tmp_path.glob("book_times.*.json"))
    assert written == ["book_times.rafiee2021.json", "book_times.ruff2021.json"]
    record = json.loads((tmp_path / "book_times.ruff2021.json").read_text())
    assert record["command"] == "make book FORCE=1 PAPERS=ruff2021" and record["papers"] == ["ruff2021"]
    assert {Path(r["notebook"]).parent.name for r in record["notebooks"]} == {"ruff2021"}
    assert len(record["notebooks"]) == int((table.paper == "ruff2021").sum())


def _stored_run(root: Path, paper: str, name: str, wall_time_s: float, scale: str = "cpu") -> None:
    import json

    path = root / paper / "exp" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": {"scale": scale}, "provenance": {"wall_time_s": wall_time_s}}))


def test_forced_build_frame_takes_a_measured_paper_and_estimates_the_others(tmp_path):
    import pandas as pd

    from adlib.book import write_book_times
    from adlib.measurements import forced_build_frame, forced_build_summary

    for i in range(4):
        _stored_run(tmp_path, "ruff2021", f"r{i}", 600.0)  # 40 min of runs: 20 min on 2 workers
    _stored_run(tmp_path, "singh2021", "s0", 2400.0)  # 20 min on 2 workers
    _stored_run(tmp_path, "singh2021", "smoke", 9999.0, scale="smoke")  # another scale: not counted
    table = pd.DataFrame([{"paper": "ruff2021", "notebook": "ruff2021/a.ipynb", "seconds": 1500.0,
                           "peak memory (MiB)": 500}])
    write_book_times(tmp_path / "book_times.ruff2021.json", table, scale="cpu", force=True, total_seconds=1500.0,
                     papers=["ruff2021"])
    frame = forced_build_frame("cpu", workers=2, results_root=tmp_path).set_index("paper")
    assert frame.loc["ruff2021", "measured (min)"] == 25.0
    assert frame.loc["ruff2021", "estimate from stored runs (min)"] == 20.0
    assert pd.isna(frame.loc["singh2021", "measured (min)"]) and frame.loc["singh2021", "measured by"] == "not yet"
    assert frame.loc["ruff2021", "projected (min)"] == 25.0 and frame.loc["singh2021", "projected (min)"] == 20.0
    total = frame.iloc[-1]
    assert total["projected (min)"] == 25.0 + 20.0 and total["estimate from stored runs (min)"] == 40.0
    assert pd.isna(total["measured (min)"])  # not every paper is measured
    text = forced_build_summary(frame.reset_index(), workers=2)
    assert "1 of 2 papers" in text and "1.25×" in text and "**45 min**" in text and "within the target" in text
    assert "about 50 min" in text  # 25 measured + 1.25 × 20 estimated
    _stored_run(tmp_path, "singh2021", "s1", 7200.0)  # 80 min on 2 workers: over the hour
    assert "not met" in forced_build_summary(forced_build_frame("cpu", 2, tmp_path))
    write_book_times(tmp_path / "book_times.singh2021.json", table.assign(paper="singh2021"), scale="cpu", force=True,
                     total_seconds=3000.0, papers=["singh2021"])
    every = forced_build_summary(forced_build_frame("cpu", 2, tmp_path))  # every paper measured: no extrapolation
    assert "2 of 2 papers" in every and "Summed over the papers' measured builds" in every
    assert "**75 min**" in every and "If the other papers" not in every


def test_a_paper_time_table_states_no_whole_book_target(tmp_path):
    import json

    import pandas as pd

    from adlib.book import write_book_times
    from adlib.measurements import book_time_caption
    from adlib.results import cpu_kind

    table = pd.DataFrame([{"paper": "ruff2021", "notebook": "ruff2021/a.ipynb", "seconds": 60.0,
                           "peak memory (MiB)": 500}])
    write_book_times(tmp_path / "one.json", table, scale="cpu", force=True, total_seconds=60.0, papers=["ruff2021"])
    write_book_times(tmp_path / "all.json", table, scale="cpu", force=True, total_seconds=60.0)
    one = json.loads((tmp_path / "one.json").read_text())
    assert cpu_kind()["cpu_model"] in book_time_caption(one)  # the kind of CPU the times are for
    assert "60 min" not in book_time_caption(one) and "paper" not in book_time_frame(one).columns
    assert "target: 60 min" in book_time_caption(json.loads((tmp_path / "all.json").read_text()))
    assert "500 MiB, under the target of 4 GiB" in book_time_caption(one)
    heavy = pd.DataFrame([{"paper": "ruff2021", "notebook": "ruff2021/a.ipynb", "seconds": 60.0,
                           "peak memory (MiB)": 4271}])
    write_book_times(tmp_path / "heavy.json", heavy, scale="cpu", force=True, total_seconds=60.0, papers=["ruff2021"])
    assert "4,271 MiB, over the target" in book_time_caption(json.loads((tmp_path / "heavy.json").read_text()))


def test_plan_lanes_balances_the_papers_work_heaviest_first():
    from adlib.book import plan_lanes

    weights = {"a": 40.0, "b": 30.0, "c": 20.0, "d": 20.0, "e": 10.0}
    groups = plan_lanes(["e", "d", "c", "b", "a"], 2, weights=weights)
    assert groups == [["c", "a"], ["e", "d", "b"]]  # a, b; d (listed before c) onto b's lane; c onto a's; e
    assert [sum(weights[p] for p in g) for g in groups] == [60.0, 60.0]
    assert plan_lanes(["a", "b"], 5, weights=weights) == [["a"], ["b"]]  # never more lanes than papers
    assert plan_lanes(["x", "y", "z"], 2, weights={}) == [["x", "z"], ["y"]]  # no stored runs: alternate
    assert plan_lanes(["a", "b", "c"], 1, weights=weights) == [["a", "b", "c"]]
    with pytest.raises(ValueError, match="at least 1"):
        plan_lanes(["a"], 0, weights=weights)


def test_lanes_are_weighed_by_the_last_whole_build_notebook_seconds_where_it_has_every_paper(tmp_path):
    """The last whole forced build's notebook seconds per paper are the work plan_lanes balances
    (pages' own work included); a record without one of the papers, a partial build's record or
    another scale fall back to the stored runs' wall seconds."""
    import json

    from adlib.book import paper_work, plan_lanes
    from adlib.results import compute_cost_frame

    record = {"papers": None, "notebooks": [
        {"paper": "a", "notebook": "a/t1.ipynb", "seconds": 500.0}, {"paper": "a", "notebook": "a/t2.ipynb", "seconds": 534.0},
        {"paper": "b", "notebook": "b/t1.ipynb", "seconds": 790.0}, {"paper": "c", "notebook": "c/t1.ipynb", "seconds": 654.0},
        {"paper": "d", "notebook": "d/t1.ipynb", "seconds": 598.0}, {"paper": "e", "notebook": "e/t1.ipynb", "seconds": 224.0},
        {"paper": "", "notebook": "status.ipynb", "seconds": 4.0}]}
    path = tmp_path / "book_times.json"
    path.write_text(json.dumps(record))
    work = paper_work(list("abcde"), book_times=path)
    assert work == {"a": 1034.0, "b": 790.0, "c": 654.0, "d": 598.0, "e": 224.0}
    assert plan_lanes(list("cbade"), 2, weights=work) == [["a", "d"], ["c", "b", "e"]]  # 1632 s and 1668 s
    cost = compute_cost_frame(scale="cpu", by="paper")
    stored = dict(zip(cost.paper, 60 * cost["compute (min, one worker)"].astype(float)))
    assert paper_work(list("abcdef"), book_times=path) == stored  # f is not in the record
    assert paper_work(list("abc"), scale="paper", book_times=path) != work
    path.write_text(json.dumps({**record, "papers": ["a", "b", "c", "d", "e"]}))  # a PAPERS=... build
    assert paper_work(list("abc"), book_times=path) == stored
    assert paper_work(list("abc"), book_times=tmp_path / "none.json") == stored


class _FakeLane:
    """Stands in for a lane's ``python -m adlib.book execute`` process: writes its time table."""

    launched: list = []

    def __init__(self, cmd, env, cwd):
        import json

        self.cmd, self.env, self.returncode, self.terminated = cmd, env, None, False
        papers = cmd[cmd.index("--papers") + 1].split(",")
        self.fail = "boom" in papers
        out = Path(cmd[cmd.index("--times-path") + 1])
        out.write_text(json.dumps({"notebooks": [{"paper": p, "notebook": f"{p}/x.ipynb", "seconds": 1.0,
                                                  "peak memory (MiB)": 100} for p in papers]}))
        _FakeLane.launched.append(self)

    def poll(self):
        if not self.terminated:
            slow = "slow" in self.cmd[self.cmd.index("--papers") + 1]
            self.returncode = 1 if self.fail else None if slow else 0
        return self.returncode

    def terminate(self):
        self.terminated, self.returncode = True, -15

    def wait(self):
        return self.returncode


def test_lanes_run_one_process_per_group_sharing_one_core_slot_per_core(tmp_path, monkeypatch):
    import adlib.book as book

    _FakeLane.launched = []
    monkeypatch.setattr(book.subprocess, "Popen", _FakeLane)
    monkeypatch.setattr(book.os, "cpu_count", lambda: 4)
    monkeypatch.setenv("ADLIB_FORCE_SINCE", "2026-01-01T00:00:00Z")
    table = book._execute_lanes([["ruff2021", "ahmed2020"], ["singh2021"]], "cpu", True, tmp_path)
    assert list(table.lane) == [1, 1, 2] and list(table.paper) == ["ruff2021", "ahmed2020", "singh2021"]
    for lane in _FakeLane.launched:
        assert lane.cmd[1:4] == ["-m", "adlib.book", "execute"] and "--force" in lane.cmd
        assert lane.cmd[lane.cmd.index("--lanes") + 1] == "1"  # a lane does not split again
        assert lane.env["ADLIB_WORKERS"] == "4" and lane.env["ADLIB_FORCE_SINCE"] == "2026-01-01T00:00:00Z"
        slots = _FakeLane.launched[0].env["ADLIB_CORE_SLOTS"]
        assert lane.env["ADLIB_CORE_SLOTS"] == slots and slots.startswith(tempfile.gettempdir())
    assert not Path(slots).exists()  # removed with the lanes
    monkeypatch.setattr(book.os, "cpu_count", lambda: 16)
    assert book.lane_workers(5) == 8 and book.lane_workers(1) == 16 and book.lane_workers(40) == 2


def test_a_failing_lane_stops_the_others_and_says_which(tmp_path, monkeypatch):
    import adlib.book as book

    _FakeLane.launched = []
    monkeypatch.setattr(book.subprocess, "Popen", _FakeLane)
    with pytest.raises(RuntimeError, match="lane 2 \\(boom\\) failed"):
        book._execute_lanes([["slow"], ["boom"]], "cpu", False, tmp_path)
    slow = _FakeLane.launched[0]
    assert slow.terminated and "--force" not in slow.cmd


def test_a_whole_book_in_lanes_records_its_wall_time_not_the_sum(tmp_path, monkeypatch):
    import json

    import pandas as pd

    import adlib.book as book
    from adlib.measurements import book_time_caption

    lanes = pd.DataFrame([{"paper": "ruff2021", "notebook": "ruff2021/a.ipynb", "seconds": 50.0,
                           "peak memory (MiB)": 300, "peak RSS summed (MiB)": 700, "lane": 1},
                          {"paper": "singh2021", "notebook": "singh2021/a.ipynb", "seconds": 40.0,
                           "peak memory (MiB)": 200, "peak RSS summed (MiB)": 500, "lane": 2}])
    monkeypatch.setattr(book, "_execute_lanes", lambda groups, scale, force, executed_dir: lanes)
    monkeypatch.setattr(book, "execute_notebook", lambda source, output, params, title=None: None)
    path = tmp_path / "times.json"
    table = book.execute_book("cpu", force=True, executed_dir=tmp_path / "executed", times_path=path, lanes=2)
    assert {"measurements.ipynb", "status.ipynb"} <= set(table.notebook)  # after the lanes, in this process
    assert table[table.notebook == "status.ipynb"].lane.isna().all()
    record = json.loads(path.read_text())
    assert record["lanes"] == 2 and record["command"].endswith("LANES=2") and record["total_seconds"] < 90
    frame = book_time_frame(record).set_index("notebook")
    assert frame.loc["all (wall time, 2 lanes at once)", "seconds"] == record["total_seconds"]
    assert "2 lanes at once" in book_time_caption(record) and "target, not met" not in book_time_caption(record)
    assert frame.loc["all (wall time, 2 lanes at once)", "peak RSS summed (MiB)"] == 700
    assert "300 MiB (the kernel's and workers' private pages" in book_time_caption(record)
    assert "peak at 700 MiB), under the target of 4 GiB" in book_time_caption(record)
    slow = dict(record, total_seconds=66 * 60.0)
    assert "(target: 60 min for a forced build of the whole book on 2 cores: 1.10× the target, not met)" \
        in book_time_caption(slow)


def test_a_whole_forced_build_re_executes_the_measurements_page_after_writing_its_time_table(tmp_path, monkeypatch):
    import json

    import adlib.book as book

    record_path = tmp_path / "book_times.json"
    seen = []  # per executed page: its name, and the total the time-table record held when it ran

    def execute(source, output, params, title=None):
        held = json.loads(record_path.read_text())["total_seconds"] if record_path.exists() else None
        seen.append((output.name, held))

    monkeypatch.setattr(book, "BOOK_TIMES", record_path)
    monkeypatch.setattr(book, "execute_notebook", execute)
    monkeypatch.setattr(book, "report_stale_results", lambda since, scale, prune: [])
    monkeypatch.setattr(book, "book_pages", lambda executed_dir, papers=None: [
        book.Page(tmp_path / "a.ipynb", executed_dir / "ruff2021" / "a.ipynb", {}),
        book.Page(book.MEASUREMENTS_TEMPLATE, executed_dir / "measurements.ipynb", {}),
        book.Page(book.TEMPLATES / "status.ipynb", executed_dir / "status.ipynb", {})])
    table = book.execute_book("cpu", force=True, executed_dir=tmp_path / "executed")
    assert [name for name, _ in seen] == ["a.ipynb", "measurements.ipynb", "status.ipynb", "measurements.ipynb"]
    assert seen[1][1] is None and seen[-1][1] == json.loads(record_path.read_text())["total_seconds"]
    assert list(table.notebook).count("measurements.ipynb") == 1  # the record times each page once

    seen.clear()  # a build that is not forced writes no whole-book record and runs each page once
    book.execute_book("cpu", force=False, executed_dir=tmp_path / "executed2",
                      times_path=tmp_path / "other.json")
    assert [name for name, _ in seen] == ["a.ipynb", "measurements.ipynb", "status.ipynb"]
