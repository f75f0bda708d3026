"""Image model speed, side by side in one process: time per image (batch of one vs batched) and training
steps/s (the shipped 2x2 space-to-depth UNet vs the same UNet on the unfolded 32x32 image).

    .venv/bin/python bench/bench_image_model.py [MODEL_DIR] [--threads 1] [--train-steps 20]

Prints one line per measurement and the ratios; writes bench/results/bench_image_model.json.
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch
from fancy_lib.image.model import TrainConfig, held_out_captions, load_pipeline, set_threads, train_image_model


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
    res = {"threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "machine": platform.machine(), "cpu_count": os.cpu_count()}
    res["s_per_image_batch1"] = per_image_seconds(pipe, 1)
    res["s_per_image_batch16"] = per_image_seconds(pipe, 16)
    print(f"time per image, 20 DDIM steps + guidance: batch 1 {res['s_per_image_batch1']:.3f} s, "
          f"batch 16 {res['s_per_image_batch16']:.3f} s/image -> batching x{res['s_per_image_batch1']/res['s_per_image_batch16']:.2f}")
    res["train_steps_per_s_patch2"] = train_steps_per_s(2, a.train_steps, width, 64, a.threads)
    res["train_steps_per_s_patch1"] = train_steps_per_s(1, max(4, a.train_steps // 4), width, 64, a.threads)
    print(f"training steps/s at batch 64: folded 2x2 (shipped) {res['train_steps_per_s_patch2']:.3f}, unfolded 32x32 "
          f"{res['train_steps_per_s_patch1']:.3f} -> x{res['train_steps_per_s_patch2']/res['train_steps_per_s_patch1']:.2f}")
    out = Path("bench/results"); out.mkdir(parents=True, exist_ok=True)
    (out / "bench_image_model.json").write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
