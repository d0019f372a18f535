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
