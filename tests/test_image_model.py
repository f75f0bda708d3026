"""System tests of the shipped image model (models/image): it loads offline in a fresh process, refuses
sizes it cannot make, carries its own vocabulary, meets its goal, and its model card is what the scoring
script writes (re-measured here); the scorer can fail; the training notebook resumes from a checkpoint."""
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, fancy

MODEL = ROOT / "models" / "image"
ENV = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}


def py(code: str, timeout=600):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_shipped_model_loads_offline_and_refuses_other_sizes():
    r = py("import json, torch; from fancy_lib.image.model import load_pipeline\n"
           f"p = load_pipeline({str(MODEL)!r})\n"
           "im = p('a large red circle on the left on a white background', generator=torch.Generator().manual_seed(0)).images[0]\n"
           "try:\n    p('a large red circle on the left on a white background', height=64, width=64); print('NO ERROR')\n"
           "except ValueError as e: print('ERR', e)\n"
           "print(type(p).__name__, p.supported_sizes, im.size)")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ERR size 64x64 is not supported by this model; supported sizes: 32x32" in r.stdout
    assert "ShapesDiffusionPipeline ['32x32'] (32, 32)" in r.stdout
    assert (MODEL / "unet" / "diffusion_pytorch_model.safetensors").is_file()


def test_saved_model_class_paths_still_resolve():
    "The shipped model_index.json names its classes by module: after the split they are still where it says."
    import importlib
    index = json.loads((MODEL / "model_index.json").read_text())
    ours = {k: v for k, v in index.items() if isinstance(v, list) and v[0].startswith("fancy_lib")}
    assert ours == {"text_encoder": ["fancy_lib.image.model", "CaptionEncoder"]}
    M = importlib.import_module("fancy_lib.image.model")
    assert isinstance(getattr(M, "CaptionEncoder"), type) and index["_class_name"] == M.ShapesDiffusionPipeline.__name__


def test_shipped_model_makes_a_free_prompt_as_its_canonical_caption():
    import numpy as np
    import torch
    from fancy_lib.image.model import PromptError, load_pipeline
    p = load_pipeline(MODEL)
    cap = "a large red circle on the left on a white background"
    make = lambda text: np.asarray(p(text, num_inference_steps=4, generator=torch.Generator().manual_seed(3)).images[0])
    assert p.revise_prompt("Red circle, left") == cap
    assert np.array_equal(make("Red circle, left"), make(cap))      # generated from the canonical caption, seed for seed
    with pytest.raises(PromptError) as e:
        p("a red blue circle", num_inference_steps=2)
    assert (e.value.slot, e.value.words) == ("colour", ("red", "blue")) and "two colours: 'red' and 'blue'" in str(e.value)
    with pytest.raises(PromptError, match="two backgrounds: 'white' and 'black'"):
        p([cap, "a red circle on a white background on a black background"], num_inference_steps=2)


def _section(card: str, title: str) -> str:
    "A section of a model card, without the sample grid's file size (PNG bytes may differ across Pillow builds)."
    text = card.split(f"## {title}")[1].split("\n## ")[0]
    return "\n".join(line for line in text.splitlines() if not line.startswith("`sample_grid.png` ("))


def test_shipped_score_meets_the_goal():
    score = json.loads((MODEL / "score.json").read_text())
    index = json.loads((MODEL / "model_index.json").read_text())
    assert score["n"] >= 96 and score["colour_accuracy"] >= 0.9 and score["shape_accuracy"] >= 0.8, score["summary"]
    # scored at the model's own default guidance, which the validation captions chose
    assert score["guidance_scale"] == index["default_guidance_scale"] == score["guidance_validation"]["best"]
    assert "Goal (colour ≥ 90 %, shape ≥ 80 %): **reached**" in (MODEL / "MODEL_CARD.md").read_text()


def test_shipped_text_encoder_config_has_its_vocabulary():
    from fancy_lib.image.caption import CAPTION_GRAMMAR
    from fancy_lib.image.model import PAD
    from safetensors import safe_open
    vocab = json.loads((MODEL / "text_encoder" / "config.json").read_text())["vocab"]
    assert vocab == [PAD] + CAPTION_GRAMMAR.words     # the vocabulary the shipped model was trained and scored with
    with safe_open(str(MODEL / "text_encoder" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert f.get_slice("embed.weight").get_shape()[0] == len(vocab)


def test_saved_encoder_decodes_with_its_own_vocabulary_when_the_grammar_changes(tmp_path, monkeypatch):
    import torch
    import fancy_lib.image.model as M
    torch.manual_seed(0)
    enc = M.CaptionEncoder(dim=8)
    enc.save_pretrained(tmp_path / "enc")
    cap = "a large red circle on the left on a white background"
    ids = enc.tokenize(cap)
    # the code's grammar renames one word: a new encoder's vocabulary shifts, the saved one must not
    g = M.CAPTION_GRAMMAR
    renamed = dataclasses.replace(g, colours={("crimson" if k == "red" else k): v for k, v in g.colours.items()})
    monkeypatch.setattr(M, "CAPTION_GRAMMAR", renamed)
    assert M.CaptionEncoder(dim=8).vocab != enc.vocab
    loaded = M.CaptionEncoder.from_pretrained(tmp_path / "enc")
    assert loaded.vocab == enc.vocab
    assert torch.equal(loaded.tokenize(cap), ids)
    assert torch.equal(loaded(ids), enc(ids))
    with pytest.raises(M.CaptionError, match="unknown word 'crimson'"):
        loaded.tokenize(cap.replace("red", "crimson"))
    # a config without a vocabulary is refused rather than given today's (renamed) one
    cfg = tmp_path / "enc" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "vocab": None}))
    with pytest.raises(M.ModelFormatError, match="has no 'vocab'"):
        M.CaptionEncoder.from_pretrained(tmp_path / "enc")


