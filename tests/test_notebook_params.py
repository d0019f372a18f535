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
    assert "takes: scale, seeds, device, force, workers" in message
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
