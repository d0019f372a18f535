"""What re-computing the book costs, as measured: the frames the reproduction page's measurements
section shows, each read from a file a command wrote (never typed).

* :func:`book_time_frame`: ``make book FORCE=1``'s per-notebook time and peak-memory table
  (:data:`adlib.book.BOOK_TIMES`, written by :func:`adlib.book.execute_book`);
* :func:`throughput_frame`: ``benchmarks/train_throughput.py``, images/s of adlib's training step
  against an official-style loop, per model family, and the fraction of the matrix-product rate;
  :func:`gpu_throughput_frame` the same on a GPU (``--device cuda``), with mixed precision;
* :func:`memory_frame`: ``benchmarks/peak_memory.py``, the peak resident memory of each paper's
  heaviest ``cpu`` run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from adlib.results import REPO_ROOT

BENCHMARK_DIR = REPO_ROOT / "benchmarks" / "results"
THROUGHPUT = BENCHMARK_DIR / "train_throughput.json"
THROUGHPUT_GPU = BENCHMARK_DIR / "train_throughput.cuda.json"
PEAK_MEMORY = BENCHMARK_DIR / "peak_memory.json"
SPEEDUP_TARGET = 3.0  # issue: adlib's step ≥ 3× the official-style loop
MATMUL_FRACTION_TARGET = 0.25  # issue: conv nets at ≥ 25 % of the matrix-product rate
MEMORY_TARGET_MIB = 4096  # issue: the largest cpu-scale notebook under 4 GiB
BOOK_MINUTES_TARGET = 60  # issue: every cpu result recomputed within an hour on 2 cores


def read_measurement(path: Path) -> dict[str, Any] | None:
    """The JSON a measuring command wrote, or None when it has not been run here."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def _machine(record: dict[str, Any]) -> str:
    machine = record.get("machine") or record.get("provenance", {}).get("machine", {})
    cpu = (f", {machine['cpu_model']} ({machine.get('cpu_capability', '?')})" if machine.get("cpu_model") else "")
    return f"{machine.get('cpu_count', '?')} cores{cpu}, {machine.get('platform', '?')}"


def speedup_target_demand(record: dict[str, Any], row: dict[str, Any]) -> float:
    """The fraction of the machine's matrix-product rate on all its cores that adlib's step would
    have to reach to train ``SPEEDUP_TARGET`` × as many images/s as the official-style loop:
    ``target · official images/s · FLOPs per image / (workers · 1-thread matrix-product rate)``.
    The fp32 matrix product is the fastest arithmetic measured here, and ``workers`` one-thread
    processes can do at most ``workers`` times its 1-thread rate, so a demand of 1 or more is a
    speed-up no fp32 step reaches on this machine, however its data path or threads are arranged."""
    return (SPEEDUP_TARGET * row["official_images_per_s"] * row["flops_per_image"]
            / (record["workers"] * record["matmul_flops_per_s_1_thread"]))


