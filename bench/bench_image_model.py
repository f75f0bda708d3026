"""Image model speed, side by side in one process: time per image (batch of one vs batched) and training
steps/s (the shipped 2x2 space-to-depth UNet vs the same UNet on the unfolded 32x32 image).

    .venv/bin/python bench/bench_image_model.py [MODEL_DIR] [--threads 1] [--train-steps 20]

Prints one line per measurement and the ratios; writes bench/results/bench_image_model.json.
"""
import argparse, json, tempfile, time
from pathlib import Path

# image.model sets OMP_WAIT_POLICY=PASSIVE before it loads torch (libgomp reads it only then): import it first
from fancy_lib.image.model import load_pipeline, set_threads, torch_runtime, unet_evaluations
from fancy_lib.image.caption import held_out_captions
from fancy_lib.image.training import TrainConfig, train_image_model
import torch


def per_image_seconds(pipe, batch: int, repeats: int = 3) -> float:
    caps = held_out_captions(batch, seed=0)
    pipe(caps, generator=torch.Generator().manual_seed(0))                # warm-up
    ts = []
    for i in range(repeats):
        t0 = time.perf_counter(); pipe(caps, generator=torch.Generator().manual_seed(i)); ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2] / batch


def train_steps_per_s(patch_size: int, steps: int, width: int, batch: int, threads: int) -> float:
    cfg = TrainConfig(patch_size=patch_size, width=width, steps=steps, batch_size=batch, warmup=1,
                      checkpoint_every=10 ** 9, log_every=10 ** 9, threads=threads)
    with tempfile.TemporaryDirectory() as d:
        train_image_model(TrainConfig(**{**cfg.__dict__, "steps": 2}), Path(d, "warm"), log=None)
        return train_image_model(cfg, Path(d, "run"), log=None).steps_per_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir", nargs="?", default="models/image")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=20)
    a = ap.parse_args()
    set_threads(a.threads)
    pipe = load_pipeline(a.model_dir)
    width = pipe.unet.config.block_out_channels[0]
    rt = torch_runtime()
    g = float(pipe.config.default_guidance_scale)
    res = {"threads": rt["threads"], "omp_wait_policy": rt["omp_wait_policy"], "machine": rt["machine"], "cpu_count": rt["cpu_count"],
           "hardware": rt["hardware"], "guidance_scale": g, "unet_evaluations_per_image": unet_evaluations(20, g)}
    res["s_per_image_batch1"] = per_image_seconds(pipe, 1)
    res["s_per_image_batch16"] = per_image_seconds(pipe, 16)
    print(f"time per image, 20 DDIM steps at the model's default guidance {g:g} ({res['unet_evaluations_per_image']} UNet evaluations), "
          f"{rt['threads']} thread(s), OMP_WAIT_POLICY as torch was loaded: {rt['omp_wait_policy']}: batch 1 {res['s_per_image_batch1']:.3f} s, "
          f"batch 16 {res['s_per_image_batch16']:.3f} s/image -> batching x{res['s_per_image_batch1']/res['s_per_image_batch16']:.2f}")
    res["train_steps_per_s_patch2"] = train_steps_per_s(2, a.train_steps, width, 64, a.threads)
    res["train_steps_per_s_patch1"] = train_steps_per_s(1, max(4, a.train_steps // 4), width, 64, a.threads)
    print(f"training steps/s at batch 64: folded 2x2 (shipped) {res['train_steps_per_s_patch2']:.3f}, unfolded 32x32 "
          f"{res['train_steps_per_s_patch1']:.3f} -> x{res['train_steps_per_s_patch2']/res['train_steps_per_s_patch1']:.2f}")
    out = Path("bench/results"); out.mkdir(parents=True, exist_ok=True)
    (out / "bench_image_model.json").write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
