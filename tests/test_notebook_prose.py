"""No paper number is typed by hand in the book's prose.

The book's rule: numbers in prose are inserted from the executed outputs, never typed. A paper's
reported numbers are quoted by code cells (tagged ``remove-input``) that format them from
``adlib/papers/<paper>/values/`` (:func:`adlib.paper_values.paper_printed`). This test reads every
notebook's Markdown cells and fails on a number (with a decimal point, or followed by "%") that
equals, as printed, a value the notebook's paper reports in its values CSVs. Section numbers
("§4.3") are not numbers here. Protocol constants and configuration that happen to coincide with a
reported value are listed in ``ALLOWED`` with the reason; an entry that no longer matches anything
fails too, so the list stays small and true.

The claims tables (``Claim(...)`` texts built by ``adlib/papers/<paper>/*.py`` and stored under
``results/<paper>/claims/``) follow the same rule: the string literals passed to ``Claim(...)`` (or to
a ``*_claim(...)`` helper) must not type a number the paper reports; the claims format it from the
values CSVs. ``CLAIMS_ALLOWED`` lists the thresholds that coincide with a reported value.

``ADLIB_PROSE_ROOT`` points the scans at another checkout's notebooks and report modules (e.g. to
see them fail on a tree whose prose or claims still type the paper's numbers).
"""

from __future__ import annotations

import ast
import os
import re
from functools import lru_cache
from pathlib import Path

import nbformat
import pytest

from adlib import paper_values as pv

ROOT = Path(os.environ.get("ADLIB_PROSE_ROOT") or Path(__file__).resolve().parents[1])
NOTEBOOKS = sorted(p for paper in pv.PAPERS for p in (ROOT / "notebooks" / paper).glob("*.ipynb"))

#: (notebook, number as typed, why it is not a quoted result)
ALLOWED: set[tuple[str, str, str]] = {
    ("hendrycks2019/table1", "0.5", "the OE loss weight λ = 0.5 (configuration)"),
    ("hendrycks2019/confidence_branch", "0.5", "the branch OE term's weight (configuration)"),
    ("hendrycks2019/confidence_branch", "0.1", "DeVries & Taylor's initial λ_c (configuration)"),
    ("hendrycks2019/confidence_branch", "0.3", "DeVries & Taylor's budget (configuration)"),
    ("hendrycks2019/gan_outliers", "0.1", "the joint confidence loss weight β (configuration)"),
    ("hendrycks2019/gan_outliers", "0.5", "the OE loss weight λ (configuration)"),
    ("hendrycks2019/language_models", "0.5", "the OE loss weight (configuration)"),
    ("singh2021/combinations", "0.5", "AUC 0.5, a random detector (a constant, not a result)"),
    ("singh2021/figure8", "0.75", "our reduced-scale δ rule, 0.75 × the median distance (configuration)"),
    ("singh2021/figure8", "8.2", "DeepMAD's δ, a hyperparameter of the paper (configuration, Table 20)"),
    ("ahmed2020/appendix_d", "10", "skew 10 %, one held-out class of ten (protocol)"),
}

# a number with a decimal point, or an integer followed by "%"; not a section number (§4.3) and not
# part of a longer token (5e-5, 1K, v1.2.3)
NUMBER = re.compile(r"(?<![\w.§])(?<!§ )(\d+\.\d+|\d+(?=\s?%))(?![\w.]\d|\w)")


@lru_cache(maxsize=None)
def reported_numbers(paper: str) -> dict[str, list[str]]:
    """Every number ``paper`` reports in its values CSVs, as printed -> the artefacts printing it."""
    out: dict[str, list[str]] = {}
    for art in pv.list_artefacts(paper):
        if not art.get("file"):
            continue
        for printed in pv.load_values(paper, art["id"]).printed:
            number = pv.printed_number(printed).rstrip(".")
            if re.fullmatch(r"-?\d+(\.\d+)?", number):
                out.setdefault(number.lstrip("-"), []).append(art["id"])
    return out


def typed_paper_numbers(path: Path) -> list[tuple[str, str, str]]:
    """(cell id, number, artefacts) for each Markdown number of ``path`` its paper reports."""
    paper = path.parent.name
    reported = reported_numbers(paper)
    nb = nbformat.read(str(path), as_version=4)
    hits = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for m in NUMBER.finditer(cell.source):
            if m.group(1) in reported:
                hits.append((cell.get("id"), m.group(1), ", ".join(sorted(set(reported[m.group(1)])))))
    return hits


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_scan_sees_the_notebooks():
    assert len(NOTEBOOKS) >= 30, f"expected the book's notebooks under {ROOT / 'notebooks'}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_name)
def test_no_paper_number_is_typed_in_markdown(path):
    allowed = {number for nb, number, _ in ALLOWED if nb == _name(path)}
    typed = [(cell, number, arts) for cell, number, arts in typed_paper_numbers(path) if number not in allowed]
    assert not typed, (
        f"{_name(path)}: Markdown types number(s) the paper reports; quote them from the values CSVs "
        "instead (a remove-input code cell using adlib.paper_values.paper_printed), or, for a protocol "
        "constant, add it to ALLOWED with the reason:\n"
        + "\n".join(f"  cell {cell}: {number} (printed in {arts})" for cell, number, arts in typed))


def test_every_allowed_number_is_still_there():
    by_name = {_name(p): p for p in NOTEBOOKS}
    stale = [(nb, number) for nb, number, _ in ALLOWED
             if nb not in by_name or number not in {n for _, n, _ in typed_paper_numbers(by_name[nb])}]
    assert not stale, f"ALLOWED entries that match nothing any more (remove them): {stale}"


