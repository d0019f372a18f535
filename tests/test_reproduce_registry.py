"""`make reproduce` argument handling and the notebook registry."""

import re

import nbformat
import pytest

from adlib.paper_values import PAPERS, list_artefacts
from adlib.papers.registry import NOTEBOOKS
from adlib.reproduce import main, select_notebooks


def test_table_1_selects_every_papers_table1_notebook():
    chosen = select_notebooks(None, "table1")
    assert [(nb.paper, nb.name) for nb in chosen] == [("hendrycks2019", "table1"), ("ruff2021", "table1"),
                                                      ("rafiee2021", "table1"), ("singh2021", "theory"),
                                                      ("ahmed2020", "table1")]
    assert [nb.name for nb in select_notebooks("ahmed2020", "table3")] == ["holdout"]
    assert [nb.name for nb in select_notebooks("ahmed2020", "sec5_2_masking")] == ["masking"]
    assert [nb.name for nb in select_notebooks("rafiee2021", "table3")] == ["table1"]
    assert [nb.name for nb in select_notebooks("ruff2021", "figure5")] == ["blur"]
    assert [nb.name for nb in select_notebooks("hendrycks2019", "figure4")] == ["roc_curves"]


@pytest.mark.parametrize("argv,match", [
    (["--table", "99"], "valid: .*table1"),
    (["--paper", "nobody2020"], "valid papers: hendrycks2019"),
    (["--scale", "huge"], "valid scales: smoke, cpu, paper"),
    (["--table", "1", "--seeds", "a,b"], "comma-separated integers"),
])
def test_bad_arguments_are_errors_listing_the_valid_choices(argv, match, capsys):
    assert main(argv) == 2
    assert re.search(match, capsys.readouterr().err)


def test_every_registered_artefact_exists_in_the_paper_values():
    for nb in NOTEBOOKS:
        assert nb.paper in PAPERS
        ids = {a["id"] for a in list_artefacts(nb.paper)}
        assert set(nb.artefacts) <= ids, f"{nb.name}: {set(nb.artefacts) - ids} not in {nb.paper} values"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda nb: f"{nb.paper}/{nb.name}")
def test_notebooks_have_a_parameters_cell_first_and_check_it(nb):
    notebook = nbformat.read(nb.path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in ("scale", "seeds", "device", "force"):
        assert f"{name} =" in code[0].source
    assert "check_parameters(" in code[1].source
    assert 'scale = "cpu"' in code[0].source  # the default scale is cpu
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in code)
    assert not any(c.get("outputs") for c in code), "commit notebooks without outputs"


def test_reproduce_with_workers_runs_the_sweep_on_a_local_dask_cluster(tmp_path):
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "ADLIB_RESULTS": str(tmp_path / "results"), "ADLIB_CHECKPOINTS": str(tmp_path / "ckpt"),
           "ADLIB_PROGRESS": "0"}
    env.pop("ADLIB_STORED_ONLY", None)
    proc = subprocess.run([sys.executable, "-m", "adlib.reproduce", "--paper", "hendrycks2019", "--artefact",
                           "table10", "--scale", "smoke", "--seeds", "0", "--workers", "2",
                           "--output-dir", str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    runs = list((tmp_path / "results" / "hendrycks2019" / "vision_oe").glob("*.json"))
    assert runs
    assert all(json.loads(p.read_text())["provenance"]["dask_worker"] is not None for p in runs)
    assert (tmp_path / "out" / "hendrycks2019" / "table10.ipynb").exists()


def test_reproduce_rejects_a_non_positive_worker_count(capsys):
    from adlib.reproduce import main

    assert main(["--table", "1", "--workers", "0"]) == 2
    assert "WORKERS" in capsys.readouterr().err
