"""System tests of the image API: `fancy image serve` on a real pipeline, the official `openai` client, and `ImageClient`.

The server runs as a subprocess on a free loopback port with the shipped, trained model (models/image;
the tests fail, naming it, when it is missing, rather than fall back to an untrained pipeline). Step
counts are kept small through `extra_body`, except where the test reads back what the model drew.
"""
import base64
import io
import json
import threading
import time
from dataclasses import replace

import httpx
import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

import image_helpers
from image_helpers import PROMPT, SHIPPED_MODEL, Upstream, free_port, image_server, shipped_model_dir, store_of, wait_idle

from fancy_lib.image.client import (CapabilityError, ImageClient, ProviderConfig, ProviderError, ProviderResponseError,
                                    ProviderTimeout, RetryPolicy, is_mock_marked, load_providers)
from fancy_lib.image.server import read_jsonl

KEY = "sk-test"
FAST = {"num_inference_steps": 3}


@pytest.fixture(scope="module")
def model_dir():
    return shipped_model_dir()


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    "The server as deployed: several requests at once, a generous timeout."
    with image_server(model_dir, tmp_path_factory.mktemp("server"), "--max-concurrency", 4, "--timeout", 60,
                      "--batch-window-ms", 20) as (base, usage, _):
        yield {"base": base, "usage": usage}


@pytest.fixture(scope="module")
def tight(model_dir, tmp_path_factory):
    "A server with one request at a time, a 0.5 s timeout and a 64 KiB body limit."
    with image_server(model_dir, tmp_path_factory.mktemp("tight"), "--max-concurrency", 1, "--timeout", 0.5,
                      "--max-body-mb", 0.0625) as (base, usage, _):
        yield {"base": base, "usage": usage}


@pytest.fixture(scope="module")
def upstream():
    u = Upstream(hang_s=2.0)
    yield u
    u.close()


def sdk(base, key=KEY):
    return OpenAI(base_url=base, api_key=key, max_retries=0, timeout=60)


def decode(b64: str) -> Image.Image:
    im = Image.open(io.BytesIO(base64.b64decode(b64)))
    im.load()
    return im


