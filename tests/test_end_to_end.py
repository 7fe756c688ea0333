"""End to end through the console entry point: local pool executor, resume, leaderboard."""
import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.execute.suite import load_suite
from tests.conftest import SHARED_DATA


def test_local_pool_sweep_then_leaderboard(tmp_path, tiny_suite_file, capsys):
    suite = str(tiny_suite_file(methods=("random", "entropy", "margin", "least_confidence", "coreset"), seeds=2))
    results, reports = tmp_path / "results", tmp_path / "reports"
    assert main(["run", suite, "--executor", "local", "--workers", "2", "--results", str(results), "--no-progress"]) == 0
    assert main(["run", suite, "--executor", "local", "--results", str(results), "--no-progress"]) == 0
    assert "10 already done, 0 to run" in capsys.readouterr().out
    assert main(["leaderboard", suite, "--results", str(results), "--reports", str(reports)]) == 0
    table = pd.read_parquet(results / "tiny.parquet")
    assert table["cell_id"].nunique() == 10
    assert {"dataset", "imbalance", "method", "seed", "round", "balanced_accuracy", "labelled_ir"} <= set(table.columns)
    ranking = pd.read_csv(reports / "tiny" / "leaderboard.csv")
    assert sorted(ranking["method"]) == ["coreset", "entropy", "least_confidence", "margin", "random"]
    assert ranking["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (ranking["aubc_mean"].diff().dropna() <= 0).all()
    assert ranking.loc[ranking["method"] == "random", "gap_vs_random_mean"].item() == 0.0


@pytest.mark.data
@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="real MNIST not available")
def test_real_mnist_step100_lenet_cell(tmp_path):
    """A reduced version of suites/mnist-short.yaml: real MNIST, step 100, LeNet, no initial labels."""
    import yaml

    suite = yaml.safe_load(load_suite("mnist-short").path.read_text())
    suite.update(name="mnist-mini", method=["entropy"], seeds=1)  # its own name: not the built-in's reports
    suite["scenario"] = {**suite["scenario"], "rounds": 2, "per_round": 50, "pool_size": 3000, "val_per_class": 20,
                         "test_per_class": 50}
    suite["learner"] = {**suite["learner"], "epochs": 10}
    path = tmp_path / "mnist-mini.yaml"
    path.write_text(yaml.safe_dump(suite))
    results = tmp_path / "results"
    assert main(["run", str(path), "--executor", "inline", "--data-root", str(SHARED_DATA),
                 "--results", str(results), "--no-progress"]) == 0
    [cell] = list((results / "cells").iterdir())
    rounds = pd.read_parquet(cell / "rounds.parquet")
    assert rounds["labels_used"].tolist() == [0, 50, 100]
    # learning happens: chance (0.1) at 0 labels, then clearly above it (the rare digits 5-9 lag behind)
    assert rounds["balanced_accuracy"].iloc[0] < 0.2
    assert rounds["balanced_accuracy"].iloc[-1] > rounds["balanced_accuracy"].iloc[0] + 0.1
