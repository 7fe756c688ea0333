"""CLI behaviour: clear one-paragraph errors, exit codes, and stored results left intact."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.cli import build_parser, main
from benchmark.execute.executors import run_inline
from benchmark.execute.store import ResultStore
from benchmark.execute.suite import expand
from tests.conftest import tiny_suite, tree_digest


@pytest.fixture
def store_with_a_cell(tmp_path):
    store = ResultStore(tmp_path / "results")
    run_inline([expand(tiny_suite(methods=("random",))).cells[0]], store)
    return store


def _write(tmp_path, name, obj):
    path = tmp_path / f"{name}.yaml"
    path.write_text(obj if isinstance(obj, str) else yaml.safe_dump(obj))
    return str(path)


@pytest.mark.parametrize("case, fragment", [
    ("unknown_method", "Unknown method 'entroyp'. Did you mean 'entropy'"),
    ("unknown_dataset", "Unknown dataset 'digts'. Did you mean 'digits'"),
    ("malformed", "not valid YAML"),
    ("missing_root", "--data-root"),
    ("corrupt", "is corrupt: md5"),
])
def test_bad_input_is_a_clear_error_and_keeps_results(case, fragment, tmp_path, store_with_a_cell, capsys):
    store = store_with_a_cell
    before = tree_digest(store.root)
    args = ["--results", str(store.root)]
    if case == "unknown_method":
        suite = _write(tmp_path, case, tiny_suite(methods=("random", "entroyp")))
    elif case == "unknown_dataset":
        suite = _write(tmp_path, case, {**tiny_suite(), "dataset": "digts"})
    elif case == "malformed":
        suite = _write(tmp_path, case, "dataset: digits\nmethod: [random\n")
    else:
        mnist = {**tiny_suite(methods=("random",)), "dataset": "mnist",
                 "learner": {"model": "lenet", "epochs": 1}}
        suite = _write(tmp_path, case, mnist)
        if case == "corrupt":
            raw = tmp_path / "data" / "MNIST" / "raw"
            raw.mkdir(parents=True)
            for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                         "t10k-labels-idx1-ubyte"):
                (raw / f"{name}.gz").write_bytes(b"not the real file")
            args += ["--data-root", str(tmp_path / "data")]
    code = main(["run", suite, "--executor", "inline", "--no-progress", *args])
    err = capsys.readouterr()
    assert code == 2
    assert fragment in err.err
    assert err.err.startswith("albench run: error:") and err.err.count("\n") == 1  # one line
    assert tree_digest(store.root) == before


def test_list_and_status_and_leaderboard(tmp_path, capsys, tiny_suite_file):
    suite = str(tiny_suite_file(methods=("random", "entropy")))
    results, reports = tmp_path / "r", tmp_path / "rep"
    assert main(["list", "methods", "entr*"]) == 0
    assert capsys.readouterr().out.startswith("entropy")
    assert main(["run", suite, "--executor", "inline", "--results", str(results), "--no-progress"]) == 0
    assert main(["status", suite, "--results", str(results)]) == 0
    assert "2 done, 0 failed, 0 pending" in capsys.readouterr().out
    assert main(["leaderboard", suite, "--results", str(results), "--reports", str(reports)]) == 0
    md = (reports / "tiny" / "leaderboard.md").read_text()
    assert "| random" in md and "| entropy" in md and "Δ random" in md
    assert (reports / "tiny" / "learning_curve.png").stat().st_size > 1000
    assert (results / "tiny.parquet").exists()
    assert main(["profile", suite, "--results", str(results), "--reports", str(reports)]) == 0
    profile = (reports / "tiny" / "profile.md").read_text()
    assert "| random" in profile and "infer fwd+bwd" in profile and "accounted %" in profile
    import pandas as pd

    from benchmark.report.profile import profile_table

    (_, df), = profile_table(pd.read_parquet(results / "tiny.parquet"))
    # the phases are parts of the cell's wall time, so they never explain more than all of it; how much
    # they explain (98-99 % idle) depends on the machine's load: a timing figure, measured by `make bench`
    assert (df["accounted %"] > 0).all() and (df["accounted %"] <= 100.5).all(), df
    assert (df["store s"] > 0).all()  # the store's write of each cell, from its manifest
    assert (df["train fwd+bwd"] > 0).all() and df.set_index("method").loc["entropy", "infer fwd+bwd"] > 0


def test_console_script_exit_code_on_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "benchmark.cli", "run", "no-such-suite"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode == 2 and "No suite 'no-such-suite'" in out.stderr


def test_datasets_stats_prints_wacv_table1(capsys):
    assert main(["datasets", "stats", "digits", "--imbalance", "target_ir", "--imbalance-params", '{"ir": 0.5}']) == 0
    out = capsys.readouterr().out
    assert "| digits    |      10 |" in out and "0.5" in out.splitlines()[2]


def test_curves_and_tables_commands(tmp_path, capsys, tiny_suite_file):
    suite = str(tiny_suite_file(methods=("random", "entropy")))
    results, reports = tmp_path / "r", tmp_path / "rep"
    assert main(["run", suite, "--executor", "inline", "--results", str(results), "--no-progress"]) == 0
    assert main(["curves", suite, "--results", str(results), "--reports", str(reports)]) == 0
    text = (reports / "tiny" / "curves.md").read_text()
    assert "Accuracy (%) by labels used" in text and (reports / "tiny" / "curves.png").is_file()
    assert main(["tables", suite, "--results", str(results), "--reports", str(reports)]) == 2  # not one-shot
    err = capsys.readouterr().err
    assert "one-shot suites" in err and "is iterative" in err and "albench leaderboard" in err, err
    assert "run `albench run" not in err  # the cells are there: running them again would not help


def test_list_verbose_shows_parameters_search_space_and_dataset_files(capsys):
    assert main(["list", "methods", "-v", "mc_entropy"]) == 0
    out = capsys.readouterr().out
    assert "parameters: samples: int = 128" in out and "search space (albench tune): samples ('int', 8, 128, 'log')" in out
    assert "needs: mc_dropout=128" in out and "version: " in out
    assert main(["list", "datasets", "-v", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "<root>/MNIST/raw/train-images-idx3-ubyte.gz" in out and "on disk (under --data-root" in out


def test_list_with_a_pattern_that_matches_nothing_is_an_error_with_close_names(capsys):
    assert main(["list", "methods", "entrpy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no methods match 'entrpy'" in err and "Did you mean 'entropy'" in err


def test_version_names_albench_and_torch(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("albench ") and "torch " in out


def test_make_help_prints_no_make_escapes():
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["make", "-s", "help"], cwd=root, capture_output=True, text=True, check=True).stdout
    assert "$$" not in out and "$ALBENCH_DATA" in out


def test_make_demo_writes_nothing_git_tracks():
    """The first command a user runs must leave `git status` clean: make demo's reports go to a
    git-ignored folder (the committed reports/quick/ is regenerated by `make reports-check`)."""
    import shutil

    root = Path(__file__).resolve().parents[1]
    if shutil.which("make") is None or shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs make, git and a checkout")
    plan = subprocess.run(["make", "-n", "-W", "pyproject.toml", "demo", "BIN=bin"], cwd=root, capture_output=True,
                          text=True, check=True).stdout
    board = next(line for line in plan.splitlines() if "albench leaderboard quick" in line)
    assert "--reports " in board, board
    folder = board.split("--reports ")[1].split()[0]
    probe = Path(folder) / "quick" / "leaderboard.md"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=root)
    assert ignored.returncode == 0, f"{probe} would be tracked by git"
    run = next(line for line in plan.splitlines() if "albench run quick" in line)
    assert "--results" not in run  # results/ is git-ignored already


def test_a_closed_output_pipe_stops_quietly_without_a_traceback():
    """`albench list methods -v | head -1`: the reader has gone before albench writes; no traceback, status 141."""
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.cli", "list", "methods", "-v"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # no reader left: the first write fails with EPIPE
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err.decode(), err.decode()
    assert proc.returncode == 141
