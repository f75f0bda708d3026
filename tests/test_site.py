"""The reviewer's site end to end: `build_site` from a real run of the reference notebook, the checker finding
nothing broken and nothing fetched, and the folder opened in a real browser without network."""
import re
import shutil
import subprocess

import pytest

from conftest import CHROMIUM_FLAGS, ROOT, chromium
from fancy_lib.site import build_site, check_site, external_links
from fancy_lib.store import Store


@pytest.fixture(scope="module")
def site(reference_run, sandbox, tmp_path_factory):
    dest = tmp_path_factory.mktemp("site") / "site"
    index = build_site(dest, runs_dir=sandbox["runs"], reports_dir=sandbox["reports"], store=Store(sandbox["store"]),
                       nbs_dir=ROOT / "nbs")
    assert index == dest / "index.html"
    return dest


def dump_dom(path, budget=15000):
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--virtual-time-budget={budget}", "--dump-dom", path.as_uri()],
                          capture_output=True, text=True, timeout=180).stdout


def test_site_holds_everything_and_stands_alone(site, reference_run):
    for f in ("index.html", "reports/dashboard.html", "reports/index.html", f"reports/{reference_run['id']}.html",
              "docs/index.html", "docs/06_records.html", "docs/09_runs.html"):
        assert (site / f).is_file(), f"{f} missing from the site"
    assert len(list((site / "docs").glob("*.html"))) == len(list((ROOT / "nbs").glob("*.ipynb"))) + 1
    assert check_site(site) == []
    assert all(l.tag == "a" for l in external_links(site))     # plain links out are allowed, nothing else
    runs = (site / "reports" / "index.html").read_text()
    assert f"href='{reference_run['id']}.html'" in runs and "Where the compute went" in runs


def test_site_survives_being_moved(site, tmp_path):
    moved = tmp_path / "elsewhere"
    shutil.copytree(site, moved)
    assert check_site(moved) == []


def test_the_report_folds_its_code(site, reference_run):
    html = (site / "reports" / f"{reference_run['id']}.html").read_text()
    folds = re.findall(r'<details class="fl-code"><summary>show code</summary>(.*?)</details>', html, re.S)
    assert len(folds) >= 3 and "<details open" not in html
    assert any("backtest" in f for f in folds)                  # the code is in the page, behind the fold
    assert all("Plotly.newPlot" not in f for f in folds)        # figures stay outside the folds
    assert html.count("Plotly.newPlot") == 3


def test_the_site_opens_in_a_browser_without_network(site, reference_run):
    dom = dump_dom(site / "index.html", budget=3000)
    for href in ("reports/dashboard.html", "reports/index.html", "docs/index.html"):
        assert f'href="{href}"' in dom
    report = dump_dom(site / "reports" / f"{reference_run['id']}.html")
    assert report.count('class="main-svg"') >= 3, "the site's copy of plotly.js did not draw the figures"
    assert 'id="fl-toggle-code"' in report and "<details open" not in report
    # one click on the toggle opens every fold (the same page, clicked by an appended script)
    clicked = site / "reports" / "clicked.html"
    html = (site / "reports" / f"{reference_run['id']}.html").read_text()
    clicked.write_text(html.replace("</body>", "<script>document.getElementById('fl-toggle-code').click()</script></body>"))
    try: opened = dump_dom(clicked, budget=3000)
    finally: clicked.unlink()
    assert opened.count('<details class="fl-code" open="">') == html.count('<details class="fl-code">') >= 3
    assert "hide all code" in opened
    docs = dump_dom(site / "docs" / "index.html", budget=3000)
    assert 'href="09_runs.html"' in docs and "fancy_lib documentation" in docs
