"""Research notebooks are papermill templates: each declares its parameters (including run_dir and
seed) in a cell tagged `parameters`, and is committed without outputs."""
import nbformat
import pytest

from conftest import ROOT

NOTEBOOKS = sorted((ROOT / "nbs" / "research").glob("*.ipynb"))


def test_there_are_research_notebooks():
    assert NOTEBOOKS, "nbs/research/ has no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_research_notebook_is_a_clean_parameterized_template(path):
    from fancy_lib.runs import notebook_parameters
    declared = notebook_parameters(path)
    assert {"run_dir", "seed"} <= set(declared), f"{path.name} must declare run_dir and seed"
    nb = nbformat.read(path, as_version=4)
    assert not [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")], f"{path.name} has outputs"


def test_ml_meta_labels_runs_and_records_models_and_the_oos_comparison(sandbox):
    """`fancy run ml_meta_labels` on its defaults: model verdicts and OOS filtered/unfiltered numbers in the manifest,
    the run in the store as a papermill run, and both model experiments listed by `fancy models`."""
    import json
    from conftest import fancy
    from fancy_lib.models import VERDICTS
    from fancy_lib.store import Store
    r = fancy("run", "ml_meta_labels", env=sandbox["env"], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.split()[1].rstrip(":")
    m = json.loads((sandbox["runs"] / run_id / "manifest.json").read_text())
    assert m["status"] == "succeeded" and (m["kind"], m["line"]) == ("papermill", "quant")
    met = m["metrics"]
    assert met["split.is_events"] > 100 and met["split.oos_events"] > 50
    for model in ("lightgbm", "gru"):
        assert 0 <= met[f"{model}.auc_lo"] <= met[f"{model}.oof_auc"] <= met[f"{model}.auc_hi"] <= 1
        assert VERDICTS[int(met[f"{model}.verdict"])] in ("below_chance", "chance", "skill")
        assert met[f"{model}.samples"] == met["split.is_events"]          # trained on in-sample events only
        # the filter takes a subset of the same out-of-sample events the unfiltered rule trades
        assert 0 <= met[f"oos_{model}.events_taken"] <= met["oos_unfiltered.events_taken"] == met["split.oos_events"]
        assert f"oos_{model}.sharpe" in met and 0 <= met[f"oos_{model}.auc"] <= 1
    assert {"folds", "importance", "trades_oos_unfiltered", "trades_oos_lightgbm"} <= set(m["tables"])
    assert len(m["figures"]) == 3                      # fold AUCs, importance, OOS equity curves
    store = Store(sandbox["store"])
    assert store.get_run(run_id).kind == "papermill"
    assert store.metrics("oos_lightgbm.sharpe", run=run_id)["value"].tolist() == [met["oos_lightgbm.sharpe"]]
    listed = fancy("models", env=sandbox["env"])
    assert listed.returncode == 0, listed.stdout + listed.stderr
    models = [line.split() for line in listed.stdout.splitlines() if "-model-" in line]
    assert {"lightgbm", "gru"} <= {row[1] for row in models}
    executed = (sandbox["runs"] / run_id / "executed.ipynb").read_text()
    assert "cannot be told apart from chance" in executed or "not a promise of returns" in executed


def test_paper_sandbox_runs_behind_gates_and_says_paper(sandbox):
    """`fancy run paper_sandbox` with an operator kill switch: the account ends HALTED, the kill is in the JSON-lines
    log (every line marked PAPER), the report says PAPER wherever it shows PnL, and a bad start is refused clearly."""
    import json
    from conftest import fancy
    r = fancy("run", "paper_sandbox", "-p", "kill_at", "2019-06-01", env=sandbox["env"], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.split()[1].rstrip(":")
    run = sandbox["runs"] / run_id
    m = json.loads((run / "manifest.json").read_text())
    met = m["metrics"]
    assert m["status"] == "succeeded" and met["paper.orders"] > 5 and met["paper.state_changes"] >= 1
    lines = [json.loads(l) for l in (run / "paper_log.jsonl").read_text().splitlines()]
    assert lines and all(l["mode"] == "PAPER" for l in lines)
    kills = [l for l in lines if l["event"] == "kill"]
    assert len(kills) == 1 and kills[0]["time"].startswith("2019-06-01")
    assert not [l for l in lines if l["event"] == "fill" and l["time"] > kills[0]["time"]]      # HALTED: nothing after
    # the event-stream part: lob's fill model behind the same limits, the position gate held at the exchange
    assert met["paper_stream.fills"] > 0 and met["paper_stream.max_abs_position"] <= 5.0 and met["paper_stream.refusals"] > 0
    stream_log = [json.loads(l) for l in (run / "paper_stream_log.jsonl").read_text().splitlines()]
    assert stream_log and all(l["mode"] == "PAPER" for l in stream_log)
    html = (sandbox["reports"] / f"{run_id}.html").read_text()
    assert "PAPER equity" in html and "PAPER account" in html and "PAPER PnL on a SYNTHETIC L2 stream" in html
    bad = fancy("run", "paper_sandbox", "-p", "start", "2030-01-01", env=sandbox["env"], timeout=600)
    assert bad.returncode == 1 and "start is '2030-01-01': expected a time inside the data" in bad.stdout + bad.stderr


def test_lob_quoting_scans_family_n_on_a_synthetic_stream(sandbox):
    """`fancy run lob_quoting` on a small stream: the stream is in the run folder in the documented layout and marked
    synthetic, the scan ran the grid in-sample and the gates judged it, and the report says SYNTHETIC."""
    import json
    from conftest import fancy
    from fancy_lib.lob_data import read_events
    r = fancy("run", "lob_quoting", "-p", "n_events", "400000", "-p", "min_trades", "5", env=sandbox["env"], timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    run_id = r.stdout.split()[1].rstrip(":")
    run = sandbox["runs"] / run_id
    met = json.loads((run / "manifest.json").read_text())["metrics"]
    assert met["scan.combinations"] == 36 and met["scan.evaluated"] == 1.0 and met["oos.fills"] > 0
    assert {"gate.min_trades", "gate.profit_factor", "gate.pbo"} <= set(met)
    s = read_events(run / "stream.parquet")
    assert s.synthetic and s.symbol.startswith("SYNTHETIC") and len(s.events) >= 400_000
    html = (sandbox["reports"] / f"{run_id}.html").read_text()
    assert html.count("SYNTHETIC") >= 5 and "not recorded in the store" in html