def png_bytes(size=(32, 32), colour="white", mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def png_of(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def served_model(base) -> dict:
    return httpx.get(base + "/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]


def test_the_api_tests_run_the_shipped_model(model_dir, tmp_path, monkeypatch):
    assert model_dir == SHIPPED_MODEL and (model_dir / "unet").is_dir()
    monkeypatch.setattr(image_helpers, "SHIPPED_MODEL", tmp_path / "image")  # as if models/image were not checked out
    with pytest.raises(AssertionError, match=r"shipped image model is incomplete: .* lacks model_index.json"):
        shipped_model_dir()


def not_blank(im: Image.Image) -> bool:
    return float(np.asarray(im.convert("RGB"), dtype=np.float32).std()) > 2.0


# -- the official client against the real model ------------------------------------------------------------------

def test_generate_returns_real_pngs_of_the_requested_size(server):
    r = sdk(server["base"]).images.generate(prompt=PROMPT, n=2, size="32x32", extra_body={**FAST, "seed": 11})
    assert r.size == "32x32" and r.output_format == "png" and r.created > 0
    assert r.usage.output_tokens > 0 and r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    ims = [decode(d.b64_json) for d in r.data]
    assert [im.format for im in ims] == ["PNG", "PNG"] and [im.size for im in ims] == [(32, 32)] * 2
    assert all(not_blank(im) for im in ims)
    assert np.asarray(ims[0]).tobytes() != np.asarray(ims[1]).tobytes()
    # the seed is a parameter: the same request makes the same images
    again = sdk(server["base"]).images.generate(prompt=PROMPT, n=2, size="32x32", extra_body={**FAST, "seed": 11})
    assert all(np.array_equal(np.asarray(decode(d.b64_json)), np.asarray(im)) for d, im in zip(again.data, ims))


def test_edit_accepts_image_image_array_and_mask(server):
    c = sdk(server["base"])
    ref = base64.b64decode(c.images.generate(prompt=PROMPT, extra_body={**FAST, "seed": 1}).data[0].b64_json)
    single = c.images.edit(image=("ref.png", ref, "image/png"), prompt=PROMPT, extra_body=FAST)            # part 'image'
    listed = c.images.edit(image=[("ref.png", ref, "image/png")], prompt=PROMPT, extra_body=FAST)          # part 'image[]'
    mask = Image.new("RGBA", (32, 32), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (8, 8, 24, 24))  # transparent = edit here (OpenAI's convention)
    buf = io.BytesIO(); mask.save(buf, "PNG")
    masked = c.images.edit(image=("ref.png", ref, "image/png"), mask=("mask.png", buf.getvalue(), "image/png"), prompt=PROMPT,
                           n=1, size="32x32", extra_body={**FAST, "seed": 2})
    for r in (single, listed, masked):
        im = decode(r.data[0].b64_json)
        assert im.size == (32, 32) and not_blank(im)
    # outside the mask the reference is kept
    out = np.asarray(decode(masked.data[0].b64_json), dtype=np.int16)
    src = np.asarray(Image.open(io.BytesIO(ref)).convert("RGB"), dtype=np.int16)
    assert np.abs(out[:4] - src[:4]).max() <= 3


def test_edit_without_mask_uses_the_images_transparency(server):
    "OpenAI's rule: without a mask, the image's fully transparent pixels are the region to edit; the rest is kept."
    c = sdk(server["base"])
    ref = base64.b64decode(c.images.generate(prompt=PROMPT, extra_body={**FAST, "seed": 1}).data[0].b64_json)
    src = Image.open(io.BytesIO(ref)).convert("RGBA")
    holed = src.copy()
    holed.paste((0, 0, 0, 0), (8, 8, 24, 24))
    edit = lambda image, **kw: np.asarray(decode(c.images.edit(image=("a.png", image, "image/png"), prompt=PROMPT,
                                                               extra_body={**FAST, "seed": 2}, **kw).data[0].b64_json), dtype=np.int16)
    out = edit(png_of(holed))
    keep = np.ones((32, 32), bool)
    keep[8:24, 8:24] = False
    want = np.asarray(src.convert("RGB"), dtype=np.int16)
    assert np.abs(out - want)[keep].max() <= 3  # the tolerance of the masked-edit test
    # the same region given as an explicit mask makes the same image
    mask = Image.new("RGBA", (32, 32), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (8, 8, 24, 24))
    assert np.array_equal(out, edit(ref, mask=("mask.png", png_of(mask), "image/png")))
    # an image with no transparent pixel and no mask stays a whole-image edit: pixels outside that region change too
    assert np.abs(edit(ref) - want)[keep].max() > 3


def test_what_the_official_client_sends(upstream, server):
    "Captured from openai 3.57: JSON for generations, multipart with `image[]` for a list, scalars as strings, extras at top level."
    c = OpenAI(base_url=upstream.url("capture"), api_key=KEY, max_retries=0)
    c.images.generate(prompt="p", n=2, size="32x32", extra_body={"seed": 3}, extra_headers={"Idempotency-Key": "k1"})
    c.images.edit(image=[("a.png", b"A", "image/png"), ("b.png", b"B", "image/png")], prompt="p", n=1, extra_body={"strength": 0.5})
    c.images.edit(image=("a.png", b"A", "image/png"), prompt="p")
    gen, edit_list, edit_one = upstream.requests[-3:]
    assert gen["path"] == "/capture/v1/images/generations" and gen["headers"]["content-type"] == "application/json"
    assert json.loads(gen["body"]) == {"prompt": "p", "n": 2, "size": "32x32", "seed": 3}
    assert gen["headers"]["idempotency-key"] == "k1" and gen["headers"]["authorization"] == f"Bearer {KEY}"
    assert edit_list["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert edit_list["body"].count(b'name="image[]"') == 2 and b'name="n"\r\n\r\n1\r\n' in edit_list["body"]
    assert b'name="strength"\r\n\r\n0.5\r\n' in edit_list["body"]
    assert b'name="image"; filename="a.png"' in edit_one["body"] and b"image[]" not in edit_one["body"]
    # and the server refuses a second reference image clearly rather than using one silently
    ref = png_bytes()
    with pytest.raises(openai.BadRequestError) as e:
        sdk(server["base"]).images.edit(image=[("a.png", ref, "image/png"), ("b.png", ref, "image/png")], prompt=PROMPT, extra_body=FAST)
    assert e.value.body["param"] == "image[]" and "one reference image" in e.value.body["message"]


def test_models_health_and_openapi(server):
    root = server["base"][:-3]
    h = httpx.get(root + "/health").json()
    assert h["status"] == "ok" and h["sizes"] == ["32x32"]
    assert (h["torch_threads"], h["omp_wait_policy"]) == (1, "PASSIVE")   # `fancy image serve`'s deliberate defaults
    models = sdk(server["base"]).models.list()
    assert [m.id for m in models.data] == ["fancy-image"]
    spec = httpx.get(root + "/openapi.json").json()
    assert {"/v1/images/generations", "/v1/images/edits", "/v1/models"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/images/edits"]["post"]["requestBody"]["content"]


def test_default_guidance_is_the_models_own_and_matches_a_bare_pipeline_call(server, model_dir):
    "A request without guidance_scale makes, pixel for pixel, the image of a bare pipeline call; /v1/models reports that default."
    import torch
    from fancy_lib.image.model import load_pipeline
    pipe = load_pipeline(model_dir)
    card = served_model(server["base"])
    assert card["default_guidance_scale"] == pipe.config.default_guidance_scale
    assert card["default_num_inference_steps"] == 20
    steps, seed = 6, 21
    c = sdk(server["base"])
    served = np.asarray(decode(c.images.generate(prompt=PROMPT, extra_body={"num_inference_steps": steps, "seed": seed}).data[0].b64_json))
    threads = torch.get_num_threads()
    torch.set_num_threads(httpx.get(server["base"][:-3] + "/health").json()["torch_threads"])   # the server's float path
    try: bare = np.asarray(pipe(PROMPT, generator=torch.Generator().manual_seed(seed), num_inference_steps=steps).images[0])
    finally: torch.set_num_threads(threads)
    assert served.shape == bare.shape and np.array_equal(served, bare)
    # guidance makes a difference here: 3.0, which the server used to assume, gives another image
    at3 = c.images.generate(prompt=PROMPT, extra_body={"num_inference_steps": steps, "seed": seed, "guidance_scale": 3.0})
    assert not np.array_equal(np.asarray(decode(at3.data[0].b64_json)), bare)


def test_negative_prompt_needs_guidance_above_one(server):
    default = served_model(server["base"])["default_guidance_scale"]
    assert default <= 1  # the shipped model's validated default: a negative prompt would be ignored
    c = sdk(server["base"])
    negative = "a small blue square in the center on a white background"
    for extra in ({}, {"guidance_scale": 1.0}):
        with pytest.raises(openai.BadRequestError) as e:
            c.images.generate(prompt=PROMPT, extra_body={**FAST, **extra, "negative_prompt": negative})
        msg = e.value.body["message"]
        assert e.value.body["param"] == "negative_prompt" and "needs guidance_scale > 1" in msg and f"default is {default:g}" in msg
    assert len(c.images.generate(prompt=PROMPT, extra_body={**FAST, "guidance_scale": 2.0, "negative_prompt": negative}).data) == 1


READ_BACK = ["a large red circle on the left on a white background",
             "a small blue square at the top on a black background",
             "a large green triangle on the right on a gray background"]


def test_served_images_show_what_was_asked(server):
    "The PNGs are the trained model's: read back from the pixels, colour, shape and position are the prompt's."
    from fancy_lib.image.adherence import read_scene
    from fancy_lib.image.caption import parse_caption
    c = sdk(server["base"])
    steps = served_model(server["base"]).get("default_num_inference_steps", 20)
    for i, caption in enumerate(READ_BACK):
        r = c.images.generate(prompt=caption, size="32x32", extra_body={"seed": 100 + i, "num_inference_steps": steps})
        got, want = read_scene(decode(r.data[0].b64_json)), parse_caption(caption)
        assert (got["colour"], got["shape"], got["position"], got["background"]) == \
               (want.colour, want.shape, want.position, want.background), (caption, got)


def test_revised_prompt_is_the_canonical_caption_the_model_made(server):
    "A free prompt is made as its canonical caption, returned as revised_prompt; the image is the caption's own, seed for seed."
    c = sdk(server["base"])
    canonical = "a small blue square at the top on a black background"
    free = c.images.generate(prompt="Blue square, SMALL, at the top; black background", extra_body={**FAST, "seed": 4})
    exact = c.images.generate(prompt=canonical, extra_body={**FAST, "seed": 4})
    assert [d.revised_prompt for d in free.data + exact.data] == [canonical, canonical]
    assert np.array_equal(np.asarray(decode(free.data[0].b64_json)), np.asarray(decode(exact.data[0].b64_json)))
    # what is left out is filled with the stated defaults, and the answer says so
    r = c.images.generate(prompt="red circle", extra_body=FAST)
    assert r.data[0].revised_prompt == "a large red circle in the center on a white background"
    # edits revise their prompt too
    e = c.images.edit(image=("ref.png", png_bytes(), "image/png"), prompt="green cross bottom", extra_body=FAST)
    assert e.data[0].revised_prompt == "a large green cross at the bottom on a white background"


def test_contradictory_prompt_is_400_naming_the_words_in_openai_shape(server):
    "Through httpx: the OpenAI error body, param 'prompt', a code, the conflicting words; nothing is generated."
    before = len([r for r in read_jsonl(server["usage"]) if r.get("images_generated")])
    r = httpx.post(server["base"] + "/images/generations", headers={"Authorization": f"Bearer {KEY}"},
                   json={"prompt": "a large red circle on the left on a white background at the top", "seed": 1, **FAST})
    assert r.status_code == 400 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    err = r.json()["error"]
    assert (err["param"], err["type"], err["code"]) == ("prompt", "invalid_request_error", "conflicting_words")
    assert "two positions: 'left' and 'top'" in err["message"]
    with pytest.raises(openai.BadRequestError) as e:
        sdk(server["base"]).images.edit(image=("ref.png", png_bytes(), "image/png"), prompt="a red green circle", extra_body=FAST)
    assert e.value.body["param"] == "prompt" and "two colours: 'red' and 'green'" in e.value.body["message"]
    assert len([r for r in read_jsonl(server["usage"]) if r.get("images_generated")]) == before


# -- auth and errors in the OpenAI shape --------------------------------------------------------------------------------

def test_auth_missing_or_wrong_key_is_401_in_openai_shape(server):
    r = httpx.post(server["base"] + "/images/generations", json={"prompt": PROMPT})
    assert r.status_code == 401 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    assert r.json()["error"]["type"] == "authentication_error"
    assert httpx.get(server["base"] + "/models").status_code == 401
    with pytest.raises(openai.AuthenticationError) as e:
        sdk(server["base"], key="sk-wrong").images.generate(prompt=PROMPT, extra_body=FAST)
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    assert "sk-wrong" not in e.value.body["message"]


BAD_GENERATIONS = [
    ({"size": "1024x1024"}, "size", "32x32"),
    ({"n": 0}, "n", "1 to 10"),
    ({"n": 11}, "n", "1 to 10"),
    ({"prompt": ""}, "prompt", "empty"),
    ({"prompt": "a " * 3000}, "prompt", "characters"),
    ({"prompt": "a purple elephant"}, "prompt", "elephant"),
    ({"prompt": "a small red circel in the center on a white background"}, "prompt", "unknown word 'circel' (did you mean 'circle'?)"),
    ({"prompt": "a small red blue circle in the center on a white background"}, "prompt", "two colours: 'red' and 'blue'"),
    ({"prompt": "a red circle on a white background on a black background"}, "prompt", "two backgrounds: 'white' and 'black'"),
    ({"prompt": "a small circle on the left"}, "prompt", "names no colour"),
    ({"model": "dall-e-3"}, "model", "fancy-image"),
    ({"output_format": "gif"}, "output_format", "png, jpeg or webp"),
    ({"background": "transparent"}, "background", "opaque"),
    ({"extra_body": {"num_inference_steps": "many"}}, "num_inference_steps", "many"),
    ({"extra_body": {"num_inference_steps": 10_000}}, "num_inference_steps", "1 to"),
    ({"extra_body": {"num_inference_step": 3}}, "num_inference_step", "did you mean 'num_inference_steps'"),
]


@pytest.mark.parametrize("change,param,says", BAD_GENERATIONS, ids=[f"{p}-{i}" for i, (_, p, _) in enumerate(BAD_GENERATIONS)])
def test_bad_generation_is_400_naming_the_field(server, change, param, says):
    kw = {"prompt": PROMPT, "extra_body": FAST, **change}
    with pytest.raises(openai.BadRequestError) as e:
        sdk(server["base"]).images.generate(**kw)
    assert e.value.status_code == 400 and e.value.body["type"] == "invalid_request_error"
    assert e.value.body["param"] == param and says in e.value.body["message"]


def test_bad_edit_files_are_400_naming_the_part(server):
    c = sdk(server["base"])
    with pytest.raises(openai.BadRequestError) as e:
        c.images.edit(image=("notes.png", b"this is not a picture", "image/png"), prompt=PROMPT, extra_body=FAST)
    assert e.value.body["param"] == "image" and "not an image" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        c.images.edit(image=("a.png", png_bytes((32, 32)), "image/png"), mask=("m.png", png_bytes((16, 16), mode="RGBA"), "image/png"),
                      prompt=PROMPT, extra_body=FAST)
    assert e.value.body["param"] == "mask" and "16x16" in e.value.body["message"] and "32x32" in e.value.body["message"]
    r = httpx.post(server["base"] + "/images/edits", headers={"Authorization": f"Bearer {KEY}"}, json={"prompt": PROMPT})
    assert r.status_code == 400 and "multipart" in r.json()["error"]["message"]
    r = httpx.get(server["base"] + "/nowhere", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_request_too_large_is_413(tight):
    with pytest.raises(openai.APIStatusError) as e:
        sdk(tight["base"]).images.edit(image=("big.png", b"\x89PNG" + b"0" * 200_000, "image/png"), prompt=PROMPT)
    assert e.value.status_code == 413 and e.value.body["code"] == "request_too_large"


def test_chunked_body_too_large_is_413(tight):
    "A body sent chunked (no Content-Length) is counted as it streams in: past the limit it is a 413 in the OpenAI body too."
    def chunks():
        yield b'{"prompt": "'
        for _ in range(20): yield b"a " * 4096  # 160 KiB, the limit is 64 KiB
        yield b'"}'
    r = httpx.post(tight["base"] + "/images/generations", content=chunks(), timeout=30,
                   headers={"Authorization": f"Bearer {KEY}", "content-type": "application/json"})
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413
    assert r.json()["error"] == {"message": "request body is larger than 65536 bytes", "type": "invalid_request_error", "param": None,
                                 "code": "request_too_large"}


def test_concurrency_limit_429_with_retry_after_and_timeout_504(tight):
    "Limit 1: a second request while one runs gets 429 + retry-after; the slow one gets 504 at the 0.5 s timeout."
    c = sdk(tight["base"])
    slow_error = {}

    def slow():
        try: c.images.generate(prompt=PROMPT, extra_body={"num_inference_steps": 120})
        except openai.APIStatusError as e: slow_error["e"] = e

    t = threading.Thread(target=slow)
    t.start()
    deadline = time.time() + 10
    while httpx.get(tight["base"][:-3] + "/health").json()["in_flight"] == 0 and time.time() < deadline:
        time.sleep(0.02)
    with pytest.raises(openai.RateLimitError) as e:
        c.images.generate(prompt=PROMPT, extra_body=FAST)
    assert e.value.status_code == 429 and int(e.value.response.headers["retry-after"]) >= 1
    assert e.value.body["type"] == "rate_limit_error"
    t.join(30)
    assert slow_error["e"].status_code == 504 and slow_error["e"].body["code"] == "timeout"
    wait_idle(tight["base"])
    outcomes = [r.get("outcome") for r in read_jsonl(tight["usage"])]
    assert "completed_after_timeout" in outcomes  # the compute spent after the 504 is on record too


def test_url_response_format_is_served_behind_the_key(server):
    r = sdk(server["base"]).images.generate(prompt=PROMPT, response_format="url", extra_body=FAST)
    url = r.data[0].url
    assert url.startswith(server["base"] + "/images/files/") and len(url.rsplit("/", 1)[1]) > 40
    assert httpx.get(url).status_code == 401
    got = httpx.get(url, headers={"Authorization": f"Bearer {KEY}"})
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(got.content)).size == (32, 32)
    assert httpx.get(url[:-12] + "AAAAAAAA.png", headers={"Authorization": f"Bearer {KEY}"}).status_code == 404


def test_usage_records_name_the_key_id_never_the_key(server):
    sdk(server["base"]).images.generate(prompt=PROMPT, extra_body=FAST)
    recs = read_jsonl(server["usage"])
    ok = [r for r in recs if r.get("outcome") == "ok"]
    assert ok and all(r["api_key_id"].startswith("key_") and r["channel"] == "real" for r in ok)
    assert {"request_id", "model", "n", "size", "steps", "latency_s", "batch_requests"} <= set(ok[-1])
    assert any(r["status"] == 400 for r in recs) and any(r["status"] == 401 for r in recs)  # refusals are records too
    assert KEY not in server["usage"].read_text()


def test_usage_records_reach_the_results_store(server):
    from fancy_lib.store import Store
    sdk(server["base"]).images.generate(prompt=PROMPT, extra_body=FAST)
    logged = {r["request_id"] for r in read_jsonl(server["usage"])}
    store = Store(f"sqlite:///{store_of(server['usage'])}")
    deadline = time.time() + 20                      # a background thread writes them: a request never waits on it
    while set(store.usage()["request_id"]) != logged and time.time() < deadline:
        time.sleep(0.2)
    u = store.usage()
    assert set(u["request_id"]) == logged
    ok = u[u["outcome"] == "ok"]
    assert (ok["wall_s"] > 0).all() and (ok["cpu_s"] > 0).all() and (ok["gpu_s"] == 0).all()   # measured; no GPU here
    c = store.costs(by="kind")
    assert c.loc["generation", "records"] == len(u) and c.loc["generation", "cpu_s"] > 0


def test_compatible_concurrent_requests_share_a_forward_pass(server):
    h = httpx.get(server["base"][:-3] + "/health").json()
    assert h["batching"], "the pipeline must take one generator per image so that requests can share a forward pass"
    c = sdk(server["base"])
    gen = lambda i: c.images.generate(prompt=PROMPT, extra_body={"num_inference_steps": 6, "seed": i}).data[0].b64_json
    with __import__("concurrent.futures").futures.ThreadPoolExecutor(4) as ex:
        batched = list(ex.map(gen, range(4)))
    recent = [r for r in read_jsonl(server["usage"]) if r.get("steps") == 6 and r.get("outcome") == "ok"]
    assert max(r["batch_requests"] for r in recent) > 1
    # every cost explained: each record carries its pass's seconds and its share of them by images
    shared = [r for r in recent if r["batch_images"] > 1]
    assert all(r["forward_s"] > 0 and abs(r["forward_share_s"] - r["forward_s"] * r["n"] / r["batch_images"]) < 1e-5 for r in recent)
    assert all(r["forward_share_s"] < r["forward_s"] for r in shared)
    # a seed means the same image whether the request shared a forward pass or ran alone
    assert gen(2) == batched[2] and gen(3) == batched[3]


# -- ImageClient: providers file, idempotency, capability, mock, failures -----------------------------------------------

@pytest.fixture
def providers(server, upstream, tmp_path, monkeypatch):
    monkeypatch.setenv("FANCY_TEST_IMAGE_KEY", KEY)
    (tmp_path / "providers.toml").write_text(f'''
[providers.local]
base_url = "{server['base']}"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "fancy-image"
reference_images = "supported"
default_size = "32x32"
prices = {{ "32x32" = 1 }}
retry = {{ max_attempts = 2, backoff_s = 0.05 }}

[providers.no_reference]
base_url = "{server['base']}"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "fancy-image"
reference_images = "unsupported"

[providers.unverified]
base_url = "{server['base']}"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "fancy-image"

[providers.failing]
base_url = "{upstream.url('fail')}"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "m"
retry = {{ max_attempts = 2, backoff_s = 0.01 }}

[providers.hanging]
base_url = "{upstream.url('hang')}"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "m"
timeout_s = 0.3
retry = {{ max_attempts = 2, backoff_s = 0.01 }}

[providers.garbage]
base_url = "{upstream.url('garbage')}"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "m"

[providers.down]
base_url = "http://127.0.0.1:{free_port()}/v1"
api_key_env = "FANCY_TEST_IMAGE_KEY"
model = "m"

[providers.mock]
channel = "mock"
model = "mock-image"
reference_images = "supported"
prices = {{ default = 3 }}
''')
    return load_providers(tmp_path / "providers.toml")


def test_client_generates_and_edits_through_the_real_server(providers, tmp_path):
    c = ImageClient(providers["local"], usage_log_path=tmp_path / "client.jsonl")
    g = c.generate(PROMPT, n=2, size="32x32", num_inference_steps=3, seed=5)
    assert g.channel == "real" and len(g.images) == 2 and all(not_blank(im) for im in g.images)
    e = c.edit(PROMPT, g.images[0], size="32x32", num_inference_steps=3, strength=0.5)
    assert e.images[0].size == (32, 32) and e.record.reference_image
    recs = read_jsonl(tmp_path / "client.jsonl")
    assert [(r["outcome"], r["channel"], r["certain"], r["credits"]) for r in recs] == [("ok", "real", True, 2), ("ok", "real", True, 1)]
    assert all(r["provider_request_id"].startswith("req_") for r in recs)


def test_idempotent_retry_generates_once(providers, server):
    c = ImageClient(providers["local"])
    a = c.generate(PROMPT, num_inference_steps=3, idempotency_key="idem-twice")
    b = c.generate(PROMPT, num_inference_steps=3, idempotency_key="idem-twice")
    assert np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))
    recs = [r for r in read_jsonl(server["usage"]) if r.get("idempotency_key") == "idem-twice"]
    assert [r["outcome"] for r in recs] == ["ok", "replayed"] and sum(r["images_generated"] for r in recs) == 1


def test_retry_after_a_client_timeout_does_not_generate_twice(providers, server):
    "The first attempt times out on the client after it was sent; the retry carries the same key and joins it."
    p = replace(providers["local"], timeout_s=0.3, retry=RetryPolicy(max_attempts=8, backoff_s=0.2, max_backoff_s=0.5))
    r = ImageClient(p).generate(PROMPT, num_inference_steps=60, idempotency_key="idem-slow")
    assert r.record.outcome == "ok" and r.record.attempts >= 2 and r.record.certain
    wait_idle(server["base"])
    recs = [r for r in read_jsonl(server["usage"]) if r.get("idempotency_key") == "idem-slow"]
    assert sum(r.get("images_generated", 0) for r in recs) == 1


def test_capability_rules_refuse_before_sending(providers, server):
    before = len(read_jsonl(server["usage"]))
    ref = Image.new("RGB", (32, 32), "white")
    with pytest.raises(CapabilityError, match="does not accept reference images"):
        ImageClient(providers["no_reference"]).edit(PROMPT, ref)
    c = ImageClient(providers["unverified"])
    with pytest.raises(CapabilityError, match="refused") as e:
        c.edit(PROMPT, ref)
    assert "nothing was sent or billed" in str(e.value)
    assert c.records[-1].outcome == "refused" and c.records[-1].credits == 0 and c.records[-1].certain
    assert len(read_jsonl(server["usage"])) == before  # the server never heard of them
    assert ImageClient(providers["unverified"]).generate(PROMPT, num_inference_steps=2).channel == "real"  # no reference: fine


def test_mock_channel_is_marked_everywhere_and_free(providers, tmp_path):
    c = ImageClient(providers["mock"], usage_log_path=tmp_path / "mock.jsonl")
    r = c.generate(PROMPT, n=2, size="32x32")
    e = c.edit(PROMPT, Image.new("RGB", (32, 32), "white"), size="32x32")
    assert all(is_mock_marked(im) for im in r.images + e.images)
    assert r.channel == r.response["channel"] == "mock" and all(d["channel"] == "mock" for d in r.response["data"])
    assert [(x["channel"], x["credits"]) for x in read_jsonl(tmp_path / "mock.jsonl")] == [("mock", 0), ("mock", 0)]
    assert all(".mock." in p.name for p in r.save(tmp_path / "out", "scene"))
    # and the real model's images do not carry the mark
    real = ImageClient(providers["local"]).generate(PROMPT, num_inference_steps=2)
    assert not is_mock_marked(real.images[0])


def test_failing_provider_raises_certain_and_is_never_replaced_by_mock(providers, upstream):
    c = ImageClient(providers["failing"])
    with pytest.raises(ProviderError, match="answered 500: upstream exploded") as e:
        c.generate(PROMPT)
    rec = e.value.record
    assert (rec.outcome, rec.certain, rec.attempts, rec.channel, rec.status_code) == ("error", True, 2, "real", 500)
    keys = {q["headers"]["idempotency-key"] for q in upstream.requests if q["path"].startswith("/fail/")}
    assert len(keys) == 1  # both attempts carried one idempotency key


def test_url_answers_get_the_key_only_on_the_providers_origin(providers, tmp_path):
    "Same origin: fetched with the key (our server's links need it); another origin (another port here) never sees it."
    r = ImageClient(providers["local"]).generate(PROMPT, num_inference_steps=2, response_format="url")
    assert r.images[0].size == (32, 32) and r.response["data"][0]["url"].startswith(providers["local"].base_url)
    foreign = Upstream()
    home = Upstream(foreign=foreign)
    try:
        for kind in ("url", "foreign"):
            got = ImageClient(ProviderConfig(name=kind, model="m", base_url=home.url(kind), api_key=KEY)).generate(PROMPT, response_format="url")
            assert got.images[0].size == (32, 32) and got.record.outcome == "ok"
        assert [q["headers"].get("authorization") for q in home.requests if q["path"] == "/files/url.png"] == [f"Bearer {KEY}"]
        fetched = [q for q in foreign.requests if q["path"] == "/files/foreign.png"]
        assert len(fetched) == 1 and "authorization" not in fetched[0]["headers"]
        assert all(KEY not in json.dumps(q["headers"]) for q in foreign.requests)
    finally:
        home.close()
        foreign.close()


def test_an_answer_nobody_foresaw_still_leaves_a_record(upstream, tmp_path):
    "A 2xx whose b64_json is a number (base64 raises TypeError): a ProviderResponseError, uncertain, with its usage record."
    p = ProviderConfig(name="badb64", model="m", base_url=upstream.url("badb64"), api_key=KEY, prices={"default": 2})
    c = ImageClient(p, usage_log_path=tmp_path / "usage.jsonl")
    with pytest.raises(ProviderResponseError, match="could not be read: TypeError") as e:
        c.generate(PROMPT)
    recs = read_jsonl(tmp_path / "usage.jsonl")
    assert [(r["outcome"], r["certain"], r["credits"], r["credits_uncertain"], r["status_code"]) for r in recs] == [("error", False, 0, 2, 200)]
    assert e.value.record is c.records[-1]


def test_hanging_provider_times_out_uncertain(providers, upstream):
    with pytest.raises(ProviderTimeout) as e:
        ImageClient(providers["hanging"]).generate(PROMPT)
    rec = e.value.record
    assert (rec.outcome, rec.certain, rec.attempts) == ("error", False, 2)
    keys = [q["headers"]["idempotency-key"] for q in upstream.requests if q["path"].startswith("/hang/")]
    assert len(keys) == 2 and len(set(keys)) == 1


def test_garbage_answer_is_a_clear_uncertain_error(providers):
    with pytest.raises(ProviderResponseError, match="not JSON") as e:
        ImageClient(providers["garbage"]).generate(PROMPT)
    assert e.value.record.certain is False and e.value.record.outcome == "error"


def test_unreachable_provider_is_a_certain_failure(providers):
    with pytest.raises(ProviderError, match="could not be reached") as e:
        ImageClient(providers["down"]).generate(PROMPT)
    assert e.value.record.certain is True and e.value.record.credits_uncertain == 0
