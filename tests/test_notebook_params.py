"""Notebook parameter checking: papermill's warning about unknown parameters becomes an error."""

import pytest

from adlib.notebook import ParameterError, check_parameters, declared_and_injected

PARAMS = 'scale = "cpu"  # smoke | cpu | paper\nseeds = [0, 1, 2]\ndevice = "auto"\n'


def _ns(*cells, **values):
    ns = {"In": ["", *cells]}
    ns.update({"scale": "cpu", "seeds": [0, 1, 2], "device": "auto"})
    ns.update(values)
    return ns


def test_declared_and_injected_names():
    declared, injected = declared_and_injected([PARAMS, "# Parameters\nscale = \"smoke\"\nsede = [1]\n", "x = 1"])
    assert declared == ["scale", "seeds", "device"]
    assert injected == ["scale", "sede"]


def test_unknown_parameter_is_an_error_naming_the_valid_ones():
    with pytest.raises(ParameterError, match="sede.*takes: scale, seeds, device"):
        check_parameters(_ns(PARAMS, "# Parameters\nsede = [1]\n", sede=[1]))


def test_valid_parameters_pass_and_are_returned():
    params = check_parameters(_ns(PARAMS, '# Parameters\nscale = "smoke"\n', scale="smoke"))
    assert params == {"scale": "smoke", "seeds": [0, 1, 2], "device": "auto"}


@pytest.mark.parametrize("values,match", [({"scale": "huge"}, "valid scales: smoke, cpu, paper"),
                                          ({"seeds": "0,1"}, "list of integers"),
                                          ({"seeds": []}, "list of integers")])
def test_bad_values(values, match):
    with pytest.raises(ParameterError, match=match):
        check_parameters(_ns(PARAMS, **values))


def _papermill_error(tmp_path, monkeypatch, **params):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from adlib.papers.registry import NOTEBOOKS

    monkeypatch.setenv("ADLIB_RESULTS", str(tmp_path / "results"))
    with pytest.raises(PapermillExecutionError) as err:
        papermill.execute_notebook(str(NOTEBOOKS[0].path), str(tmp_path / "out.ipynb"), parameters=params,
                                   kernel_name="python3", progress_bar=False)
    return str(err.value)


def test_papermill_with_an_undeclared_parameter_fails_naming_the_valid_ones(tmp_path, monkeypatch):
    message = _papermill_error(tmp_path, monkeypatch, scale="smoke", sede=[1])
    assert "unknown notebook parameter(s) sede" in message
    assert "takes: scale, seeds, device, force, workers, in_dataset, classes" in message
    assert "Traceback" not in message


def test_a_missing_dataset_names_the_command_that_gets_it(tmp_path, monkeypatch):
    from adlib.data.manifests import DatasetMissingError, locate

    monkeypatch.setenv("ADLIB_DATA", str(tmp_path / "no-data"))
    monkeypatch.chdir(tmp_path)
    try:
        locate("cifar10")
        pytest.skip("CIFAR-10 is present on this machine (./data/cifar10)")
    except DatasetMissingError:
        pass
    message = _papermill_error(tmp_path, monkeypatch, scale="paper", device="cpu")
    assert "DatasetMissingError" in message
    assert "python -m adlib.data fetch cifar10" in message


@pytest.mark.parametrize("classes, match", [
    ({"in": [0, 1, 2], "oe": [5, 7], "test_ood": [7, 9]}, r"\[7\] appear in both oe_classes and test_ood_classes"),
    ({"in": [0, 1, 12], "oe": [5], "test_ood": [7]}, "class 12, outside 0..9"),
    ({"in": [0], "oe": [5], "test_ood": [7]}, "at least two"),
    ({"in": [0, 1], "oe": [], "test_ood": [7]}, "at least one OE class"),
    ({"in": [0, 1], "test": [7]}, "exactly the keys"),
])
def test_impossible_splits_are_one_line_parameter_errors(classes, match):
    from adlib.papers.hendrycks2019.experiments import validate_data_choice

    params = 'scale = "cpu"\nseeds = [0]\nclasses = None\nin_dataset = None\n'
    with pytest.raises(ParameterError, match=match) as err:
        check_parameters(_ns(params, "# Parameters\nclasses = {}\n", classes=classes, in_dataset=None),
                         validate=validate_data_choice)
    assert "\n" not in str(err.value)


def test_papermill_with_an_impossible_split_fails_without_a_traceback(tmp_path, monkeypatch):
    message = _papermill_error(tmp_path, monkeypatch, scale="smoke",
                               classes={"in": [0, 1, 2], "oe": [5, 7], "test_ood": [7, 9]})
    assert "ParameterError" in message and "appear in both oe_classes and test_ood_classes" in message
    assert "Traceback" not in message
    message = _papermill_error(tmp_path, monkeypatch, scale="paper", in_dataset="imagenet")
    assert "valid: cifar10, cifar100, svhn" in message


def test_a_custom_split_runs_and_names_its_held_out_set():
    from adlib.papers.hendrycks2019.experiments import build_data, run_config

    cfg = run_config("smoke", "oe_tune", 0, classes={"in": [0, 1, 2], "oe": [3], "test_ood": [8]})
    assert cfg["model"]["num_classes"] == 3 and cfg["data"]["test_ood"][0] == "fmnist_test_classes"
    data = build_data(cfg["data"])
    assert len(data.ood["fmnist_test_classes"]) == 1000  # the 1,000 Bag test images
    assert set(data.train_y.unique().tolist()) == {0, 1, 2}


def test_list_and_dict_text_from_papermill_cli_becomes_a_literal():
    ns = _ns(PARAMS + "classes = None\n", '# Parameters\nseeds = "[0, 1]"\nclasses = \'{"in": [0, 1]}\'\n',
             seeds="[0, 1]", classes='{"in": [0, 1]}')
    params = check_parameters(ns)
    assert params["seeds"] == [0, 1] and ns["seeds"] == [0, 1]
    assert params["classes"] == {"in": [0, 1]}
    with pytest.raises(ParameterError, match="not a valid"):
        check_parameters(_ns(PARAMS, '# Parameters\nseeds = "[0, 1"\n', seeds="[0, 1"))


def test_papermill_cli_with_a_list_parameter_runs(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from adlib.papers.registry import NOTEBOOKS

    env = {**os.environ, "ADLIB_RESULTS": str(tmp_path / "r"), "ADLIB_CHECKPOINTS": str(tmp_path / "c"),
           "ADLIB_PROGRESS": "0"}
    nb = next(n for n in NOTEBOOKS if n.name == "table10")
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(nb.path), str(out), "-p", "scale", "smoke",
                           "-p", "seeds", "[0]"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    claims = json.loads((tmp_path / "r" / "hendrycks2019" / "claims" / "table10.smoke.json").read_text())
    assert claims["seeds"] == [0]
