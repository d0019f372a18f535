"""Fixtures shared by the test files."""

import pytest

from adlib.data import manifests as m


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    """``(manifest_dir, data_root)``: temporary manifests and data wired through ADLIB_MANIFESTS /
    ADLIB_DATA, with the in-process verification cache cleared."""
    manifests, data = tmp_path / "manifests", tmp_path / "data"
    manifests.mkdir()
    data.mkdir()
    monkeypatch.setenv(m.ENV_MANIFESTS, str(manifests))
    monkeypatch.setenv(m.ENV_DATA, str(data))
    m.clear_verification_cache()
    return manifests, data
