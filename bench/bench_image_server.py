"""Image server cost, side by side in one script: the bare pipeline call vs the same image through
`fancy image serve` and the official `openai` client, and throughput of N concurrent requests with and
without batching.

    .venv/bin/python bench/bench_image_server.py [--model DIR] [--threads 1] [--repeats 15] [--concurrent 8] [--rounds 5]

--model defaults to the shipped, trained model (models/image, committed with the repository); a
directory without a pipeline stops the script with a message, never a silent stand-in. Resolution,
step count and guidance are the pipeline's defaults, the torch thread count (--threads, the server's default 1) is
the same for the bare calls and the servers (guidance from its config), as the server uses them. Timings are medians of interleaved repeats
(bare and served alternate; the batching-off and batching-on servers run side by side and alternate
rounds), so load from other work on a shared machine hits both sides alike. Printed, never asserted;
results go to bench/results/bench_image_server.json.

Batching needs a pipeline that takes one torch.Generator per image (per-image seeds). When the model
does not (the server then runs each request alone), the batching figures are measured through
`OneGeneratorPerPass`, a subclass that hands the pipeline the first generator of the pass: the forward
pass is the very one batching makes, only the seeds of the 2nd..Nth image differ. The script says which.
"""
from __future__ import annotations
import argparse, base64, functools, io, json, os, platform, statistics, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import httpx
import torch
from openai import OpenAI
from PIL import Image

from fancy_lib.image.model import ShapesDiffusionPipeline, load_pipeline
from fancy_lib.image.generation import pipeline_info

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROMPT = "a small red circle in the center on a white background"
KEY = "sk-bench"


class OneGeneratorPerPass(ShapesDiffusionPipeline):
    "Bench-only: accepts a list of generators and passes the first one on (one forward pass for the whole batch)."
    @functools.wraps(ShapesDiffusionPipeline.__call__)  # the parent's signature, so the server reads the same defaults
    def __call__(self, prompt, *, generator=None, **kw):
        return super().__call__(prompt, generator=generator[0] if isinstance(generator, list) else generator, **kw)


SHIPPED_MODEL = ROOT / "models" / "image"


def model_dir(arg: str | None) -> Path:
    "The pipeline directory to measure: --model, else the shipped model; a clear stop when it holds no pipeline."
    p = Path(arg) if arg else SHIPPED_MODEL
    if not (p / "model_index.json").is_file():
        raise SystemExit(f"--model {p}: no model_index.json there, so no pipeline to measure. The shipped model is "
                         f"{SHIPPED_MODEL.relative_to(ROOT)} (committed: git checkout -- models/image); or pass --model a diffusers pipeline directory.")
    return p


