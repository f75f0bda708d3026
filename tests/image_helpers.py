"""Helpers of the image API system tests: the shipped model, `fancy image serve` as a subprocess, and scripted upstreams."""
import io
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
from PIL import Image

from conftest import BIN, ROOT

PROMPT = "a small red circle in the center on a white background"  # in the bundled model's caption grammar


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SHIPPED_MODEL = ROOT / "models" / "image"


def shipped_model_dir() -> Path:
    "The shipped, trained model (models/image, committed): the API tests run on it and on nothing else."
    missing = [f for f in ("model_index.json", "unet", "text_encoder", "scheduler") if not (SHIPPED_MODEL / f).exists()]
    if missing:
        raise AssertionError(f"the shipped image model is incomplete: {SHIPPED_MODEL} lacks {', '.join(missing)}; it is committed "
                             "with the repository (git checkout -- models/image) and the image API tests need it, not an untrained stand-in")
    return SHIPPED_MODEL


def store_of(usage: Path) -> Path:
    "The results store file a server started by `image_server` writes its usage records to."
    return usage.with_name(usage.stem.replace("usage", "store") + ".db")


@contextmanager
def image_server(model_dir: Path, workdir: Path, *args, keys=("sk-test",), ready_s: float = 180):
    "Run `fancy image serve` on a free loopback port; yield (base_url, usage_log, process)."
    port = free_port()
    usage = workdir / f"usage-{port}.jsonl"
    env = {**os.environ, "FANCY_IMAGE_API_KEYS": ",".join(keys), "OMP_WAIT_POLICY": "PASSIVE", "FANCY_RUNS_DIR": str(workdir / "runs"),
           "FANCY_STORE_URL": f"sqlite:///{store_of(usage)}"}
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


def png_of(size=(32, 32), colour="red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


class Upstream:
    """A scripted OpenAI-compatible upstream on loopback. POST by first path part: /fail/ answers 500, /hang/ never answers in time,
    /garbage/ invalid JSON, /badb64/ a `b64_json` that is a number, /url/ a link to an image on this upstream, /foreign/ a link
    to an image on `foreign` (another upstream), anything else (/capture/) an empty answer. GET /files/<name>.png serves a PNG.
    Every request is kept in `requests`."""
    def __init__(self, hang_s: float = 3.0, foreign: "Upstream | None" = None):
        self.requests, self.hang_s, self.foreign = [], hang_s, foreign
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
                if kind == "badb64":
                    return self._send(200, json.dumps({"created": 1, "data": [{"b64_json": 12345}]}))
                if kind in ("url", "foreign"):
                    host = outer if kind == "url" else outer.foreign
                    return self._send(200, json.dumps({"created": 1, "data": [{"url": f"{host.origin}/files/{kind}.png"}]}))
                return self._send(200, json.dumps({"created": 1, "data": []}))

            def do_GET(self):
                outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": b""})
                if self.path.startswith("/files/"): return self._send(200, png_of(), "image/png")
                return self._send(404, json.dumps({"error": {"message": "no such file", "type": "invalid_request_error", "param": None, "code": None}}))

            def _send(self, code, text, ctype="application/json"):
                data = text.encode() if isinstance(text, str) else text
                try:
                    self.send_response(code)
                    self.send_header("content-type", ctype)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, kind: str) -> str:
        return f"{self.origin}/{kind}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
