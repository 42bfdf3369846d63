"""The model manifest: every committed model is listed with its hash, and the
loaders of the defaults refuse a file that differs from its entry."""

import json
import shutil
import time
from pathlib import Path

import pytest

from tokencom_sdr.model_manifest import (ModelManifestError, load_model_manifest,
                                         safetensors_shapes, verify_model_bytes)
from tokencom_sdr.training.model_manifest_writer import computed_fields

PACKAGE = Path(__file__).resolve().parents[1] / "tokencom_sdr"
COMMITTED = sorted(p.relative_to(PACKAGE).as_posix() for pattern in (
    "context/data/*.safetensors", "tokens/data/*.safetensors", "tokens/data/*.json")
    for p in PACKAGE.glob(pattern))

pytestmark = pytest.mark.timeout(60)


def test_every_committed_model_has_a_complete_entry():
    manifest = load_model_manifest()
    assert sorted(manifest) == COMMITTED
    for path, entry in manifest.items():
        # The computed fields are those of the committed file.
        assert computed_fields(PACKAGE / path) == {k: entry[k] for k in
                                                   ("sha256", "bytes", "shapes", "config")}, path
        assert entry["kind"] and entry["datasets"] and entry["trained_by"].startswith("tokencom")
        assert entry["figures"], f"{path} has no measured figure"
        for figure in entry["figures"]:
            assert figure["command"].startswith(".venv/bin/python bench/"), figure
            assert (PACKAGE.parent / figure["results"]).is_file(), figure


def test_every_default_passes_its_own_check_quickly():
    start = time.perf_counter()
    for path in COMMITTED:
        verify_model_bytes((PACKAGE / path).read_bytes(), path)
    assert time.perf_counter() - start < 0.5  # the check adds little to a < 2 s load


def _corrupt_tensor_byte(source: Path, target: Path) -> None:
    blob = bytearray(source.read_bytes())
    blob[-100] ^= 0x01  # inside the last tensor's data: the header stays valid
    target.write_bytes(bytes(blob))


def test_text_context_loader_refuses_a_corrupted_default(tmp_path, monkeypatch):
    from tokencom_sdr.context import text_model
    from tokencom_sdr.context.checkpoint_file import ContextModelFileError

    copy = tmp_path / "text_context.safetensors"
    _corrupt_tensor_byte(PACKAGE / "context/data/text_context.safetensors", copy)
    monkeypatch.setattr(text_model, "default_text_context_path", lambda: copy)
    with pytest.raises(ContextModelFileError) as caught:
        text_model.load_text_context_model()
    message = str(caught.value)
    assert "\n" not in message and "sha256" in message and "model manifest" in message
    assert "git checkout -- tokencom_sdr/context/data/text_context.safetensors" in message
    # The same file at a path the user names is the user's own: not checked.
    shutil.copyfile(PACKAGE / "context/data/text_context.safetensors", tmp_path / "mine.st")
    assert text_model.load_text_context_model(tmp_path / "mine.st").num_parameters > 0


def test_image_tokenizer_loader_refuses_other_shapes(tmp_path, monkeypatch):
    from tokencom_sdr.tokens import image_vq

    original = PACKAGE / "tokens/data/image_vq_standard.safetensors"
    blob = original.read_bytes()
    shapes = safetensors_shapes(blob)
    name, shape = next((n, s) for n, s in shapes.items() if len(s) == 2 and s[0] != s[1])
    old = json.dumps(shape, separators=(",", ":")).encode()
    assert blob.count(old) >= 1
    # Same header length, two dimensions swapped: a valid file of another shape.
    swapped = blob.replace(old, json.dumps(shape[::-1], separators=(",", ":")).encode(), 1)
    copy = tmp_path / "image_vq_standard.safetensors"
    copy.write_bytes(swapped)
    monkeypatch.setattr(image_vq, "default_weight_path", lambda name: copy)
    with pytest.raises(image_vq.WeightFileError, match="tensor shapes differ") as caught:
        image_vq.ImageTokenizer.default("standard")
    assert "\n" not in str(caught.value)


def test_image_context_and_memory_loaders_refuse_corrupted_defaults(tmp_path, monkeypatch):
    from tokencom_sdr.context import image_maskgit, text_memory
    from tokencom_sdr.context.checkpoint_file import ContextModelFileError
    from tokencom_sdr.tokens.image_vq import WeightFileError

    copy = tmp_path / "image_context_lowrate.safetensors"
    _corrupt_tensor_byte(PACKAGE / "context/data/image_context_lowrate.safetensors", copy)
    monkeypatch.setattr(image_maskgit, "default_context_path", lambda name: copy)
    with pytest.raises(WeightFileError, match="sha256"):
        image_maskgit.ImageContextModel.default("low-rate")

    memory = tmp_path / "text_memory.safetensors"
    _corrupt_tensor_byte(PACKAGE / "context/data/text_memory.safetensors", memory)
    monkeypatch.setattr(text_memory, "default_text_memory_path", lambda: memory)
    with pytest.raises(ContextModelFileError, match="sha256"):
        text_memory.load_corpus_memory(None)


def test_tokenizer_json_is_checked_by_hash():
    path = "tokens/data/text_bpe_4096.json"
    blob = (PACKAGE / path).read_bytes()
    verify_model_bytes(blob, path)
    with pytest.raises(ModelManifestError, match="sha256"):
        verify_model_bytes(blob.replace(b'"vocab"', b'"vocab" ', 1), path)
    with pytest.raises(ModelManifestError, match="no entry"):
        verify_model_bytes(blob, "tokens/data/unknown.json")


def test_models_cli_lists_every_model(capsys):
    from tokencom_sdr.cli.main import main

    assert main(["models", "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)) == COMMITTED
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    for path in COMMITTED:
        assert path in table
