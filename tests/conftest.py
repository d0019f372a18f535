"""Fixtures shared by the test files."""

import os

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


@pytest.fixture(autouse=True)
def _no_session_environment():
    """Each test starts outside a forced session and outside the book's core slots, and what a test
    sets of them (``execute_book(force=True)`` sets ``$ADLIB_FORCE_SINCE`` for the processes it
    starts) does not reach the next test: a forced sweep later would count runs stored since as
    already re-computed."""
    names = ("ADLIB_FORCE_SINCE", "ADLIB_CORE_SLOTS")
    saved = {name: os.environ.pop(name, None) for name in names}
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value
