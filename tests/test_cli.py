"""The chainrule command: train, evaluate, resume, search, and bad input (exit status 2)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chainrule import cli
from chainrule.train import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]

TINY = """\
seed = 1
[data]
name = "xor"
n = 160
batch_size = 16
[model]
name = "mlp"
hidden = [16, 16]
[optim]
name = "adam"
lr = 0.03
[schedule]
name = "none"  # a cosine horizon follows train.epochs, which the resume test changes
[train]
epochs = 3
metrics = ["accuracy", "confusion_matrix"]
"""


def _run(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "chainrule", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_train_in_a_subprocess_writes_the_run_folder(tmp_path):
    (tmp_path / "run.toml").write_text(TINY)
    proc = _run(["train", "--config", "run.toml", "--out", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and "parameters" in proc.stdout
    out = tmp_path / "out"
    for name in ("config.toml", "history.csv", "history.jsonl", "curves.png", "report.json"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert report["epochs"] == 3 and 0.0 <= report["test_accuracy"] <= 1.0
    assert len((out / "history.csv").read_text().splitlines()) == 4
    row = json.loads((out / "history.jsonl").read_text().splitlines()[-1])
    assert np.array(row["val_confusion_matrix"]).shape == (2, 2)
    assert load_checkpoint(out / "checkpoints")["epoch"] == 3
    # the saved config reproduces the run and does not point at the old folder
    assert "out =" not in (out / "config.toml").read_text()


def test_evaluate_resume_and_help(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(TINY)
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["train", "--config", str(tmp_path / "run.toml"), "--out", str(a),
                     "--epochs", "4", "-q"]) == 0
    report = json.loads((a / "report.json").read_text())
    capsys.readouterr()

    assert cli.main(["evaluate", str(a), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["split"] == "test" and res["accuracy"] == pytest.approx(report["test_accuracy"])
    assert cli.main(["evaluate", str(a), "--checkpoint", "latest", "--split", "val"]) == 0
    assert "val split" in capsys.readouterr().out

    assert cli.main(["train", "--config", str(tmp_path / "run.toml"), "--out", str(b),
                     "--epochs", "2", "-q"]) == 0
    assert cli.main(["train", "--resume", str(b), "--epochs", "4", "-q"]) == 0
    wa = load_checkpoint(a / "checkpoints")["model"]
    wb = load_checkpoint(b / "checkpoints")["model"]
    for k in wa:
        assert np.array_equal(wa[k].numpy(), wb[k].numpy()), k

    for sub in ("train", "evaluate", "search", "experiment"):
        with pytest.raises(SystemExit) as e:
            cli.main([sub, "--help"])
        assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--config", "--resume", "--detect-anomaly", "--schedule", "--l2", "--init",
                 "--n-jobs", "--checkpoint"):
        assert flag in text


def test_search_command(tmp_path, capsys):
    (tmp_path / "s.toml").write_text(TINY.replace("epochs = 3", "epochs = 1") + """
[search]
method = "grid"
[search.space]
"optim.lr" = [0.01, 0.1]
""")
    assert cli.main(["search", "--config", str(tmp_path / "s.toml"), "--out",
                     str(tmp_path / "s"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "best" in out and "test_accuracy" in out
    assert len((tmp_path / "s" / "results.csv").read_text().splitlines()) == 3


BAD = [
    (["--batch-size", "0"], "'data.batch_size' must be >= 1"),
    (["--lr", "-0.1"], "'optim.lr' must be > 0"),
    (["--set", "model.name=resnet"], "'model.name' must be one of"),
    (["--set", "optim.name=adamm"], "did you mean 'adam'"),
    (["--set", "model.hiden=[8]"], "did you mean 'hidden'"),
    (["--set", "train.epoch=3"], "unknown key 'train.epoch'"),
    (["--set", "train.epochs=ten"], "'train.epochs' expected an integer"),
    (["--set", "data.val_fraction=1.5"], "must be in [0, 1)"),
    (["--data", "idx", "--data-path", "/nonexistent/mnist"], "does not exist"),
    (["--data", "idx"], "needs 'data.path'"),
    (["--set", "schedule.name=step"], "needs step_size"),
    (["--set", "schedule.name=none", "--set", "schedule.stepsize=3"],
     "schedule 'none' takes no options"),
    (["--set", "schedule.stepsize=3"], "stepsize"),
    (["--set", "train.monitor=val_perplexity"], "not in 'train.metrics'"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_flags_exit_2_with_a_message(args, message, tmp_path, capsys):
    assert cli.main(["train", "--model", "mlp", "--out", str(tmp_path / "o"), "-q", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("text, message", [
    ("[train]\nepochs = 3\nbogus = 1\n", "unknown key 'train.bogus'"),
    ("[train]\nepochs = \"3\"\n", "'train.epochs' expected an integer"),
    ("[model\nname = 'mlp'\n", "not valid TOML"),
    ("[optim]\nlr = 0.1\nbetas = [0.9]\nname = \"adam\"\n[data]\nname = \"xor\"\n",
     "two numbers"),
    ("[data]\nname = \"sentiment\"\npath = \"empty.txt\"\n", "empty"),
    ("[data]\nname = \"sentiment\"\npath = \"labels.txt\"\nclasses = 2\n",
     "labels out of range"),
])
def test_bad_config_files_exit_2(text, message, tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "labels.txt").write_text("good film\t1\nbad film\t0\nodd film\t4\n" * 5)
    cfg = tmp_path / "c.toml"
    cfg.write_text(text.replace('"empty.txt"', json.dumps(str(tmp_path / "empty.txt")))
                   .replace('"labels.txt"', json.dumps(str(tmp_path / "labels.txt"))))
    assert cli.main(["train", "--config", str(cfg), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_other_bad_input(tmp_path, capsys):
    assert cli.main(["train", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # argparse: unknown model name
        cli.main(["train", "--model", "resnet"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    # a model trained on 2 features cannot score data with 40 features
    run = tmp_path / "r"
    assert cli.main(["train", "--data", "xor", "--set", "data.n=40", "--model", "logistic",
                     "--epochs", "1", "--out", str(run), "-q"]) == 0
    cfg = (run / "config.toml").read_text().replace('name = "xor"', 'name = "mnist1d"')
    (run / "config.toml").write_text(cfg)
    assert cli.main(["evaluate", str(run)]) == 2
    assert "shape" in capsys.readouterr().err


def test_experiment_hook_delegates_or_explains(monkeypatch, capsys):
    import chainrule.experiments as experiments

    seen = []
    monkeypatch.setattr(experiments, "cli", lambda args: seen.append(args) or 0)
    assert cli.main(["experiment", "some-study", "--quick", "--seed", "3"]) == 0
    assert seen[0].name == "some-study" and seen[0].quick and seen[0].seed == 3

    real = cli.importlib.import_module

    def missing(name, *a):
        if name == "chainrule.experiments":
            raise ModuleNotFoundError("no module", name=name)
        return real(name, *a)

    monkeypatch.setattr(cli.importlib, "import_module", missing)
    assert cli.main(["experiment", "--list"]) == 2
    assert "not installed" in capsys.readouterr().err


def test_default_job_reaches_90_percent_on_mnist1d(tmp_path, capsys):
    # `chainrule train` with no arguments: the README's main command (a few seconds here)
    assert cli.main(["train", "--out", str(tmp_path / "run"), "-q"]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["model"] == "cnn" and report["data"] == "mnist1d"
    assert report["test_accuracy"] >= 0.90, report
    for name in ("config.toml", "history.csv", "curves.png", "report.json"):
        assert (tmp_path / "run" / name).exists(), name