def test_omp_wait_policy_is_set_before_torch_is_loaded():
    env = {k: v for k, v in ENV.items() if k != "OMP_WAIT_POLICY"}   # imports only: nothing runs in parallel
    code = "import fancy_lib.image.adherence; from fancy_lib.image.model import torch_runtime; print(torch_runtime()['omp_wait_policy'])"
    for first, expected in (("", "PASSIVE"), ("import torch; ", "unknown: torch was imported before fancy_lib.image.model")):
        r = subprocess.run([sys.executable, "-c", first + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.strip().splitlines()[-1] == expected


def test_scorer_fails_an_untrained_pipeline():
    import torch
    from fancy_lib.image.caption import held_out_captions
    from fancy_lib.image.model import CaptionEncoder, build_unet, make_pipeline
    from fancy_lib.image.adherence import adherence_score
    torch.manual_seed(0)
    rep = adherence_score(make_pipeline(build_unet(), CaptionEncoder()), held_out_captions(12, seed=0), seed=0)
    assert rep.colour_accuracy < 0.5 and rep.shape_accuracy < 0.5, rep.summary()


@pytest.mark.slow
def test_model_card_score_is_the_measured_score(tmp_path):
    shipped = json.loads((MODEL / "score.json").read_text())
    card = (MODEL / "MODEL_CARD.md").read_text()
    assert f"| colour | {shipped['colour_accuracy']:.1%} |" in card
    assert f"| shape | {shipped['shape_accuracy']:.1%} |" in card
    assert "shared with other jobs" not in card
    copy = tmp_path / "image"
    shutil.copytree(MODEL, copy)
    r = subprocess.run([sys.executable, "-m", "fancy_lib.image.adherence", "score", str(copy), "--n", str(int(shipped["n"])),
                        "--seed", str(int(shipped["seed"]))], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads((copy / "score.json").read_text())
    for k in ("colour_accuracy", "shape_accuracy", "position_accuracy", "size_accuracy", "all_accuracy", "n"):
        assert again[k] == shipped[k], (k, again[k], shipped[k])
    assert again["guidance_validation"] == shipped["guidance_validation"]
    assert (copy / "guidance_validation.csv").read_text() == (MODEL / "guidance_validation.csv").read_text()
    assert (copy / "score_rows.csv").read_text() == (MODEL / "score_rows.csv").read_text()
    # the shipped card is what today's code writes: the measured and the recorded sections are identical
    new = (copy / "MODEL_CARD.md").read_text()
    for title in ("Adherence on held-out captions", "Training", "Limitations"):
        assert _section(new, title) == _section(card, title), title


@pytest.mark.slow
def test_training_notebook_runs_and_resumes(sandbox):
    common = ["-p", "width", "8", "-p", "batch", "2", "-p", "n_eval", "6", "-p", "checkpoint_every", "1", "--no-report"]
    r = fancy("run", "train_image_model", "-p", "steps", "2", *common, env=sandbox["env"])
    assert r.returncode == 0, r.stdout + r.stderr
    first = sandbox["runs"] / r.stdout.split()[1].rstrip(":")
    m = json.loads((first / "manifest.json").read_text())["metrics"]
    assert m["training.steps"] == 2 and m["training.first_step"] == 0 and m["adherence.n"] == 6
    assert m["training.omp_wait_policy_passive"] == 1.0
    pipeline = first / "artifacts" / "pipeline"
    index = json.loads((pipeline / "model_index.json").read_text())
    # scored as `ship` scores: at the default guidance chosen on validation captions, written into the pipeline
    assert m["adherence.guidance_scale"] == m["guidance.chosen"] == index["default_guidance_scale"]
    assert (pipeline / "MODEL_CARD.md").is_file() and (pipeline / "guidance_validation.csv").is_file()
    ck = first / "artifacts" / "train" / "checkpoints" / "step_000002.pt"
    assert ck.is_file()

    r = fancy("run", "train_image_model", "-p", "steps", "4", "-p", "resume_from", str(ck), *common, env=sandbox["env"])
    assert r.returncode == 0, r.stdout + r.stderr
    second = sandbox["runs"] / r.stdout.split()[1].rstrip(":")
    m2 = json.loads((second / "manifest.json").read_text())["metrics"]
    assert m2["training.steps"] == 4 and m2["training.first_step"] == 2 and m2["training.segments"] == 2
    assert m2["training.train_wall_s"] > m["training.train_wall_s"] and m2["training.train_wall_s"] > m2["training.wall_s"]
    names = sorted(p.name for p in (second / "artifacts" / "train" / "checkpoints").glob("*.pt"))
    assert names == ["step_000003.pt", "step_000004.pt"]           # the step counter continued from the checkpoint
    info = json.loads((second / "artifacts" / "pipeline" / "training.json").read_text())
    assert [(s["from_step"], s["to_step"]) for s in info["train_segments"]] == [(0, 2), (2, 4)]
    assert info["step"] == 4 and info["resumed_from"] == str(ck)
