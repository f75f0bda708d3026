"""System tests of the shipped image model (models/image): it loads offline in a fresh process, refuses
sizes it cannot make, and its model card's score is what the scoring script measures (re-measured here)."""
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


@pytest.mark.slow
def test_model_card_score_is_the_measured_score(tmp_path):
    shipped = json.loads((MODEL / "score.json").read_text())
    card = (MODEL / "MODEL_CARD.md").read_text()
    assert f"| colour | {shipped['colour_accuracy']:.1%} |" in card
    assert f"| shape | {shipped['shape_accuracy']:.1%} |" in card
    copy = tmp_path / "image"
    shutil.copytree(MODEL, copy)
    r = subprocess.run([sys.executable, "-m", "fancy_lib.image.adherence", "score", str(copy), "--n", str(int(shipped["n"])),
                        "--seed", str(int(shipped["seed"]))], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    again = json.loads((copy / "score.json").read_text())
    for k in ("colour_accuracy", "shape_accuracy", "position_accuracy", "size_accuracy", "all_accuracy", "n"):
        assert again[k] == shipped[k], (k, again[k], shipped[k])


@pytest.mark.slow
def test_training_notebook_runs_a_few_steps(sandbox):
    r = fancy("run", "train_image_model", "-p", "steps", "4", "-p", "width", "8", "-p", "batch", "4", "-p", "n_eval", "6",
              "-p", "checkpoint_every", "2", "--no-report", env=sandbox["env"])
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = sandbox["runs"] / r.stdout.split()[1].rstrip(":")
    m = json.loads((run_dir / "manifest.json").read_text())
    assert m["metrics"]["training.steps"] == 4 and m["metrics"]["adherence.n"] == 6
    assert (run_dir / "artifacts" / "train" / "checkpoints" / "step_000004.pt").is_file()
    assert (run_dir / "artifacts" / "pipeline" / "model_index.json").is_file()