def test_the_scan_finds_typed_numbers_and_skips_section_numbers():
    text = "Paper (§4.3, spec § 8.1): BCE 96.1, error 5.16 %, skew 10 %, ε = 5e-5, v1.2.3, 80 Million"
    assert [m.group(1) for m in NUMBER.finditer(text)] == ["96.1", "5.16", "10"]


def test_derived_paper_numbers_match_the_papers_text():
    """The summaries the prose computes from the values equal what the papers (and specs) say."""
    from adlib.papers.ahmed2020.baselines_report import paper_prose_numbers
    from adlib.papers.ahmed2020.report import table5_paper_prose_numbers
    from adlib.papers.singh2021.report import paper_cifar100_gain, paper_superclass10_count

    # ahmed2020 §6 / spec: "AP 1.3–2.9× the skew", "+0.12 to +1.70", "28 of 43", "5/5", "42/43"
    assert table5_paper_prose_numbers() == {
        "ratio_lo": "1.3", "ratio_hi": "2.9", "gain_lo": "+0.12", "gain_hi": "+1.70",
        "rot_msp_members": "28 of 43", "cpc_msp_subsets": "5/5", "cpc_acc_members": "42/43",
        "rot_msp_subsets": "5/5", "cpc_acc_subsets": "5/5", "ratio_cifar10": "3.5"}
    # ahmed2020 Appendix D: 96.84–99.77 on the easy sets, 58.06 on LSUN (crop), edge energy about 87.5 %
    assert paper_prose_numbers() == {"gmm_lo": "96.84", "gmm_hi": "99.77", "gmm_lsun_crop": "58.06",
                                     "edge_lsun_crop": "87.5"}
    # singh2021 §5: "DeepMAD has about 10% improvement" on CIFAR-100; Tables 10, 11: 9 of the best 10 pairs
    assert paper_cifar100_gain() == 10
    assert paper_superclass10_count() == "9 of 10"


def test_derived_claim_numbers_match_the_papers_tables():
    """The paper numbers the claims derive from the values equal what the book's claims said before."""
    from adlib.papers.ahmed2020.report import paper_accuracy_ap_rho, paper_odin_wins

    # ahmed2020 Tables 3 / 4: ODIN > MSP per class; Spearman ρ(accuracy, MSP AP), classification-only
    assert paper_odin_wins("table3") == "8/10 classification-only, 7/10 rotation"
    assert paper_odin_wins("table4") == "7/10 classification-only, 5/10 rotation"
    assert (paper_accuracy_ap_rho("table3"), paper_accuracy_ap_rho("table4")) == ("−0.07", "+0.74")


# ---------------------------------------------------------------------------------------------
# the claims tables

CLAIM_MODULES = sorted(p for paper in pv.PAPERS for p in (ROOT / "adlib" / "papers" / paper).glob("*.py"))

#: (module, number as typed, why it is not a quoted result)
CLAIMS_ALLOWED: set[tuple[str, str, str]] = {
    ("hendrycks2019/calibration", "0.5", "the claim's tolerance, 0.5 RMS points (a threshold, not a result)"),
    ("singh2021/report", "0.5", "AUC 0.5, a random detector (a constant, not a result)"),
}


def _is_claim_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
    return name == "Claim" or name.endswith("_claim")


def typed_claim_numbers(path: Path) -> list[tuple[int, str, str]]:
    """(line, number, artefacts) for each number, in a string literal passed to ``Claim(...)`` or a
    ``*_claim(...)`` helper of ``path``, that ``path``'s paper reports."""
    reported = reported_numbers(path.parent.name)
    hits = []
    for call in (n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if _is_claim_call(n)):
        for arg in list(call.args) + [k.value for k in call.keywords]:
            for node in ast.walk(arg):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for m in NUMBER.finditer(node.value):
                        if m.group(1) in reported:
                            hits.append((node.lineno, m.group(1), ", ".join(sorted(set(reported[m.group(1)])))))
    return sorted(set(hits))


def _module(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_the_claim_scan_sees_the_report_modules():
    assert {p.parent.name for p in CLAIM_MODULES} == set(pv.PAPERS)
    assert sum(bool([n for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if _is_claim_call(n)])
               for p in CLAIM_MODULES) >= 10


@pytest.mark.parametrize("path", CLAIM_MODULES, ids=_module)
def test_no_paper_number_is_typed_in_claims(path):
    allowed = {number for module, number, _ in CLAIMS_ALLOWED if module == _module(path)}
    typed = [(line, number, arts) for line, number, arts in typed_claim_numbers(path) if number not in allowed]
    assert not typed, (
        f"{_module(path)}: a claim types number(s) the paper reports; format them from the values CSVs "
        "instead (adlib.paper_values.paper_printed / printed_number), or, for a threshold or constant, add "
        "it to CLAIMS_ALLOWED with the reason:\n"
        + "\n".join(f"  line {line}: {number} (printed in {arts})" for line, number, arts in typed))


def test_every_claims_allowed_number_is_still_there():
    by_name = {_module(p): p for p in CLAIM_MODULES}
    stale = [(module, number) for module, number, _ in CLAIMS_ALLOWED
             if module not in by_name or number not in {n for _, n, _ in typed_claim_numbers(by_name[module])}]
    assert not stale, f"CLAIMS_ALLOWED entries that match nothing any more (remove them): {stale}"


def test_the_claim_scan_finds_a_typed_number():
    src = 'Claim("t1", "BCE and HSC within 2 points (paper: 96.1 vs 95.9)", True, f"ours {x:.1f}")\n'
    call = next(n for n in ast.walk(ast.parse(src)) if _is_claim_call(n))
    texts = [n.value for n in ast.walk(call) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert [m.group(1) for t in texts for m in NUMBER.finditer(t)] == ["96.1", "95.9"]