class Server:
    "`fancy image serve` as a subprocess on a free loopback port."
    def __init__(self, mdir: Path, *args):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]
        env = {**os.environ, "FANCY_IMAGE_API_KEYS": KEY, "PYTHONPATH": str(Path(__file__).parent), "FANCY_RUNS_DIR": tempfile.mkdtemp()}
        self.proc = subprocess.Popen([str(BIN / "fancy"), "image", "serve", "--model", str(mdir), "--port", str(self.port),
                                      "--max-concurrency", "64", "--threads", str(torch.get_num_threads()), *args], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200: break
            except httpx.HTTPError: time.sleep(0.2)
            if self.proc.poll() is not None: raise SystemExit(f"server failed: {self.proc.stderr.read().decode()}")
        self.health = httpx.get(self.base + "/health").json()
        self.client = OpenAI(base_url=self.base + "/v1", api_key=KEY, max_retries=0, timeout=600)

    def generate(self, seed: int) -> Image.Image:
        r = self.client.images.generate(prompt=PROMPT, extra_body={"seed": seed})
        return Image.open(io.BytesIO(base64.b64decode(r.data[0].b64_json)))

    def close(self):
        self.proc.terminate(); self.proc.wait(30)


def throughput(server: Server, n: int, rounds: int = 3, warm: bool = True) -> float:
    "Images per second for `n` requests sent at once (n=1 each): median of `rounds`, after a warm-up (first passes are slow)."
    if warm:
        for i in range(3): server.generate(i)
    rates = []
    with ThreadPoolExecutor(n) as ex:
        for _ in range(rounds):
            t0 = time.perf_counter()
            list(ex.map(server.generate, range(n)))
            rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="diffusers pipeline directory (default: the shipped models/image)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads, for the bare calls and the servers alike")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--concurrent", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    mdir = model_dir(a.model)
    torch.set_num_threads(a.threads)
    source = str(mdir)
    pipe = load_pipeline(mdir)
    info = pipeline_info(pipe)  # the defaults the server uses: the bare calls below use the same ones
    size, steps = info.sizes[0], info.steps
    print(f"model: {source}; {size}, {steps} steps, guidance {info.guidance_scale:g} (pipeline defaults); torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cpus, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    out = {"model": source, "size": size, "steps": steps, "guidance_scale": info.guidance_scale, "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "platform": platform.platform()}

    # 1. one image: bare pipeline call vs through the server (interleaved, medians)
    # The server calls the pipeline under torch.inference_mode (the pipeline itself uses no_grad), so the bare call is
    # timed both ways: as a user calls it, and exactly as the server does; the overhead is against the latter.
    srv = Server(mdir)
    bare, bare_im, served = [], [], []
    for i in range(3): pipe(PROMPT, generator=torch.Generator().manual_seed(i)); srv.generate(i)      # warm-up
    for i in range(a.repeats):
        t0 = time.perf_counter(); pipe(PROMPT, generator=torch.Generator().manual_seed(i)); bare.append(time.perf_counter() - t0)
        with torch.inference_mode():
            t0 = time.perf_counter(); pipe(PROMPT, generator=torch.Generator().manual_seed(i)); bare_im.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); srv.generate(i); served.append(time.perf_counter() - t0)
    b, bi, s = statistics.median(bare), statistics.median(bare_im), statistics.median(served)
    out.update(bare_s_per_image=b, bare_inference_mode_s_per_image=bi, server_s_per_image=s, server_overhead=s / bi - 1)
    print(f"time per image   bare pipeline {b*1000:6.1f} ms ({bi*1000:6.1f} ms under inference_mode, as served)   "
          f"through server + openai client {s*1000:6.1f} ms   overhead {100*(s/bi-1):+.1f} % (target < 5 %)")
    batching_native = srv.health["batching"]
    srv.close()

    # 2. throughput of N concurrent requests, batching off vs on: both servers up, rounds alternated (the CPU is shared)
    cls = [] if batching_native else ["--pipeline-class", "bench_image_server:OneGeneratorPerPass"]
    how = "the model's own per-image generators" if batching_native else "OneGeneratorPerPass (the model takes one generator)"
    servers = {"off": Server(mdir, *cls, "--batch-window-ms", "0", "--max-batch-images", "1"),
               "on": Server(mdir, *cls, "--batch-window-ms", "10", "--max-batch-images", "8")}
    rates = {"off": [], "on": []}
    for srv in servers.values(): throughput(srv, a.concurrent, rounds=1)  # warm-up
    for _ in range(a.rounds):
        for name, srv in servers.items(): rates[name].append(throughput(srv, a.concurrent, rounds=1, warm=False))
    for srv in servers.values(): srv.close()
    res = {k: statistics.median(v) for k, v in rates.items()}
    out.update(concurrent=a.concurrent, throughput_no_batching=res["off"], throughput_batching=res["on"], batching_through=how,
               rounds={k: [round(x, 3) for x in v] for k, v in rates.items()})
    print(f"throughput, {a.concurrent} concurrent requests   no batching {res['off']:.2f} img/s   batching {res['on']:.2f} img/s   "
          f"x{res['on']/res['off']:.2f}   (median of {a.rounds} alternated rounds; batching through {how})")
    # the bare pipeline's own batch gain, for reference: N images one per call vs one call of N, alternated
    pipe([PROMPT] * a.concurrent, generator=torch.Generator().manual_seed(0))      # warm-up of the batch shape
    one, many = [], []
    for r in range(3):
        t0 = time.perf_counter()
        for i in range(a.concurrent): pipe(PROMPT, generator=torch.Generator().manual_seed(i))
        one.append(a.concurrent / (time.perf_counter() - t0))
        t0 = time.perf_counter(); pipe([PROMPT] * a.concurrent, generator=torch.Generator().manual_seed(r)); many.append(a.concurrent / (time.perf_counter() - t0))
    out.update(bare_one_per_call_img_per_s=statistics.median(one), bare_batched_img_per_s=statistics.median(many))
    print(f"bare pipeline   {a.concurrent} calls of one image {statistics.median(one):.2f} img/s   one call of {a.concurrent} images "
          f"{statistics.median(many):.2f} img/s   x{statistics.median(many)/statistics.median(one):.2f}")
    res_dir = ROOT / "bench" / "results"; res_dir.mkdir(exist_ok=True)
    (res_dir / "bench_image_server.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