def throughput_frame(record: dict[str, Any]) -> pd.DataFrame:
    """One row per model family: images/s of the three variants, the speed-ups over the
    official-style loop, MFLOP per image and the fraction of the 1-thread matrix-product rate; from
    records that have them, the weights' memory format of adlib's step and what ``channels_last``
    gives over it (a what-if for the families still contiguous), and the range of the sweep's
    speed-up and of the fraction over the repeats (the other columns are their medians)."""
    rows = []
    for r in record["families"]:
        layout = ({"adlib's weights": r["memory_format"],
                   "channels_last ÷ adlib (1 thread)": round(r["speedup_channels_last_1_thread"], 2)}
                  if "memory_format" in r else {})
        rows.append({"family": r["family"], "used by": r["paper"], "batch": r["batch_size"], **layout,
                     "official-style (img/s)": round(r["official_images_per_s"]),
                     "adlib, 1 thread (img/s)": round(r["adlib_images_per_s"]),
                     f"adlib, {record['workers']} processes (img/s)": round(r["adlib_sweep_images_per_s"]),
                     "speed-up, 1 thread": round(r["speedup_adlib_1_thread"], 2),
                     f"speed-up, {record['workers']} processes": round(r["speedup_adlib_sweep"], 2),
                     **({f"speed-up, {record['workers']} processes, over the repeats":
                         "{:.2f}–{:.2f}".format(*r["speedup_adlib_sweep_range"])} if "speedup_adlib_sweep_range" in r
                        else {}),
                     "MFLOP / image (fwd+bwd)": round(r["flops_per_image"] / 1e6, 1),
                     "% of matmul rate (1 thread)": round(100 * r["fraction_of_matmul_rate"]),
                     f"{SPEEDUP_TARGET:g}× would need (% of the {record['workers']}-core matmul rate)":
                         round(100 * speedup_target_demand(record, r)),
                     **({"% of matmul rate, over the repeats": "{:.0f}–{:.0f}".format(
                         *(100 * v for v in r["fraction_of_matmul_rate_range"]))}
                        if "fraction_of_matmul_rate_range" in r else {}),
                     **({"official: % of time making batches": round(100 * r["official_batch_share"]),
                         "bf16 autocast ÷ adlib (1 thread, what-if)": round(r["speedup_bf16_1_thread"], 2)}
                        if "official_batch_share" in r else {})})
    return pd.DataFrame(rows)


def throughput_summary(record: dict[str, Any]) -> str:
    """Which families meet the speed-up target (the sweep of one process per core against the
    official-style loop) and the matrix-product target (1 thread; every family is a conv net), and
    by how much the others miss; where the record has it, the official loop's share of time spent
    making batches ``s``, which bounds what a faster data path alone can gain: ``1 / (1 - s)``."""
    workers = record["workers"]

    def verdict(rows: list[tuple[str, float, list[float] | None]], target: float, unit) -> str:
        def spread(span):
            return f", {unit(span[0])} to {unit(span[1])} over the repeats" if span else ""

        met = [f"{f} ({unit(v)}{spread(span)})" for f, v, span in rows if v >= target]
        missed = [f"{f} ({unit(v)}{spread(span)}, {v / target:.2f} of the target)" for f, v, span in rows
                  if v < target]
        return (f"met by {', '.join(met) or 'none'}; not met by {', '.join(missed)}" if missed
                else f"met by all ({', '.join(met)})")

    families = record["families"]
    speed = verdict([(r["family"], r["speedup_adlib_sweep"], r.get("speedup_adlib_sweep_range")) for r in families],
                    SPEEDUP_TARGET, lambda v: f"{v:.2f}×")
    matmul = verdict([(r["family"], r["fraction_of_matmul_rate"], r.get("fraction_of_matmul_rate_range"))
                      for r in families], MATMUL_FRACTION_TARGET, lambda v: f"{100 * v:.0f} %")
    repeats = record.get("repeats", 1)
    text = (f"**Speed-up target** ({SPEEDUP_TARGET:g}× the official-style loop, adlib's sweep of {workers} "
            f"one-thread processes): {speed}. **Matrix-product target** ({100 * MATMUL_FRACTION_TARGET:g} % of the "
            f"1-thread rate, the conv nets' step on 1 thread): {matmul}.")
    straddle = [r["family"] for r in families
                for key, target in (("speedup_adlib_sweep_range", SPEEDUP_TARGET),
                                    ("fraction_of_matmul_rate_range", MATMUL_FRACTION_TARGET))
                if key in r and r[key][0] < target <= r[key][1]]
    if repeats > 1:
        text += (f" Each verdict is on the median of {repeats} repeats; "
                 + (f"the repeats of {', '.join(dict.fromkeys(straddle))} fall on both sides of a target, so "
                    "their verdict there is within the machine's run-to-run noise." if straddle else
                    "no family's repeats fall on both sides of a target."))
    demand = [(r["family"], speedup_target_demand(record, r)) for r in families]
    beyond = [f"{f} {100 * d:.0f} %" for f, d in demand if d >= 1]
    within = [f"{f} {100 * d:.0f} %" for f, d in demand if d < 1]
    text += (f" **What {SPEEDUP_TARGET:g}× would take:** the official-style loop's images/s times {SPEEDUP_TARGET:g}, "
             f"in FLOP/s, as a share of the fp32 matrix-product rate of all {workers} cores (the fastest arithmetic "
             "measured here): "
             + (f"{', '.join(beyond)}: more than the matrix product itself, so no fp32 step reaches "
                f"{SPEEDUP_TARGET:g}× for {'this family' if len(beyond) == 1 else 'these families'} on this machine"
                if beyond else "")
             + ("; " if beyond and within else "")
             + (f"{', '.join(within)}: within the matrix-product rate, reachable only by convolutions that run "
                "closer to it" if within else "") + ".")
    if all("official_batch_share" in r for r in families):
        bound = ", ".join(f"{r['family']} {100 * r['official_batch_share']:.0f} % (at most "
                          f"{1 / max(1e-9, 1 - r['official_batch_share']):.2f}×)" for r in families)
        text += (f" The official-style loop's share of time spent making batches, and the most that making "
                 f"them for free could speed it up: {bound}. The rest of its time is the same torch kernels "
                 f"adlib's step runs, which its default threads already spread over {workers} cores; the rest "
                 f"of adlib's speed-up comes from running one process per core instead of {workers} threads "
                 f"sharing each step.")
    return text


