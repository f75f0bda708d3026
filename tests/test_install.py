"""The install stays honest: the quant line needs no torch, diffusers or gradio."""
import subprocess
import sys
import tomllib

from conftest import ROOT

IMAGE_ONLY = ("torch", "diffusers", "gradio")


def test_core_dependencies_exclude_the_image_stack():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.split("[")[0].split(">")[0].split("=")[0].strip() in IMAGE_ONLY]


def test_quant_modules_import_without_the_image_stack():
    code = ("import sys, fancy_lib.config, fancy_lib.data, fancy_lib.synthetic, fancy_lib.metrics, "
            "fancy_lib.backtest, fancy_lib.runs, fancy_lib.reports, fancy_lib.cli; "
            f"print([m for m in {IMAGE_ONLY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_image_extra_pins_the_cpu_torch_build():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "torch==2.13.0" in extras["image"]
