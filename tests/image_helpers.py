"""Helpers of the image API system tests: a real pipeline directory, `fancy image serve` as a subprocess, and scripted upstreams."""
import json
import os
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from conftest import BIN, ROOT

PROMPT = "a small red circle in the center on a white background"  # in the bundled model's caption grammar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real_pipeline_dir(tmp: Path) -> Path:
    """The shipped model (models/image) when it exists, else the model module's untrained configuration saved to `tmp`.

    Either way a real diffusers pipeline directory made by fancy_lib.image.model, never a stub."""
    shipped = ROOT / "models" / "image"
    if (shipped / "model_index.json").is_file():
        return shipped
    code = ("import sys, torch; from fancy_lib.image.model import make_pipeline, build_unet, CaptionEncoder; torch.manual_seed(0); "
            "make_pipeline(build_unet(), CaptionEncoder()).save_pretrained(sys.argv[1])")
    out = subprocess.run([str(BIN / "python"), "-c", code, str(tmp)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert out.returncode == 0, out.stderr
    return tmp


@contextmanager
def image_server(model_dir: Path, workdir: Path, *args, keys=("sk-test",), ready_s: float = 180):
    "Run `fancy image serve` on a free loopback port; yield (base_url, usage_log, process)."
    port = free_port()
    usage = workdir / f"usage-{port}.jsonl"
    env = {**os.environ, "FANCY_IMAGE_API_KEYS": ",".join(keys), "OMP_WAIT_POLICY": "PASSIVE", "FANCY_RUNS_DIR": str(workdir / "runs")}
    log = open(workdir / f"server-{port}.log", "w")
    proc = subprocess.Popen([str(BIN / "fancy"), "image", "serve", "--model", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
                             "--usage-log", str(usage), *map(str, args)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + ready_s
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"fancy image serve exited {proc.returncode}: {(workdir / f'server-{port}.log').read_text()}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200: break
            except httpx.HTTPError:
                pass
            if time.time() > deadline: raise AssertionError("fancy image serve did not become healthy")
            time.sleep(0.2)
        yield base + "/v1", usage, proc
    finally:
        proc.terminate()
        try: proc.wait(timeout=15)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


def wait_idle(base_v1: str, timeout: float = 60):
    "Wait until the server has no request in flight (timed-out work finishes in the background)."
    deadline = time.time() + timeout
    while httpx.get(base_v1[:-3] + "/health", timeout=5).json()["in_flight"] and time.time() < deadline:
        time.sleep(0.1)


class Upstream:
    "A scripted OpenAI-compatible upstream on loopback: /fail/ answers 500, /hang/ never answers in time, /garbage/ invalid JSON, /capture/ records."
    def __init__(self, hang_s: float = 3.0):
        self.requests, self.hang_s = [], hang_s
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                kind = self.path.split("/")[1]
                if kind == "hang": time.sleep(outer.hang_s)
                if kind == "fail":
                    return self._send(500, json.dumps({"error": {"message": "upstream exploded", "type": "server_error", "param": None, "code": None}}))
                if kind == "garbage":
                    return self._send(200, '{"created": 1, "data": [{"b64_json": "iVBOR')  # cut off mid-answer
                return self._send(200, json.dumps({"created": 1, "data": []}))

            def _send(self, code, text):
                data = text.encode()
                try:
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, kind: str) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
