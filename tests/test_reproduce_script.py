"""scripts/reproduce_mnist1d.py runs end to end and writes its table (a short run here)."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_mnist1d.py"


def test_reproduction_script_short_run(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("reproduce_mnist1d", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "r.json"
    assert mod.main(["--models", "logistic", "cnn", "--seeds", "0", "--steps", "120",
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "paper" in text and "logistic" in text and "cnn" in text
    res = json.loads(out.read_text())
    assert res["setting"]["steps"] == 120 and res["setting"]["split"] == "4000/1000"
    runs = {r["model"]: r for r in res["runs"]}
    assert runs["cnn"]["steps"] == 120 and runs["cnn"]["parameters"] == 5_210
    # 120 steps is 3 epochs: well above chance (10%) already, far below the full run's 92%
    assert 20.0 < runs["cnn"]["test_accuracy"] < 92.0
    assert res["summary"]["logistic"]["paper"] == 32.0
