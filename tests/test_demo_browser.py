"""The demo site in a real browser: `fancy demo` as a subprocess, driven by headless Chromium (Debian's, through
Playwright with `executable_path`; nothing is downloaded).

Three demos run side by side, each on a free port with its own data folder: one with the bundled model (the
whole flow: register, log in, generate from a template and from a prompt, several jobs at once, watch them
succeed, download the PNG, the balance, history, an admin's grant, a capability refusal, a non-admin kept out
of admin), one whose provider is `tests/fault_provider.py --fail 1.0` (a failing provider refunds, and the
admin's audit shows it), and one on the mock channel of the project's providers file (the MOCK badge on
everything it makes, nothing billed). Screenshots of the main pages are kept in `$FANCY_TEST_ARTIFACTS/demo_browser`
(default: the system's temporary folder); the path is printed.
"""
import hashlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from conftest import BIN, CHROMIUM_FLAGS, ROOT, chromium
from image_helpers import free_port, shipped_model_dir

ADMIN_PW = "demo-admin-password"
ARTIFACTS = Path(os.environ.get("FANCY_TEST_ARTIFACTS") or tempfile.gettempdir()) / "demo_browser"
FAULTY = """[providers.faulty]
base_url = "http://127.0.0.1:{port}/v1"
api_key = "k"
model = "faulty-image"
timeout_s = 5
reference_images = "unknown"
prices = {{ "32x32" = 2 }}
retry = {{ max_attempts = 1 }}
"""


