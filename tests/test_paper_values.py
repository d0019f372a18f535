"""Checks of the transcribed paper-reported values (adlib/papers/<key>/values/).

* every index parses, every listed file exists and has the required columns;
* every ``printed`` string parses back to ``value`` (and ``std``);
* no table/figure of a paper is missing from its index (reads the paper text;
  skipped with a reason where ../shared/papers is absent);
* arithmetic checks: printed "Mean" rows against their per-dataset rows, with
  the inconsistencies listed in the index as the *only* allowed exceptions
  (and each listed exception must really be inconsistent), cross-table
  equalities, counts.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from adlib import paper_values as pv

# --------------------------------------------------------------------------- paths


def _shared_dir() -> Path | None:
    env = os.environ.get("ADLIB_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared")
    for c in candidates:
        if (c / "papers").is_dir():
            return c
    return None


SHARED = _shared_dir()
PAPER_FILES = {
    "hendrycks2019": "hendrycks2019-outlier-exposure.md",
    "ruff2021": "ruff2021-rethinking-assumptions.md",
    "singh2021": "singh2021-generalized-ad-deepmad.md",
    "ahmed2020": "ahmed2020-semantic-anomalies.md",
    "rafiee2021": "rafiee2021-adcgan.md",
}
needs_text = pytest.mark.skipif(
    SHARED is None,
    reason="paper texts not found (set ADLIB_SHARED or put ../shared/papers next to the repo); "
    "text-based completeness checks skipped",
)


def paper_text(paper: str) -> str:
    assert SHARED is not None
    return (SHARED / "papers" / PAPER_FILES[paper]).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- helpers

KINDS = {"table", "figure", "unnumbered_table", "text", "repo_log"}
ID_RE = re.compile(r"^(table|figure)\d+$|^[a-z][a-z0-9_]*$")


def artefacts_with_files(paper):
    return [a for a in pv.list_artefacts(paper) if a.get("file")]


def _all_files():
    out = []
    for p in pv.PAPERS:
        try:
            out += [(p, a["id"]) for a in artefacts_with_files(p)]
        except ValueError:  # index missing: reported by test_index_schema
            pass
    return out


ALL_FILES = _all_files()


def decimals(printed: str) -> int:
    s = re.sub(r"[^0-9.]", "", printed.split("±")[0])
    return len(s.split(".", 1)[1]) if "." in s else 0


def mean_tolerance(row_printed, mean_printed) -> float:
    """Half a unit of the rows' precision + half a unit of the mean's + slack.

    Rows printed to 0.1 and a mean printed to 0.01 give 0.06; rows and mean
    both printed to 0.1 give 0.105.
    """
    row_dec = min(decimals(p) for p in row_printed)
    return 0.5 * 10 ** (-row_dec) + 0.5 * 10 ** (-decimals(mean_printed)) + 0.005


def cell_key(art, row: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in row.items()))


def listed_cells(art: dict, check: str) -> set[tuple]:
    out = set()
    for inc in art.get("inconsistencies") or []:
        if isinstance(inc, dict) and inc.get("check") == check:
            for c in inc.get("cells", []):
                out.add(cell_key(art, c))
    return out


def mean_gaps(df: pd.DataFrame, row_col: str, group_cols: list[str], mean_label="Mean"):
    """Yield (cell dict, recomputed, printed value, tolerance) per printed mean."""
    for keys, g in df.groupby(group_cols, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        rows = g[g[row_col] != mean_label]
        mean = g[g[row_col] == mean_label]
        if mean.empty or rows["value"].isna().any():
            continue
        assert len(mean) == 1, keys
        recomputed = rows["value"].mean()
        printed = mean["value"].iloc[0]
        tol = mean_tolerance(rows["printed"], mean["printed"].iloc[0])
        yield dict(zip(group_cols, keys)), recomputed, printed, tol


def check_means(paper, art_id, row_col, group_cols, mean_label="Mean"):
    """Printed means agree with their rows except exactly the listed cells."""
    art = pv.get_artefact(paper, art_id)
    df = pv.load_values(paper, art_id)
    listed = listed_cells(art, "mean")
    bad = set()
    n = 0
    for cell, rec, printed, tol in mean_gaps(df, row_col, group_cols, mean_label):
        n += 1
        if abs(rec - printed) > tol:
            bad.add(cell_key(art, cell))
            assert cell_key(art, cell) in listed, (
                f"{paper}/{art_id} {cell}: printed mean {printed} but rows average "
                f"{rec:.4f} (tol {tol:.3f}); not listed in the index inconsistencies"
            )
    assert n > 0, f"no mean rows found in {paper}/{art_id}"
    invented = listed - bad
    assert not invented, f"{paper}/{art_id}: listed as inconsistent but consistent: {invented}"


def lookup(df: pd.DataFrame, **kw) -> float:
    sel = df
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (kw, len(sel))
    return float(sel["value"].iloc[0])


def lookup_printed(df: pd.DataFrame, **kw) -> str:
    sel = df
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (kw, len(sel))
    return sel["printed"].iloc[0]


# --------------------------------------------------------------------------- API


def test_papers_constant():
    assert pv.PAPERS == ("hendrycks2019", "ruff2021", "singh2021", "ahmed2020", "rafiee2021")


def test_unknown_paper_and_artefact_raise_valueerror():
    with pytest.raises(ValueError, match="hendrycks2019"):
        pv.load_index("nope")
    with pytest.raises(ValueError, match="table1"):
        pv.load_values("hendrycks2019", "table99")
    with pytest.raises(ValueError):
        pv.pivot_values("nope", "table1")


def test_pivot_lays_out_table1_like_the_paper():
    t = pv.pivot_values("hendrycks2019", "table1", index=["d_in"], columns=["metric", "method"])
    assert list(t.index) == ["SVHN", "CIFAR-10", "CIFAR-100", "Tiny ImageNet", "Places365"]
    assert list(t.columns) == [
        ("FPR95", "MSP"), ("FPR95", "+OE"), ("AUROC", "MSP"),
        ("AUROC", "+OE"), ("AUPR", "MSP"), ("AUPR", "+OE"),
    ]
    assert t.loc["CIFAR-10", ("AUROC", "+OE")] == pytest.approx(97.8)
    p = pv.pivot_values("hendrycks2019", "table7", values="printed")
    assert p.loc[("SVHN", "Gaussian"), ("AUROC", "+OE")] == "100."


@pytest.mark.parametrize("paper", pv.PAPERS)
def test_parse_printed_examples(paper):
    assert pv.parse_printed("100.") == (100.0, None)
    assert pv.parse_printed("97.3±0.2") == (97.3, 0.2)
    assert pv.parse_printed("-") == (None, None)
    assert pv.parse_printed("62.8*") == (62.8, None)


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize("paper", pv.PAPERS)
def test_paper_values_complete(paper):
    """A paper whose index says status: pending has its artefact list but no values yet."""
    idx = pv.load_index(paper)
    if idx.get("status") == "pending":
        pytest.xfail(f"{paper}: values not yet transcribed (index status: pending)")
    assert any(a.get("file") for a in idx["artefacts"])


@pytest.mark.parametrize("paper", pv.PAPERS)
def test_index_schema(paper):
    idx = pv.load_index(paper)
    assert idx["paper"] == paper
    for key in ("title", "authors", "venue"):
        assert isinstance(idx[key], str) and idx[key].strip()
    arts = idx["artefacts"]
    assert arts, paper
    ids = [a["id"] for a in arts]
    assert len(ids) == len(set(ids)), f"duplicate ids in {paper}"
    for a in arts:
        assert ID_RE.match(a["id"]), a["id"]
        assert a["kind"] in KINDS, a
        if a["kind"] in ("table", "figure"):
            assert a["id"].startswith(a["kind"]), a["id"]
        assert isinstance(a["caption"], str) and a["caption"].strip(), a["id"]
        assert "file" in a, a["id"]
        if a["kind"] == "table" and a.get("numbers", True) and idx.get("status") != "pending":
            assert a["file"], f"{paper}/{a['id']}: a table with numbers must have a file"
        if a["file"]:
            assert (pv.values_dir(paper) / a["file"]).is_file(), a["file"]
        for key in ("notes", "inconsistencies"):
            assert isinstance(a.get(key, []) or [], list), (a["id"], key)
        for note in a.get("notes") or []:
            assert isinstance(note, str)
        for inc in a.get("inconsistencies") or []:
            assert isinstance(inc, (str, dict)), inc
            if isinstance(inc, dict):
                assert inc.get("text"), inc
        if a.get("source"):
            assert a["source"] in ids, (a["id"], a["source"])


@pytest.mark.parametrize("paper,art", ALL_FILES)
def test_csv_columns_and_printed_values(paper, art):
    df = pv.load_values(paper, art)
    cols = list(df.columns)
    assert "method" in cols, cols
    i = cols.index("method")
    tail = cols[i:]
    assert tail in (["method", "metric", "value", "printed"], ["method", "metric", "value", "printed", "std"]), cols
    assert len(df) > 0
    assert (df["method"] != "").all(), f"{paper}/{art}: empty method"
    assert (df["metric"] != "").all(), f"{paper}/{art}: empty metric"
    assert df["value"].dtype == float
    for row in df.itertuples(index=False):
        value, std = pv.parse_printed(row.printed)
        if value is None:
            assert math.isnan(row.value), (paper, art, row)
        else:
            assert row.value == pytest.approx(value, abs=1e-12), (paper, art, row)
        if "std" in cols:
            if std is not None and not math.isnan(row.std):
                assert row.std == pytest.approx(std, abs=1e-12), (paper, art, row)
    keys = pv.row_key_columns(df)
    dup = df.duplicated(subset=keys + ["method", "metric"], keep=False)
    assert not dup.any(), f"{paper}/{art}: duplicate cells\n{df[dup]}"


@pytest.mark.parametrize("paper", pv.PAPERS)
def test_figures_with_source_equal_their_source_table(paper):
    for a in pv.list_artefacts(paper):
        if not (a.get("source") and a.get("file")):
            continue
        fig = pv.load_values(paper, a["id"])
        src = pv.load_values(paper, a["source"])
        keys = [c for c in pv.row_key_columns(fig) if c in src.columns] + ["method", "metric"]
        merged = fig.merge(src, on=keys, how="left", suffixes=("", "_src"))
        assert merged["printed_src"].notna().all(), (a["id"], merged[merged["printed_src"].isna()])
        assert (merged["printed"] == merged["printed_src"]).all(), a["id"]


# --------------------------------------------------------------------------- completeness vs paper text

TABLE_RE = re.compile(r"\bTable\s+(\d+)")
FIG_RE = re.compile(r"\bFig(?:ure|\.)\s*(\d+)")
CAPTION_RE = re.compile(r"^\s*(?:\*\*)?(Table|Figure|Fig\.)\s*(\d+)\s*[:.]", re.M)


def referenced_ids(paper: str) -> set[str]:
    text = paper_text(paper)
    ids = {f"table{n}" for n in TABLE_RE.findall(text)}
    ids |= {f"figure{n}" for n in FIG_RE.findall(text)}
    # "Table 18-20" style ranges
    for a, b in re.findall(r"\bTables?\s+(\d+)\s*[-–]\s*(\d+)", text):
        ids |= {f"table{n}" for n in range(int(a), int(b) + 1)}
    idx = pv.load_index(paper)
    return ids - set(idx.get("external_refs") or [])


@needs_text
@pytest.mark.parametrize("paper", pv.PAPERS)
def test_no_table_or_figure_missing(paper):
    ids = {a["id"] for a in pv.list_artefacts(paper)}
    missing = referenced_ids(paper) - ids
    assert not missing, f"{paper}: tables/figures in the paper but not in the index: {sorted(missing)}"


@needs_text
@pytest.mark.parametrize("paper", pv.PAPERS)
def test_index_is_in_paper_order(paper):
    text = paper_text(paper)
    pos = {}
    for m in CAPTION_RE.finditer(text):
        kind = "table" if m.group(1) == "Table" else "figure"
        pos.setdefault(f"{kind}{m.group(2)}", m.start())
    order = [a["id"] for a in pv.list_artefacts(paper) if a["id"] in pos]
    assert order == sorted(order, key=pos.__getitem__), f"{paper}: index not in caption order"


@needs_text
@pytest.mark.parametrize("paper", pv.PAPERS)
def test_captions_are_verbatim(paper):
    norm = lambda s: re.sub(r"\s+", " ", s).strip()
    text = norm(paper_text(paper))
    for a in pv.list_artefacts(paper):
        if a["kind"] in ("table", "figure") and not a.get("caption_paraphrased"):
            assert norm(a["caption"])[:60] in text, (paper, a["id"])


# --------------------------------------------------------------------------- hendrycks2019

H = "hendrycks2019"


def test_hendrycks_expected_artefacts():
    ids = [a["id"] for a in pv.list_artefacts(H)]
    for n in range(1, 14):
        assert f"table{n}" in ids
    for n in range(1, 5):
        assert f"figure{n}" in ids
    assert "appendix_c" in ids and "repo_mnist" in ids
    repo = pv.get_artefact(H, "repo_mnist")
    assert any("official repo logs, not in the paper" in n for n in repo["notes"])


@pytest.mark.parametrize(
    "art,groups",
    [
        ("table5", ["d_in", "method", "metric"]),
        ("table7", ["d_in", "method", "metric"]),
        ("table8", ["d_in", "method", "metric"]),
        ("table11", ["d_in", "method", "metric"]),
        ("repo_mnist", ["d_in", "method", "metric"]),
        ("repo_cifar10_scratch", ["d_in", "method", "metric"]),
    ],
)
def test_hendrycks_mean_rows(art, groups):
    check_means(H, art, "d_out", groups)


def test_hendrycks_listed_mean_inconsistencies_are_the_known_ones():
    t8 = listed_cells(pv.get_artefact(H, "table8"), "mean")
    assert ("d_in", "SST") in dict.fromkeys(c for cell in t8 for c in cell)
    t11 = listed_cells(pv.get_artefact(H, "table11"), "mean")
    assert cell_key(None, dict(d_in="PTB Char", method="+OE", metric="FPR90")) in t11


def _rounded_equal(a: float, b: float, half_unit=0.05) -> bool:
    return abs(a - b) <= half_unit + 1e-9


def test_hendrycks_table1_equals_table7_means():
    t1 = pv.load_values(H, "table1")
    t7 = pv.load_values(H, "table7")
    means = t7[t7["d_out"] == "Mean"]
    assert len(t1) == len(means) == 30
    for r in t1.itertuples(index=False):
        m = lookup(means, d_in=r.d_in, method=r.method, metric=r.metric)
        assert _rounded_equal(r.value, m), (r, m)


def test_hendrycks_table2_vs_table8_means():
    t2 = pv.load_values(H, "table2")
    t8 = pv.load_values(H, "table8")
    means = t8[t8["d_out"] == "Mean"]
    listed = listed_cells(pv.get_artefact(H, "table2"), "cross_table")
    bad = set()
    for r in t2.itertuples(index=False):
        m = lookup(means, d_in=r.d_in, method=r.method, metric=r.metric)
        if not _rounded_equal(r.value, m):
            bad.add(cell_key(None, dict(d_in=r.d_in, method=r.method, metric=r.metric)))
    assert bad == listed


def test_hendrycks_table6_equals_table11_means():
    t6 = pv.load_values(H, "table6")
    t11 = pv.load_values(H, "table11")
    means = t11[t11["d_out"] == "Mean"]
    names = {"PTB Characters": "PTB Char", "PTB Words": "PTB Word"}
    methods = {"BPC/BPW": "BPC", "+OE": "+OE"}
    for r in t6.itertuples(index=False):
        m = lookup(means, d_in=names[r.d_in], method=methods[r.method], metric=r.metric)
        assert r.value == m, (r, m)
    # the cells Table 6 inherits from the inconsistent Table 11 means are flagged in both
    t6_listed = {dict(c)["d_in"] for c in listed_cells(pv.get_artefact(H, "table6"), "cross_table")}
    assert t6_listed == {"PTB Characters", "PTB Words"}


def test_hendrycks_table10_msp_equals_table7_oe_means():
    t10 = pv.load_values(H, "table10")
    t7 = pv.load_values(H, "table7")
    msp = t10[t10["method"] == "MSP"]
    assert len(msp) == 12
    for r in msp.itertuples(index=False):
        assert r.printed == lookup_printed(t7, d_in=r.d_in, d_out="Mean", method="+OE", metric=r.metric)


def test_hendrycks_calibration_tables_and_figure3():
    t12 = pv.load_values(H, "table12")
    t13 = pv.load_values(H, "table13")
    temp13 = t13[t13["method"] == "Temp"]
    assert len(temp13) == 12
    for r in temp13.itertuples(index=False):
        assert r.value == lookup(t12, d_in=r.d_in, method="Temperature", metric=r.metric)
    f3 = pv.load_values(H, "figure3")
    assert set(f3["metric"]) == {"RMS Calib. Error"} and len(f3) == 8


def test_hendrycks_appendix_c_matches_table7():
    ac = pv.load_values(H, "appendix_c")
    t7 = pv.load_values(H, "table7")
    assert lookup(ac, method="baseline (trained normally)", metric="FPR95") == lookup(
        t7, d_in="CIFAR-10", d_out="Mean", method="MSP", metric="FPR95")
    assert lookup(ac, method="+OE fine-tuned", metric="FPR95") == lookup(
        t7, d_in="CIFAR-10", d_out="Mean", method="+OE", metric="FPR95")
    scratch = pv.load_values(H, "repo_cifar10_scratch")
    assert lookup(ac, method="+OE from scratch", metric="FPR95") == lookup(
        scratch, d_out="Mean", metric="FPR95")
    # the App. C RMS numbers duplicate the FPR95 numbers: listed as a text inconsistency
    art = pv.get_artefact(H, "appendix_c")
    assert len(listed_cells(art, "text")) == 2
    for m in ("+OE fine-tuned", "+OE from scratch"):
        assert lookup(ac, method=m, metric="RMS calibration error") == lookup(ac, method=m, metric="FPR95")


def test_hendrycks_row_counts():
    t7 = pv.load_values(H, "table7")
    per = t7[t7["d_out"] != "Mean"].groupby("d_in", sort=False)["d_out"].nunique().to_dict()
    assert per == {"SVHN": 9, "CIFAR-10": 8, "CIFAR-100": 8, "Tiny ImageNet": 8, "Places365": 8}
    t8 = pv.load_values(H, "table8")
    per = t8[t8["d_out"] != "Mean"].groupby("d_in")["d_out"].nunique()
    assert (per == 10).all() and len(per) == 3


# --------------------------------------------------------------------------- ruff2021

R = "ruff2021"


@pytest.mark.parametrize("art", ["table4", "table5", "table6"])
def test_ruff_mean_rows(art):
    check_means(R, art, "normal_class", ["dataset", "group", "method", "metric"])


def test_ruff_class_counts():
    for art, n in (("table4", 10), ("table5", 10), ("table6", 30)):
        df = pv.load_values(R, art)
        classes = df.loc[df["normal_class"] != "Mean", "normal_class"].unique()
        assert len(classes) == n, (art, len(classes))
        # one cell per class and method
        assert (df.groupby(["group", "method"])["normal_class"].nunique() == n + 1).all()


def test_ruff_summary_tables_equal_per_class_means():
    t1, t4 = pv.load_values(R, "table1"), pv.load_values(R, "table4")
    mean4 = t4[t4["normal_class"] == "Mean"]
    for r in t1.itertuples(index=False):
        assert r.printed == lookup_printed(mean4, group=r.group, method=r.method)
    t5 = pv.load_values(R, "table5")
    for r in t5[t5["normal_class"] != "Mean"].itertuples(index=False):
        assert r.value == lookup(t4, normal_class=r.normal_class, group=r.group, method=r.method)
    t2, t6 = pv.load_values(R, "table2"), pv.load_values(R, "table6")
    mean6 = t6[t6["normal_class"] == "Mean"]
    for r in t2[~t2["method"].str.endswith("*")].itertuples(index=False):
        assert r.value == lookup(mean6, group=r.group, method=r.method)


def test_ruff_table3_hsc_cross_table_inconsistency():
    t3, t1 = pv.load_values(R, "table3"), pv.load_values(R, "table1")
    hsc = lookup(t1, method="HSC")
    art = pv.get_artefact(R, "table3")
    listed = listed_cells(art, "cross_table")
    same_config = cell_key(None, dict(dataset="CIFAR-10", data_augmentation="w/",
                                      method="sqrt(||z||^2 + 1) - 1", metric="AUC"))
    assert listed == {same_config}
    assert lookup(t3, data_augmentation="w/", method="sqrt(||z||^2 + 1) - 1") != hsc


# --------------------------------------------------------------------------- singh2021

S = "singh2021"
S_LISTS = tuple(f"table{n}" for n in range(5, 18))  # best/worst-10 appendix lists
S_NORMAL_OUTLIER = {"DROCC", "DROCC(m)"}  # Table 2 prints (0, 8) separately for these


def _split_sizes(split: str) -> tuple[int, int]:
    """'2-in, 8-out' -> (n_classes, n_normal) = (10, 2)."""
    m = re.fullmatch(r"(\d+)-in, (\d+)-out", split)
    assert m, split
    k, j = int(m.group(1)), int(m.group(2))
    return k + j, k


def _classes(s: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", s))


def test_singh_expected_artefacts():
    idx = pv.load_index(S)
    assert idx.get("status") != "pending"
    ids = [a["id"] for a in idx["artefacts"]]
    assert sorted(ids) == sorted([f"table{n}" for n in range(1, 23)] + [f"figure{n}" for n in range(1, 9)])
    with_files = {a["id"] for a in idx["artefacts"] if a.get("file")}
    assert with_files == {f"table{n}" for n in range(2, 23)} | {"figure4"}
    assert pv.get_artefact(S, "table1")["numbers"] is False


def test_singh_combination_counts():
    """The split labels give the combination counts the paper states (45 / 252 / 10, 190)."""
    stated = {("CIFAR-10", "2-in, 8-out"): 45, ("CIFAR-10", "5-in, 5-out"): 252,
              ("CIFAR-10", "9-in, 1-out"): 10, ("CIFAR-100", "2-in, 18-out"): 190,
              ("fMNIST", "2-in, 8-out"): 45}  # Sec. 5 / App. E / "averaged over 45 combinations"
    seen = set()
    for art in ("table2", "table3") + S_LISTS:
        df = pv.load_values(S, art)
        for ds, split in df[["dataset", "split"]].drop_duplicates().itertuples(index=False):
            if (ds, split) == ("RECYCLE", "5-in, 1-out"):  # 5 recycle classes vs trash: one case
                continue
            n, k = _split_sizes(split)
            if (ds, split) in stated:
                assert math.comb(n, k) == stated[ds, split], (art, ds, split)
                seen.add((ds, split))
    assert seen == set(stated)
    assert math.comb(5, 4) == 5  # RECYCLE 4-in, 1-out


@pytest.mark.parametrize("art", S_LISTS)
def test_singh_best_worst_lists(art):
    df = pv.load_values(S, art)
    ident = pv.get_artefact(S, art)["identity"]
    assert set(df["dataset"]) == {ident["dataset"]} and set(df["split"]) == {ident["split"]}
    n, k = _split_sizes(ident["split"])
    assert math.comb(n, k) >= 20
    combos = set()
    for kind, order in (("best", -1), ("worst", 1)):
        g = df[df["list"] == kind]
        assert list(g["rank"]) == [str(r) for r in range(1, 11)], (art, kind)
        vals = list(g["value"])
        assert vals == sorted(vals, key=lambda v: order * v), (art, kind, vals)
        for c in g["classes"]:
            t = _classes(c)
            assert len(t) == k and list(t) == sorted(set(t)) and all(0 <= x < n for x in t), (art, c)
            combos.add(t)
    assert len(combos) == 20, art  # best-10 and worst-10 are disjoint
    assert df.loc[df["list"] == "best", "value"].min() > df.loc[df["list"] == "worst", "value"].max()
    assert ((df["value"] > 0) & (df["value"] < 1)).all()


def test_singh_list_labels_flagged():
    """Header/caption label mismatches of the appendix lists are listed as label inconsistencies."""
    norm = lambda s: s.replace("Original-", "").rstrip("-")
    for art in S_LISTS:
        a = pv.get_artefact(S, art)
        ident = a["identity"]
        labels = [i for i in a["inconsistencies"] if isinstance(i, dict) and i["check"] == "label"]
        if norm(ident["header_method"]) != norm(ident["caption_method"]):
            assert labels, art
        assert ident["table2_method"] in {"DROCC", "DROCC(m)", "DeepSVDD", "DeepSVDD(m)", "DeepMAD"}


@pytest.mark.parametrize("art", ["table2", "table3"])
def test_singh_ranges_are_ordered(art):
    """min <= (mean) <= max per method and split; outliers lie above the range; AUCs in [0, 1]."""
    df = pv.load_values(S, art)
    n = 0
    for (ds, split, method), g in df.groupby(["dataset", "split", "method"], sort=False):
        m = dict(zip(g["metric"], g["value"]))
        if "AUC (%)" in m:
            assert set(m) == {"AUC (%)"} and 50 < m["AUC (%)"] <= 100
            continue
        lo, hi = m["AUC min"], m["AUC max"]
        assert 0 < lo <= hi < 1, (ds, split, method)
        if "AUC mean" in m:
            assert lo <= m["AUC mean"] <= hi, (ds, split, method)
            n += 1
        if "AUC outlier" in m:
            assert m["AUC outlier"] > hi
    assert n == (15 if art == "table3" else 0)


@pytest.mark.parametrize("art", ["table2", "table3"])
def test_singh_confidence_intervals_within_unit_interval(art):
    a = pv.get_artefact(S, art)
    df = pv.load_values(S, art)
    keys = pv.row_key_columns(df)
    bad = set()
    for r in df[df["metric"].isin(["AUC min", "AUC max", "AUC outlier"])].itertuples(index=False):
        assert not math.isnan(r.std) and r.std > 0, r
        if r.value + r.std > 1 or r.value - r.std < 0:
            bad.add(cell_key(a, {k: getattr(r, k) for k in keys + ["method", "metric"]}))
    assert bad == listed_cells(a, "ci")


def _appendix_extremes():
    """(dataset, split, method) -> dict(min, max, outlier) from the best/worst lists."""
    out = {}
    for art in S_LISTS:
        ident = pv.get_artefact(S, art)["identity"]
        df = pv.load_values(S, art)
        best, worst = df[df["list"] == "best"], df[df["list"] == "worst"]
        method = ident["table2_method"]
        ext = {"AUC min": worst["value"].iloc[0]}
        if ident["split"] == "2-in, 8-out" and method in S_NORMAL_OUTLIER:
            ext["AUC outlier"] = best.loc[best["classes"] == "(0, 8)", "value"].iloc[0]
            ext["AUC max"] = best.loc[best["classes"] != "(0, 8)", "value"].iloc[0]
        else:
            ext["AUC max"] = best["value"].iloc[0]
        key = (ident["dataset"], ident["split"], method)
        assert key not in out, key
        out[key] = ext
    return out


@pytest.mark.parametrize("art", ["table2", "table3"])
def test_singh_ranges_equal_appendix_extremes(art):
    """Range ends equal the appendix list extremes except exactly the listed cross_table cells."""
    a = pv.get_artefact(S, art)
    df = pv.load_values(S, art)
    ext = _appendix_extremes()
    bad, n = set(), 0
    for r in df.itertuples(index=False):
        e = ext.get((r.dataset, r.split, r.method), {})
        if r.metric not in e:
            continue
        n += 1
        if r.value != e[r.metric]:
            bad.add(cell_key(a, {k: getattr(r, k) for k in pv.row_key_columns(df) + ["method", "metric"]}))
    assert n == (22 if art == "table2" else 6)
    assert bad == listed_cells(a, "cross_table")


def test_singh_table2_text_claims():
    """DeepMAD best in every split; Alg. 2 >= Alg. 1 except exactly the listed text cells."""
    a = pv.get_artefact(S, "table2")
    df = pv.load_values(S, "table2")
    for split, g in df.groupby("split"):
        for metric in ("AUC min", "AUC max"):
            gm = g[g["metric"] == metric].set_index("method")["value"]
            assert gm.idxmax() == "DeepMAD", (split, metric)
    out = df[df["metric"] == "AUC outlier"]
    dm_max = lookup(df, split="2-in, 8-out", method="DeepMAD", metric="AUC max")
    assert set(out["method"]) == S_NORMAL_OUTLIER and (out["value"] > dm_max).all()
    bad = set()
    for split in df["split"].unique():
        for metric in ("AUC min", "AUC max"):
            for alg2 in ("DROCC", "DeepSVDD"):
                v2 = lookup(df, split=split, method=alg2, metric=metric, classes="")
                v1 = lookup(df, split=split, method=f"{alg2}(m)", metric=metric, classes="")
                if v2 < v1:
                    bad.add(cell_key(a, dict(dataset="CIFAR-10", split=split, classes="", method=alg2, metric=metric)))
    assert bad == listed_cells(a, "text")


def test_singh_table3_text_claims():
    df = pv.load_values(S, "table3")
    means = df[df["metric"] == "AUC mean"]
    for (ds, split), g in means.groupby(["dataset", "split"]):
        best = g.set_index("method")["value"].idxmax()
        assert best == ("DeepSVDD" if (ds, split) == ("fMNIST", "2-in, 8-out") else "DeepMAD"), (ds, split)
    f28 = means[means["split"] == "2-in, 8-out"]
    edge = lookup(f28, dataset="fMNIST", method="DeepSVDD") - lookup(f28, dataset="fMNIST", method="DeepMAD")
    assert 0.015 <= edge <= 0.025  # "DeepSVDD holding a 2% edge"
    c100 = means[means["dataset"] == "CIFAR-100"].set_index("method")["value"]
    for other in ("DROCC", "DeepSVDD"):
        assert 0.09 <= c100["DeepMAD"] - c100[other] <= 0.11  # "about 10% improvement"
        v = lookup(df, dataset="RECYCLE", split="5-in, 1-out", method=other)
        assert 7.5 <= lookup(df, dataset="RECYCLE", split="5-in, 1-out", method="DeepMAD") - v <= 8.5  # "about 8%"


KS_DIM = {"DROCC": 64, "DeepSVDD": 128, "DeepMAD": 128}


@pytest.mark.parametrize("art", ["table4", "table21", "table22"])
def test_singh_ks_tables_counts(art):
    df = pv.load_values(S, art)
    ks = df[df["metric"] == "KS h sum"]
    for _, g in ks.groupby(["method", "normal_classes", "ks_row"]):
        assert list(g["test_class"]) == [str(j) for j in range(10)]
    for r in ks.itertuples(index=False):
        assert r.value == int(r.value) and 0 <= r.value <= KS_DIM[r.method], r
        own = re.fullmatch(r"KS\((\d),-\)", r.ks_row)  # DeepMAD: encoder of one normal class
        if own and own.group(1) == r.test_class:
            assert r.value == 0, r
    auc = df[df["metric"] == "AUC"]
    assert len(auc) == ks.groupby(["method", "normal_classes"]).ngroups
    assert ((auc["value"] > 0) & (auc["value"] < 1)).all()


def test_singh_ks_appendix_copies():
    t4 = pv.load_values(S, "table4")
    t21, t22 = pv.load_values(S, "table21"), pv.load_values(S, "table22")
    keys = ["dataset", "normal_classes", "ks_row", "test_class", "method", "metric"]
    for copy, methods in ((t21, {"DROCC", "DeepSVDD"}), (t22, {"DeepMAD"})):
        assert set(copy["method"]) == methods
        ref = t4[t4["method"].isin(methods)]
        merged = ref.merge(copy, on=keys, how="outer", suffixes=("", "_copy"), indicator=True)
        assert (merged["_merge"] == "both").all()
        diff = merged[merged["printed"] != merged["printed_copy"]]
        got = {cell_key(None, {k: r[k] for k in keys}) for _, r in diff.iterrows()}
        art = "table21" if copy is t21 else "table22"
        assert got == listed_cells(pv.get_artefact(S, art), "cross_table")
        if art == "table22":
            assert got == listed_cells(pv.get_artefact(S, "table4"), "cross_table") and len(got) == 1


def test_singh_ks_text_claims():
    t4 = pv.load_values(S, "table4")
    ks = t4[t4["metric"] == "KS h sum"]

    def anomalous_mean(method, pair, row=None):
        g = ks[(ks["method"] == method) & (ks["normal_classes"] == pair)]
        if row:
            g = g[g["ks_row"] == row]
        normal = {str(c) for c in _classes(pair)}
        return g.loc[~g["test_class"].isin(normal), "value"].mean(), g

    best, _ = anomalous_mean("DROCC", "(0,8)")
    worst, g = anomalous_mean("DROCC", "(5,9)")
    assert best > 0.95 * 64 > worst  # "almost optimal" for (0,8)
    anom = g[~g["test_class"].isin({"5", "9"})]
    assert anom.loc[anom["value"].idxmin(), "test_class"] == "1"  # "lower for class 1"
    b, _ = anomalous_mean("DeepSVDD", "(4,6)")
    w, _ = anomalous_mean("DeepSVDD", "(1,5)")
    ratio = w / b
    assert not 0.45 <= ratio <= 0.55  # "the worst case has half the average KS": listed as text
    texts = [i["text"] for i in pv.get_artefact(S, "table4")["inconsistencies"] if i["check"] == "text"]
    assert any("half" in t for t in texts)
    for row in ("KS(0,-)", "KS(1,-)"):
        for low in ("KS(3,-)", "KS(5,-)"):
            assert anomalous_mean("DeepMAD", "(0,1)", row)[0] > anomalous_mean("DeepMAD", "(3,5)", low)[0]


def test_singh_ks_aucs_vs_appendix_lists():
    """Table 4 AUCs round the appendix values; best/worst cases are rank 1 except the listed ones."""
    a = pv.get_artefact(S, "table4")
    t4 = pv.load_values(S, "table4")
    auc = t4[t4["metric"] == "AUC"]
    source = {"DROCC": "table5", "DeepSVDD": "table8", "DeepMAD": "table9"}
    bad = set()
    for method, g in auc.groupby("method"):
        lst = pv.load_values(S, source[method])
        hi_pair = g.loc[g["value"].idxmax(), "normal_classes"]
        for r in g.itertuples(index=False):
            pair = "(" + ", ".join(str(c) for c in _classes(r.normal_classes)) + ")"
            row = lst[lst["classes"] == pair]
            assert len(row) == 1, (method, pair)
            assert round(row["value"].iloc[0], decimals(r.printed)) == r.value, (method, pair)
            kind = "best" if r.normal_classes == hi_pair else "worst"
            if row["list"].iloc[0] != kind or row["rank"].iloc[0] != "1":
                bad.add(cell_key(a, {k: getattr(r, k) for k in pv.row_key_columns(t4) + ["method", "metric"]}))
    assert bad == listed_cells(a, "text")


def test_singh_figure4_equals_tables13_to_17():
    fig = pv.load_values(S, "figure4")
    art = pv.get_artefact(S, "figure4")
    assert art["sources"] == [f"table{n}" for n in range(13, 18)]
    parts = []
    for src in art["sources"]:
        t = pv.load_values(S, src)
        parts.append(t.assign(method=pv.get_artefact(S, src)["identity"]["table2_method"]))
    expected = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(fig, expected)
    assert sorted(fig["method"].unique()) == ["DROCC", "DROCC(m)", "DeepMAD", "DeepSVDD", "DeepSVDD(m)"]
    # "DeepMAD ... shows considerably low variance": smallest spread of the 20 plotted values
    spread = fig.groupby("method")["value"].std()
    assert spread.idxmin() == "DeepMAD"


def test_singh_hyperparameters_match_text():
    t18, t19, t20 = (pv.load_values(S, f"table{n}") for n in (18, 19, 20))
    # Sec. 5: "radius r = 8, mu = 1, learning rate = 0.001, ascent step = 0.001"
    assert dict(zip(t18["metric"], t18["value"])) == {
        "Radius": 8, "mu": 1, "Learning Rate": 0.001, "Adversarial Ascent Step Size": 0.001}
    # Sec. 5: DeepSVDD "eta = 1, learning rate of 0.0001"
    assert lookup(t19, metric="eta") == 1 and lookup(t19, metric="Learning Rate") == 0.0001
    cfg = t20.pivot(index="row", columns="metric", values="value")
    assert len(cfg) == 5 and (cfg["eta"] == 1).all() and (cfg["Learning Rate"] == 0.0001).all()
    assert (cfg["Weight Decay"] == 1e-6).all() and lookup(t19, metric="Weight Decay") == 1e-6
    assert sorted(cfg.loc[cfg["rep_dim"] == 128, "delta"]) == [8.0, 8.2, 8.5]
    # Fig. 8 / App. H: rep_dim 128, 64, 32 at the same delta
    assert sorted(cfg.loc[cfg["delta"] == 8.2, "rep_dim"]) == [32, 64, 128]


# --------------------------------------------------------------------------- ahmed2020

AH = "ahmed2020"
MEMBERS = {"dog": 12, "car": 10, "snake": 9, "spider": 6, "fungus": 6}


@pytest.mark.parametrize(
    "art,row_col,groups",
    [
        ("table3", "held_out_class", ["dataset", "method", "metric"]),
        ("table4", "held_out_class", ["dataset", "method", "metric"]),
        ("appendix_b", "held_out_class", ["dataset", "subset", "method", "metric"]),
        ("appendix_c", "held_out_class", ["dataset", "subset", "method", "metric"]),
    ],
)
def test_ahmed_average_rows(art, row_col, groups):
    check_means(AH, art, row_col, groups)


def test_ahmed_member_counts_and_skew():
    t1 = pv.load_values(AH, "table1")
    for art in ("appendix_b", "appendix_c"):
        df = pv.load_values(AH, art)
        per = df[df["held_out_class"] != "Mean"].groupby("subset")["held_out_class"].nunique().to_dict()
        assert per == MEMBERS, (art, per)
    for subset, k in MEMBERS.items():
        n = lookup(t1[t1["subset"].str.lower().str.startswith(subset)], metric="Number of members")
        assert n == k
        n_test = lookup(t1[t1["subset"].str.lower().str.startswith(subset)], metric="Total test images")
        assert n_test == 50 * k
        for art in ("table5", "table6"):
            skew = lookup(pv.load_values(AH, art), subset=subset, metric="Skew")
            assert skew == pytest.approx(100 / k, abs=0.005)
    for art in ("table3", "table4"):
        df = pv.load_values(AH, art)
        assert df.loc[df["held_out_class"] != "Mean", "held_out_class"].nunique() == 10


def _std_printed(df, **kw):
    return lookup_printed(df, **kw)


@pytest.mark.parametrize("summary,expanded", [("table5", "appendix_b"), ("table6", "appendix_c")])
def test_ahmed_subset_tables_equal_appendix_averages(summary, expanded):
    s = pv.load_values(AH, summary)
    e = pv.load_values(AH, expanded)
    avg = e[e["held_out_class"] == "Mean"]
    listed = listed_cells(pv.get_artefact(AH, summary), "cross_table")
    bad = set()
    for r in s[s["metric"] != "Skew"].itertuples(index=False):
        p = lookup_printed(avg, subset=r.subset, method=r.method, metric=r.metric)
        if p != r.printed:
            bad.add(cell_key(None, dict(dataset=r.dataset, subset=r.subset, method=r.method, metric=r.metric)))
    assert bad == listed


def test_ahmed_masking_table_repeats_table3():
    sec = pv.load_values(AH, "sec5_2_masking")
    t3 = pv.load_values(AH, "table3")
    avg = t3[t3["held_out_class"] == "Mean"]
    for method, t3m in (("Base model", "Classification-only"), ("Rotation-augmented", "Rotation-augmented")):
        assert lookup_printed(sec, method=method, metric="Accuracy") == lookup_printed(avg, method=t3m, metric="Accuracy")
        assert lookup_printed(sec, method=method, metric="Av. Prec. with MSP") == lookup_printed(avg, method=t3m, metric="MSP AP")


# --------------------------------------------------------------------------- rafiee2021

RF = "rafiee2021"


def test_rafiee_average_rows():
    check_means(RF, "table3", "class", ["dataset", "scheme", "method", "metric"])


def test_rafiee_class_counts_and_table1_equals_table3_averages():
    t3 = pv.load_values(RF, "table3")
    per = t3[t3["class"] != "Mean"].groupby("dataset")["class"].nunique().to_dict()
    assert per == {"CIFAR-10": 10, "fMNIST": 10, "MNIST": 10, "CatsVsDogs": 2}
    t1 = pv.load_values(RF, "table1")
    avg = t3[t3["class"] == "Mean"]
    for r in t1.itertuples(index=False):
        m = "Ours" if r.method == "AD-CGAN" else r.method
        v = lookup(avg, dataset=r.dataset, scheme=r.scheme, method=m)
        assert (math.isnan(v) and math.isnan(r.value)) or v == r.value, r


def test_rafiee_table4_gf_equals_table1():
    t4, t1 = pv.load_values(RF, "table4"), pv.load_values(RF, "table1")
    gf = t4[t4["method"] == "AD-CGAN_GF"]
    assert len(gf) == 4
    for r in gf.itertuples(index=False):
        assert r.printed == lookup_printed(t1, dataset=r.dataset, scheme=r.scheme, method="AD-CGAN")
    # LG < LFE < LFL < GF in every column (the paper's ablation claim)
    for (ds, sc), g in t4.groupby(["dataset", "scheme"]):
        vals = [lookup(g, method=m) for m in ("AD-CGAN_LG", "AD-CGAN_LFE", "AD-CGAN_LFL", "AD-CGAN_GF")]
        assert vals == sorted(vals)


# --------------------------------------------------------------------------- one value, for prose


def test_paper_value_and_printed_select_exactly_one_row():
    assert pv.paper_value("ruff2021", "table1", method="BCE") == 96.1
    assert pv.paper_printed("ruff2021", "table1", method="GT+*", group="Unsupervised") == "90.1"
    # as printed: trailing zeros kept, "± std" and "%" dropped
    assert pv.paper_printed("hendrycks2019", "appendix_c", method="+OE fine-tuned", metric="FPR95") == "9.50"
    assert pv.paper_printed("ahmed2020", "table3", held_out_class="Mean", method="Classification-only",
                            metric="MSP AP") == "34.92"


@pytest.mark.parametrize("selectors, match", [
    ({"method": "GT+*"}, r"ruff2021/table1: 2 rows with method='GT\+\*'; select on group too"),
    ({"method": "nope"}, "ruff2021/table1: no row with method='nope'"),
    ({"metod": "BCE"}, "no column.*metod; columns: dataset, group, method"),
])
def test_paper_value_says_why_a_selection_is_not_one_row(selectors, match):
    with pytest.raises(ValueError, match=match):
        pv.paper_value("ruff2021", "table1", **selectors)


@pytest.mark.parametrize("printed, number", [("43.30 ± 1.13", "43.30"), ("5.16%", "5.16"), ("64.8*", "64.8"),
                                             ("48.3†", "48.3"), ("100.", "100."), ("−0.5", "-0.5")])
def test_printed_number(printed, number):
    assert pv.printed_number(printed) == number