def throughput_caption(record: dict[str, Any]) -> str:
    repeats = record.get("repeats", 1)
    return (f"`{record['command']}` on {_machine(record)}, torch {record['torch']}, {record['created']}; "
            f"{record['seconds_per_variant']:g} s timed per variant after a warm-up"
            + (f"; the official-style, adlib and sweep columns are medians of {repeats} interleaved repeats"
               if repeats > 1 else "") + ". Matrix product "
            f"(1024 × 1024, fp32, 1 thread): {record['matmul_flops_per_s_1_thread'] / 1e9:.1f} GFLOP/s.")


def plot_throughput(frame: pd.DataFrame, workers: int):
    """Two panels: speed-up over the official-style loop (1 thread and the sweep), with the 3× target;
    the fraction of the matrix-product rate, with the 25 % target."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax_s, ax_f) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    x = np.arange(len(frame))
    ax_s.bar(x - 0.2, frame["speed-up, 1 thread"], 0.4, label="adlib, 1 process × 1 thread")
    ax_s.bar(x + 0.2, frame[f"speed-up, {workers} processes"], 0.4, label=f"adlib sweep, {workers} processes")
    ax_s.axhline(1.0, color="0.4", lw=1)
    ax_s.axhline(SPEEDUP_TARGET, color="tab:red", ls="--", lw=1, label=f"target {SPEEDUP_TARGET:g}×")
    ax_s.set_ylabel("images/s ÷ official-style loop (×)")
    ax_s.set_title("Speed-up over an official-style loop", fontsize=10)
    ax_f.bar(x, frame["% of matmul rate (1 thread)"], 0.6, color="tab:green")
    ax_f.axhline(100 * MATMUL_FRACTION_TARGET, color="tab:red", ls="--", lw=1,
                 label=f"target {100 * MATMUL_FRACTION_TARGET:g} %")
    ax_f.set_ylabel("achieved FLOP/s ÷ matmul FLOP/s (%)")
    ax_f.set_title("adlib's step, 1 thread, against the matrix-product rate", fontsize=10)
    for ax in (ax_s, ax_f):
        ax.set_xticks(x, frame.family, rotation=30, ha="right")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gpu_throughput_frame(record: dict[str, Any]) -> pd.DataFrame:
    """One row per model family of the GPU benchmark: images/s of the official-style fp32 loop,
    of adlib's step under bf16 autocast (how adlib trains on CUDA) and in fp32, the speed-ups, and
    the fraction of the GPU's measured bf16 matrix-product rate adlib's step reaches; from records
    with repeats, the range of the speed-up and of that fraction over them (the rest are medians)."""
    return pd.DataFrame([{
        "family": r["family"], "used by": r["paper"], "batch": r["batch_size"],
        "official-style, fp32 (img/s)": round(r["official_images_per_s"]),
        "adlib, bf16 autocast (img/s)": round(r["adlib_images_per_s"]),
        "adlib, fp32 (img/s)": round(r["adlib_fp32_images_per_s"]),
        "speed-up over official": round(r["speedup_adlib"], 2),
        **({"speed-up, over the repeats": "{:.2f}–{:.2f}".format(*r["speedup_adlib_range"])}
           if "speedup_adlib_range" in r else {}),
        "bf16 ÷ fp32 (adlib)": round(r["speedup_mixed_precision"], 2),
        "MFLOP / image (fwd+bwd)": round(r["flops_per_image"] / 1e6, 1),
        "% of bf16 matmul rate": round(100 * r["fraction_of_bf16_matmul_rate"], 1),
        **({"% of bf16 matmul rate, over the repeats": "{:.1f}–{:.1f}".format(
            *(100 * v for v in r["fraction_of_bf16_matmul_rate_range"]))}
           if "fraction_of_bf16_matmul_rate_range" in r else {})} for r in record["families"]])


def gpu_throughput_caption(record: dict[str, Any]) -> str:
    repeats = record.get("repeats", 1)
    return (f"`{record['command']}` on {record['gpu']} ({_machine(record)}), torch {record['torch']}, CUDA "
            f"{record['cuda']}, {record['created']}; {record['seconds_per_variant']:g} s timed per variant after a "
            "warm-up" + (f"; the images/s columns are medians of {repeats} interleaved repeats" if repeats > 1 else "")
            + f". Matrix product (8192 × 8192): bf16 {record['matmul_flops_per_s_bf16'] / 1e12:.0f} TFLOP/s, "
            f"fp32 {record['matmul_flops_per_s_fp32'] / 1e12:.0f} TFLOP/s. Target: "
            f"{SPEEDUP_TARGET:g}× the official-style loop.")


GPU_NOT_MEASURED = (
    "No GPU measurement is recorded: the machines this book was built on had no GPU. On a machine with an "
    "NVIDIA GPU, `make benchmark-gpu` (`python benchmarks/train_throughput.py --device cuda`) writes "
    "`benchmarks/results/train_throughput.cuda.json` and this section shows it: per model family, images/s of "
    "adlib's step under bf16 autocast (how adlib trains on CUDA) and in fp32 against the official-style fp32 "
    "loop, and the fraction of the GPU's measured bf16 matrix-product rate.")


def book_time_frame(record: dict[str, Any]) -> pd.DataFrame:
    """``make book``'s per-notebook table (seconds, peak MiB) with a total row (the paper column
    only when the record spans several papers). Where the chapters ran in lanes at once, the total
    row is the build's wall time, not the notebooks' seconds summed."""
    frame = pd.DataFrame(record["notebooks"])
    if "paper" in frame and frame.paper.nunique() <= 1:
        frame = frame.drop(columns="paper")
    lanes = int(record.get("lanes", 1))
    total = {"notebook": "all" if lanes == 1 else f"all (wall time, {lanes} lanes at once)",
             "seconds": round(frame.seconds.sum(), 1) if lanes == 1 else float(record["total_seconds"]),
             **{c: int(frame[c].max()) for c in ("peak memory (MiB)", "peak RSS summed (MiB)") if c in frame}}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def book_time_caption(record: dict[str, Any]) -> str:
    prov = record["provenance"]
    minutes = record["total_seconds"] / 60
    target = ("" if record.get("papers") else
              f" (target: {BOOK_MINUTES_TARGET} min for a forced build of the whole book on 2 cores: "
              + ("met)" if minutes <= BOOK_MINUTES_TARGET else
                 f"{minutes / BOOK_MINUTES_TARGET:.2f}× the target, not met)"))
    peak = max(int(r["peak memory (MiB)"]) for r in record["notebooks"])
    memory = "under" if peak < MEMORY_TARGET_MIB else "over"
    rss = [int(r["peak RSS summed (MiB)"]) for r in record["notebooks"] if "peak RSS summed (MiB)" in r]
    shared = (f" (the kernel's and workers' private pages and, once, the libraries they all map; their resident "
              f"sets summed, which count libtorch once per process, peak at {max(rss):,} MiB)" if rss else "")
    lanes = int(record.get("lanes", 1))
    how = (f"{record['workers']} sweep workers" if lanes == 1 else
           f"the papers in {lanes} lanes at once (the lane column; the pages that read every paper ran after), "
           f"{record['workers']} sweep worker{'s' if record['workers'] > 1 else ''} each, training one run per core "
           "in all")
    return (f"`{record['command']}` at `{record['scale']}` scale on {_machine(record)}, {how}, "
            f"commit {prov['git_commit'][:8]}, {prov['created']}: {record['total_seconds'] / 60:.1f} min "
            f"in all{target}. Largest peak memory of a notebook (kernel and workers): {peak:,} MiB{shared}, {memory} "
            f"the target of {MEMORY_TARGET_MIB / 1024:g} GiB.")


def memory_frame(record: dict[str, Any]) -> pd.DataFrame:
    """Per paper: its heaviest ``cpu`` run (by stored wall time) and that run's peak resident memory,
    its notebook whose kernel peaked highest (executed from the stored results), and the bound for a
    notebook that trains: that kernel + one such run per worker, against :data:`MEMORY_TARGET_MIB`."""
    workers = int(record["workers"])
    bound = f"kernel + {workers} runs (MiB)"
    rows = [{"paper": r["paper"], "heaviest run": r["run"], "stored wall time (s)": r["stored_wall_time_s"],
             "run peak (MiB)": round(r["peak_bytes"] / 2**20),
             "largest kernel": r["notebook"], "kernel peak (MiB)": round(r["kernel_peak_bytes"] / 2**20),
             bound: round((r["kernel_peak_bytes"] + workers * r["peak_bytes"]) / 2**20),
             **({"measured": r["created"]} if "created" in r else {})}
            for r in record["runs"]]
    frame = pd.DataFrame(rows)
    frame[f"under {MEMORY_TARGET_MIB / 1024:g} GiB"] = frame[bound] < MEMORY_TARGET_MIB
    return frame


def memory_caption(record: dict[str, Any]) -> str:
    when = ("each row at its own time (column 'measured')"
            if len({r.get("created", record["created"]) for r in record["runs"]}) > 1 else record["created"])
    return (f"`{record['command']}` on {_machine(record)}, {when}; the bound assumes the heaviest run "
            f"on every one of the {record['workers']} workers at once beside the largest kernel, so it is an upper "
            f"estimate. Target: under {MEMORY_TARGET_MIB / 1024:g} GiB.")


def forced_build_frame(scale: str = "cpu", workers: int = 2, results_root: Path | None = None) -> pd.DataFrame:
    """Per paper: the minutes ``make book FORCE=1 PAPERS=<paper>`` took where it was recorded
    (:func:`adlib.book.paper_book_times_path`: notebooks and all their re-computed runs), and the
    minutes its stored runs' own wall times add up to over ``workers`` cores (runs only, no
    notebook time: the estimate for a paper not yet measured), and the projection: measured where
    measured, else estimated. The last row sums them."""
    from adlib.book import paper_book_times_path
    from adlib.results import ResultsStore, compute_cost_frame

    root = REPO_ROOT / "results" if results_root is None else Path(results_root)
    wall = f"wall on {workers} workers (min)"
    costs = compute_cost_frame(ResultsStore(root), scale=scale, workers=workers)
    if costs.empty:
        return pd.DataFrame()
    rows = []
    for _, cost in costs[costs.paper != "all"].iterrows():
        record = read_measurement(paper_book_times_path(cost.paper, root))
        measured = record is not None and record["scale"] == scale and record["force"]
        rows.append({"paper": cost.paper, "runs": int(cost.runs),
                     "estimate from stored runs (min)": float(cost[wall]),
                     "measured (min)": round(record["total_seconds"] / 60, 1) if measured else float("nan"),
                     "measured by": (f"`{record['command']}`, {record['workers']} workers, {_machine(record)}, "
                                     f"commit {record['provenance']['git_commit'][:8]}, {record['provenance']['created']}"
                                     if measured else "not yet")})
    frame = pd.DataFrame(rows)
    frame.insert(4, "projected (min)", frame["measured (min)"].fillna(frame["estimate from stored runs (min)"]))
    total = {"paper": "all", "runs": int(frame.runs.sum()),
             "estimate from stored runs (min)": round(frame["estimate from stored runs (min)"].sum(), 1),
             "measured (min)": round(frame["measured (min)"].sum(), 1) if frame["measured (min)"].notna().all()
             else float("nan"),
             "projected (min)": round(float(frame["projected (min)"].sum()), 1), "measured by": ""}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def forced_build_summary(frame: pd.DataFrame, workers: int = 2) -> str:
    """What the reproduction page says above :func:`forced_build_frame` while no whole forced
    build is recorded: how much is measured, the projected total against :data:`BOOK_MINUTES_TARGET`."""
    if frame.empty:
        return "No forced build is recorded and no results of this scale are stored here."
    papers = frame.iloc[:-1]
    measured = papers[papers["measured (min)"].notna()]
    total = float(frame.iloc[-1]["projected (min)"])
    verdict = ("within the target" if total <= BOOK_MINUTES_TARGET else
               f"{total / BOOK_MINUTES_TARGET:.1f}× the target: not met at the present configurations")
    if measured.empty:
        return (f"No forced build has been recorded yet (`make book FORCE=1` writes `results/book_times.json`, "
                f"`make book FORCE=1 PAPERS=<paper>` one paper's). From the stored runs' own wall times, re-computing "
                f"them would take about **{total:.0f} min** on {workers} cores against the target of "
                f"{BOOK_MINUTES_TARGET} min: {verdict}.")
    else:
        ratio = measured["measured (min)"].sum() / measured["estimate from stored runs (min)"].sum()
        rest = papers[papers["measured (min)"].isna()]["estimate from stored runs (min)"].sum()
        scaled = measured["measured (min)"].sum() + ratio * rest
        known = (f"{len(measured)} of {len(papers)} papers' forced builds are measured "
                 f"({', '.join(measured.paper)}: {measured['measured (min)'].sum():.0f} min, {ratio:.2f}× what their "
                 f"stored runs' wall times predicted: the estimates count the runs only, not the notebooks' own "
                 f"time, the workers' start-up or the waits between a paper's stages, and stored runs made on "
                 f"another machine can run at another speed here)")
        over = (f" If the other papers ran over their estimates by as much, the whole build would take about "
                f"{scaled:.0f} min." if rest else "")
    basis = ("Summed over the papers' measured builds" if len(measured) == len(papers) else
             "Measured where measured and estimated from the stored runs' wall times elsewhere")
    return (f"A whole `make book FORCE=1` has not been recorded yet (it writes `results/book_times.json`). {known}. "
            f"{basis}, re-computing everything would take about **{total:.0f} min** on {workers} cores against the "
            f"target of {BOOK_MINUTES_TARGET} min: {verdict}.{over}")