def _demo(args, data: Path, log: Path):
    env = {**os.environ, "FANCY_DEMO_ADMIN_PASSWORD": ADMIN_PW, "FANCY_RUNS_DIR": str(data / "runs"), "OMP_WAIT_POLICY": "PASSIVE",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    return subprocess.Popen([str(BIN / "fancy"), "demo", "--data-dir", str(data), *map(str, args)], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def _ready(proc, log: Path, timeout=240):
    "Wait for `fancy demo` to print its ready line (worker started, previews made); return what it printed."
    t0 = time.time()
    while time.time() - t0 < timeout:
        text = log.read_text()
        if "ready:" in text: return text
        if proc.poll() is not None: raise RuntimeError(f"fancy demo exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.3)
    raise RuntimeError(f"fancy demo was not ready in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    "The bundled-model demo and the failing-provider demo, started together (their start-ups overlap)."
    shipped_model_dir()
    base = tmp_path_factory.mktemp("demo")
    fport, bport, xport, mport = free_port(), free_port(), free_port(), free_port()
    fault = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_provider.py"), "--port", str(fport), "--fail", "1.0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (base / "providers.toml").write_text(FAULTY.format(port=fport))
    procs = {"bundled": (_demo(["--port", bport], base / "bundled", base / "bundled.log"), base / "bundled.log", bport),
             "faulty": (_demo(["--port", xport, "--provider", "faulty", "--providers-file", base / "providers.toml"], base / "faulty",
                              base / "faulty.log"), base / "faulty.log", xport),
             "mock": (_demo(["--port", mport, "--provider", "mock"], base / "mock", base / "mock.log"), base / "mock.log", mport)}
    try:
        out = {k: {"url": f"http://127.0.0.1:{port}", "printed": _ready(p, log), "data": base / k} for k, (p, log, port) in procs.items()}
        yield out
    finally:
        for p in [p for p, _, _ in procs.values()] + [fault]:
            p.terminate()
            try: p.wait(20)
            except subprocess.TimeoutExpired: p.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=[f for f in CHROMIUM_FLAGS if f != "--headless"])
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    pages = []
    def make():
        ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        pages.append(ctx)
        return page
    yield make
    for c in pages: c.close()


@pytest.fixture(scope="module", autouse=True)
def artefacts(request):
    "Where the screenshots go (this module's own folder, emptied first); said on the terminal, past pytest's capture."
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"): old.unlink()
    yield
    names = ", ".join(sorted(p.name for p in ARTIFACTS.glob("*.png")))
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n[demo browser] screenshots in {ARTIFACTS}: {names}")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def box(page, elem_id: str):
    return page.locator(f"#{elem_id}").get_by_role("textbox")


def api_user(url: str, name: str, password: str) -> httpx.Client:
    "A user registered and logged in through the API itself (the page is tested elsewhere)."
    c = httpx.Client(base_url=url, timeout=30)
    if name != "admin": assert c.post("/api/auth/register", json={"username": name, "password": password}).status_code == 201
    r = c.post("/api/auth/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return c


def log_in(page, url: str, name: str, password: str) -> None:
    page.goto(url + "/")
    box(page, "login-username").fill(name)
    box(page, "login-password").fill(password)
    page.locator("#login-button").click()
    expect(page.locator("#account-bar")).to_contain_text(f"Logged in as {name}")


def shows_credits(page, balance: int, held: int, available: int) -> None:
    "The account bar says these numbers (waiting for the next poll if it has not yet)."
    for what, n in (("balance", balance), ("held", held), ("available", available)):
        expect(page.locator(f"#account-bar .{what}")).to_have_text(str(n))


def pick(page, elem_id: str, option: str) -> None:
    "Choose `option` in a Gradio dropdown as a user does: open it, click the option."
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_demo_prints_its_url_and_admin(demos):
    printed = demos["bundled"]["printed"]
    assert f"site:      {demos['bundled']['url']}/ui/" in printed and "ready:     open" in printed, printed
    assert "admin:     user 'admin', password from FANCY_DEMO_ADMIN_PASSWORD" in printed, printed
    assert "templates: 4 seeded (badge, night, placement, scene)" in printed and "previews:  4 of 4" in printed, printed
    assert "previews:  0 of 4" in demos["faulty"]["printed"], demos["faulty"]["printed"]      # the failing provider made none


def test_register_log_in_generate_download_and_see_the_balance(demos, new_page):
    url = demos["bundled"]["url"]
    page = new_page()
    page.goto(url + "/")                                     # / redirects to the site
    expect(page.locator("#login-button")).to_be_visible()
    expect(page.locator("#channel-banner")).to_contain_text("real channel")
    shot(page, "01_account")

    box(page, "register-username").fill("erin")
    box(page, "register-password").fill("erin-password")
    page.locator("#register-button").click()
    expect(page.locator("#register-message")).to_have_text("Account erin created: log in with it.")
    box(page, "register-username").fill("x")                 # a bad name: the API's sentence, no traceback
    box(page, "register-password").fill("erin-password")
    page.locator("#register-button").click()
    expect(page.locator("#register-message")).to_contain_text("Username is 'x': expected 3 to 32 lower-case letters")

    box(page, "login-password").fill("not-her-password")     # the username came over from the registration
    page.locator("#login-button").click()
    expect(page.locator("#login-message")).to_have_text("Wrong username or password.")
    assert box(page, "login-username").input_value() == "erin" and box(page, "login-password").input_value() == ""
    shot(page, "02_login_failed")

    box(page, "login-password").fill("erin-password")
    page.locator("#login-button").click()
    expect(page.locator("#account-bar")).to_contain_text("Logged in as erin")
    shows_credits(page, 20, 0, 20)
    expect(page.get_by_role("tab", name="Admin")).to_have_count(0)
    # the gallery: the model's own previews; the template's variables as dropdowns; the caption and the price
    expect(page.locator("#template-gallery img")).to_have_count(4)
    expect(page.locator("#template-quote .caption")).to_have_text("a large blue circle in the center on a white background")
    page.get_by_role("button", name="Thumbnail 3 of 4").click()                # a preview picks its template
    expect(page.locator("#template-quote .caption")).to_have_text("a large red square on the left on a gray background")
    pick(page, "var-choice-0", "at the top")
    expect(page.locator("#template-quote .caption")).to_have_text("a large red square at the top on a gray background")
    expect(page.locator("#template-quote .price")).to_have_text("1 credit")
    page.wait_for_timeout(400)                                                 # the closed dropdown's list fades out
    shot(page, "03_templates")

    page.locator("#template-generate").click()
    expect(page.locator("#template-message")).to_contain_text("queued: 1 credit(s) held")
    expect(page.locator("#jobs .job")).to_have_count(1)
    expect(page.locator("#account-bar .available")).to_have_text("19")          # held at once, then captured
    expect(page.locator("#jobs .job-succeeded")).to_have_count(1, timeout=90_000)
    expect(page.locator("#jobs .job-succeeded")).to_contain_text("Done: 1 image, 1 credit charged.")
    shows_credits(page, 19, 0, 19)
    page.wait_for_timeout(500)                                                 # the progress bar's last step is animated
    shot(page, "04_job_succeeded")

    with page.expect_download() as dl:
        page.locator("#jobs a.download").first.click()
    path = ARTIFACTS / dl.value.suggested_filename
    dl.value.save_as(path)
    png = path.read_bytes()
    im = Image.open(io.BytesIO(png))
    assert (im.format, im.size) == ("PNG", (32, 32)), (im.format, im.size)
    erin = api_user(url, "erin-check", "erin-password")     # another user: the job is not theirs
    job_id = page.locator("#jobs .job").first.get_attribute("data-job")
    assert erin.get(f"/api/jobs/{job_id}").status_code == 404
    own = httpx.Client(base_url=url, timeout=30)
    own.headers["Authorization"] = "Bearer " + own.post("/api/auth/login", json={"username": "erin", "password": "erin-password"}).json()["access_token"]
    job = own.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "succeeded" and hashlib.sha256(png).hexdigest() == job["images"][0]["sha256"], job
    assert job["revised_prompt"] == "a large red square at the top on a gray background" and job["template"] == "placement", job

    # a free prompt: its canonical caption shown back; two jobs at once, neither blocks the page
    page.get_by_role("tab", name="Prompt").click()
    box(page, "prompt-text").fill("Purple cross, large, bottom, black")
    page.locator("#prompt-check").click()
    expect(page.locator("#prompt-quote .caption")).to_have_text("a large purple cross at the bottom on a black background")
    page.locator("#prompt-generate").click()
    expect(page.locator("#jobs .job")).to_have_count(2)
    page.locator("#prompt-generate").click()
    expect(page.locator("#jobs .job")).to_have_count(3)
    shot(page, "05_prompt_two_jobs")
    expect(page.locator("#jobs .job-succeeded")).to_have_count(3, timeout=90_000)
    shows_credits(page, 17, 0, 17)
    assert own.get("/api/balance").json() == {**own.get("/api/balance").json(), "balance": 17, "held": 0, "available": 17}

    page.get_by_role("tab", name="History").click()
    expect(page.locator("#history tbody tr")).to_have_count(3)
    expect(page.locator("#history a.download")).to_have_count(3)
    expect(page.locator("#history .mock-badge")).to_have_count(0)     # the bundled model is the real channel
    shot(page, "06_history")


def test_a_failing_provider_refunds(demos, new_page):
    url = demos["faulty"]["url"]
    api_user(url, "frank", "frank-password")
    page = new_page()
    log_in(page, url, "frank", "frank-password")
    expect(page.locator("#channel-banner")).to_contain_text("faulty")
    expect(page.locator("#template-note")).to_contain_text("No preview for badge, night, placement, scene: the provider failed")
    expect(page.locator("#template-note")).to_contain_text("injected fault")
    expect(page.locator("#template-quote .price")).to_have_text("2 credits")
    page.locator("#template-generate").click()
    expect(page.locator("#jobs .job")).to_have_count(1)
    expect(page.locator("#jobs .job-failed")).to_have_count(1, timeout=60_000)
    expect(page.locator("#jobs .job-failed .job-sentence")).to_have_text(re.compile(
        r"The image provider failed: .*injected fault.*; the job failed and its 2 held credits were refunded\."))
    shows_credits(page, 20, 0, 20)
    shot(page, "07_failed_and_refunded")
    page.get_by_role("tab", name="History").click()
    expect(page.locator("#history tr.row-failed")).to_have_count(1)

    admin = new_page()                                       # the admin's audit lists the refunded job
    log_in(admin, url, "admin", ADMIN_PW)
    admin.get_by_role("tab", name="Admin").click()
    admin.locator("#audit-kind").get_by_text("refunded", exact=True).click()
    expect(admin.locator("#audit tbody tr")).to_have_count(1)
    expect(admin.locator("#audit")).to_contain_text("injected fault")
    shot(admin, "08_admin_audit")

    # the admin raises the price past frank's balance: the page says so, before and instead of holding anything
    price = admin.locator("#admin-price-form")
    price.get_by_label("Size").fill("32x32")
    price.get_by_label("Credits per image").fill("50")
    price.get_by_label("Reason").fill("peak hours")
    admin.locator("#price-set").click()
    expect(admin.locator("#price-message")).to_have_text("Price set: 50 credit(s) per image for faulty-image 32x32 *.")
    page.get_by_role("tab", name="Prompt").click()
    box(page, "prompt-text").fill("large blue circle, center, white")
    page.locator("#prompt-check").click()
    expect(page.locator("#prompt-quote")).to_contain_text("Not enough credits: this costs 50, you have 20 available.")
    page.locator("#prompt-generate").click()
    expect(page.locator("#prompt-message")).to_have_text(
        "Not enough credits: 50 credits needed, 20 available (20 balance, 0 held): 30 short; nothing was held.")
    shows_credits(page, 20, 0, 20)
    shot(page, "13_not_enough_credits")


def test_an_admin_grants_credits_and_a_non_admin_cannot_reach_admin(demos, new_page, tmp_path):
    url = demos["bundled"]["url"]
    gina = api_user(url, "gina", "gina-password")
    page = new_page()
    log_in(page, url, "gina", "gina-password")
    expect(page.locator("#account-bar .available")).to_have_text("20")
    expect(page.get_by_role("tab", name="Admin")).to_have_count(0)              # no admin tab for her
    r = gina.get("/api/admin/prices")                                           # and the back end refuses anyway
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), r.text
    assert gina.post("/api/admin/grants", json={"username": "gina", "credits": 100, "reason": "me"}).status_code == 403
    expect(page.locator("#template-gallery img")).to_have_count(4)
    shot(page, "09_non_admin")

    admin = new_page()
    log_in(admin, url, "admin", ADMIN_PW)
    admin.get_by_role("tab", name="Admin").click()
    expect(admin.locator("#admin-prices")).to_contain_text("fancy-image")
    expect(admin.locator("#admin-providers")).to_contain_text("self")
    box(admin, "grant-username").fill("gina")
    admin.locator("#grant-credits input").fill("15")
    box(admin, "grant-reason").fill("demo day")
    admin.locator("#grant-button").click()
    expect(admin.locator("#grant-message")).to_have_text("Granted 15 credit(s) to gina: balance now 35 (35 available).")
    shot(admin, "10_admin")
    expect(page.locator("#account-bar .available")).to_have_text("35")          # her page shows it without a reload
    assert gina.get("/api/balance").json()["available"] == 35

    # an admin makes the provider's reference-image capability 'unknown': the page shows the refusal, nothing is held
    admin.locator("#admin-providers").scroll_into_view_if_needed()
    admin.get_by_label("unknown", exact=True).check()
    admin.locator("#provider-set").click()
    expect(admin.locator("#provider-message")).to_contain_text("Provider self: reference images unknown")
    ref = tmp_path / "ref.png"
    Image.new("RGB", (32, 32), (30, 70, 230)).save(ref)
    page.get_by_role("tab", name="Prompt").click()
    box(page, "prompt-text").fill("small blue square, top, white")
    page.locator("#prompt-reference input[type=file]").set_input_files(str(ref))
    page.locator("#prompt-check").click()
    expect(page.locator("#prompt-quote")).to_have_text(
        "Provider 'self' has not been confirmed to support reference images (capability 'unknown'): we do not pay to find out; "
        "nothing was held.")
    page.locator("#prompt-generate").click()
    expect(page.locator("#prompt-message")).to_contain_text("has not been confirmed to support reference images")
    shot(page, "11_reference_refused")
    assert gina.get("/api/balance").json() == {**gina.get("/api/balance").json(), "held": 0, "available": 35}
    admin.get_by_label("supported", exact=True).check()
    admin.locator("#provider-set").click()
    expect(admin.locator("#provider-message")).to_contain_text("reference images supported")


def test_the_mock_channel_is_badged_everywhere_and_never_billed(demos, new_page):
    from fancy_lib.image.client import is_mock_marked
    url = demos["mock"]["url"]
    api_user(url, "hana", "hana-password")
    page = new_page()
    log_in(page, url, "hana", "hana-password")
    expect(page.locator("#channel-banner .mock-badge")).to_be_visible()
    expect(page.locator("#template-gallery")).to_contain_text("MOCK · badge")
    expect(page.locator("#template-quote .mock-badge")).to_be_visible()
    expect(page.locator("#template-quote .price")).to_have_text("0 credits")
    page.locator("#template-generate").click()
    expect(page.locator("#jobs .job-succeeded")).to_have_count(1, timeout=60_000)
    expect(page.locator("#jobs .job-succeeded .mock-badge")).to_be_visible()
    expect(page.locator("#jobs .job-sentence")).to_have_text("Done: 1 image, MOCK images, never billed.")
    with page.expect_download() as dl:
        page.locator("#jobs a.download").first.click()
    assert dl.value.suggested_filename.endswith(".mock.png"), dl.value.suggested_filename
    path = ARTIFACTS / dl.value.suggested_filename
    dl.value.save_as(path)
    assert is_mock_marked(Image.open(path))
    shows_credits(page, 20, 0, 20)
    shot(page, "12_mock_channel")
    page.get_by_role("tab", name="History").click()
    expect(page.locator("#history .mock-badge")).to_have_count(1)


def _smoke(url, password="smoke-password-1"):
    env = {**os.environ, "FANCY_SMOKE_PASSWORD": password}
    return subprocess.run([str(BIN / "fancy"), "smoke", url, "--timeout", "60"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


def test_fancy_smoke_passes_on_the_demo_and_names_a_provider_failure(demos):
    r = _smoke(demos["bundled"]["url"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"ok\s+page assets", r.stdout) and re.search(r"ok\s+download", r.stdout), r.stdout
    admin = api_user(demos["faulty"]["url"], "admin", ADMIN_PW)      # another test raised the price beyond a new account's grant
    assert admin.put("/api/admin/prices", json={"model": "faulty-image", "size": "32x32", "credits_per_image": 2,
                                                "reason": "back to the launch price for the smoke run"}).status_code == 200
    r = _smoke(demos["faulty"]["url"])
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"FAIL\s+job .*provider 'faulty'.*refunded", r.stdout), r.stdout
    assert re.search(r"ok\s+balance .*refunded", r.stdout), r.stdout
