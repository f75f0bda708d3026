"""A fault-injecting images provider for the job system's fault suite: a real HTTP server speaking the
OpenAI Images API (`POST /v1/images/generations`), which honours `Idempotency-Key` as our own server
does and misbehaves at stated rates:

- `fail`: a definite failure, 400 with an OpenAI error body (nothing was generated);
- `timeout`: the request is received and the images are made, but the answer comes only after the
  client has given up (the outcome is uncertain to the caller; a retry with the same key gets the
  images that were made, without generating again);
- `slow`: answers correctly, but late (still within the client's timeout);
- `garbage`: 200 with a body that is not an images response (also uncertain to the caller);
- `refuse`: a prompt containing this text is refused with a 400 on every attempt (a content rule:
  the one fault that does not depend on chance, so a suite can count on at least one definite failure).

Which fault a request meets is a function of its idempotency key, its attempt number and the seed, so
a run is reproducible; `--open-with fail,timeout,garbage` makes the first requests (in arrival order)
meet those faults, so a short suite sees each of them whatever the draws. `GET /stats` says how many images each key made: the suite proves that no key
ever generated twice.

    python tests/fault_provider.py --port 8123 --fail 0.1 --timeout 0.1 --slow 0.1 --garbage 0.05 --delay 3 --slow-delay 0.3
"""
import argparse
import asyncio
import base64
import hashlib
import io
import threading
from collections import Counter

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from PIL import Image


def make_app(*, fail=0.0, timeout=0.0, slow=0.0, garbage=0.0, delay_s=3.0, slow_s=0.3, seed=0, refuse: str | None = None, open_with=()):
    app = FastAPI()
    made, attempts, outcomes = {}, Counter(), Counter()
    generated = Counter()                 # key -> images generated (must stay at n: never twice)
    lock = threading.Lock()
    opening = list(open_with)             # faults the first requests meet, in order
    for o in opening:
        if o not in ("fail", "timeout", "slow", "garbage", "ok"): raise ValueError(f"open_with: unknown fault {o!r}")

    def fault(key: str, attempt: int) -> str:
        u = int(hashlib.sha256(f"{seed}:{key}:{attempt}".encode()).hexdigest()[:8], 16) / 2**32
        for name, p in (("fail", fail), ("timeout", timeout), ("slow", slow), ("garbage", garbage)):
            if u < p: return name
            u -= p
        return "ok"

    def images(prompt: str, n: int, key: str) -> list:
        out = []
        for i in range(n):
            h = hashlib.sha256(f"{prompt}:{key}:{i}".encode()).digest()
            buf = io.BytesIO()
            Image.new("RGB", (32, 32), tuple(h[:3])).save(buf, format="PNG")
            out.append({"b64_json": base64.b64encode(buf.getvalue()).decode(), "revised_prompt": prompt})
        generated[key] += n
        return out

    @app.post("/v1/images/generations")
    async def generate(request: Request):
        body = await request.json()
        key = request.headers.get("idempotency-key") or f"anon-{id(body)}"
        with lock:
            attempts[key] += 1
            attempt = attempts[key]
            refused = bool(refuse) and refuse in str(body.get("prompt", ""))
            how = "refused" if refused else opening.pop(0) if opening else fault(key, attempt)
        outcomes[how] += 1
        if how == "refused":
            return JSONResponse({"error": {"message": "the provider's content rule refused this prompt (injected)", "type": "invalid_request_error",
                                           "param": "prompt", "code": "content_policy_violation"}}, status_code=400)
        if how == "fail":
            return JSONResponse({"error": {"message": "the provider refused this request (injected fault)", "type": "invalid_request_error",
                                           "param": None, "code": "injected"}}, status_code=400)
        n = int(body.get("n") or 1)
        if key not in made:                         # generate once per key; a retry gets what was made
            made[key] = {"created": 1, "data": images(body.get("prompt", ""), n, key), "size": body.get("size") or "32x32"}
        if how == "timeout": await asyncio.sleep(delay_s)
        if how == "slow": await asyncio.sleep(slow_s)
        if how == "garbage": return PlainTextResponse("<html>502 upstream hiccup</html>", status_code=200)
        return JSONResponse(made[key])

    @app.get("/stats")
    def stats():
        return {"generated": dict(generated), "attempts": dict(attempts), "outcomes": dict(outcomes),
                "twice": [k for k, v in generated.items() if v > len(made[k]["data"])]}

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    for name in ("fail", "timeout", "slow", "garbage"): ap.add_argument(f"--{name}", type=float, default=0.0)
    ap.add_argument("--delay", type=float, default=3.0, help="seconds a 'timeout' answer is late (above the client's timeout)")
    ap.add_argument("--slow-delay", type=float, default=0.3, help="seconds a 'slow' answer is late (below the client's timeout)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--refuse", default=None, help="refuse (400, every attempt) any prompt that contains this text")
    ap.add_argument("--open-with", default="", help="comma-separated faults the first requests meet, in order (e.g. fail,timeout,garbage)")
    a = ap.parse_args()
    app = make_app(fail=a.fail, timeout=a.timeout, slow=a.slow, garbage=a.garbage, delay_s=a.delay, slow_s=a.slow_delay, seed=a.seed,
                   refuse=a.refuse, open_with=[o for o in a.open_with.split(",") if o])
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
