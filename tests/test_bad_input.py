"""Every bad input is refused before any cell runs, as ONE line on stderr:
``albench <command>: error: <file>: <key> must be <what is allowed>, got <value>``, exit code 2, no
traceback, and no result or report folder written.

Each case is a YAML suite written to tmp_path (a valid tiny suite with one change) or a command line,
run through ``benchmark.cli.main``. No case may reach a cell: the suite would train a model if one did.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmark.cli import main
from benchmark.execute.suite import SUITES_DIR, load_suite
from tests.conftest import forget_plugin, tiny_suite

ITERATIVE = tiny_suite(methods=("random", "entropy"))
ONESHOT = {"name": "os", "dataset": "digits", "imbalance": "none", "method": ["random", "entropy"], "seeds": 1,
           "scenario": {"kind": "oneshot", "budget": 20, "target_classes": [5, 6, 7, 8, 9],
                        "source": {"model": "small_cnn", "train": {"classes": [0, 1, 2, 3, 4], "epochs": 1}},
                        "target": {"folds": 3, "c_grid": [0.1, 1.0]}}}
DELETE = object()


@dataclass(frozen=True)
class Case:
    """A bad input: ``change`` applied to ``base`` (dotted keys; DELETE removes one), extra CLI ``args``,
    and the fragments the one-line message must contain (the key and what is allowed)."""

    change: dict[str, Any]
    expect: tuple[str, ...]
    base: dict[str, Any] = field(default_factory=lambda: ITERATIVE)
    command: str = "run"
    args: tuple[str, ...] = ()
    suite: bool = True  # False: the suite is the valid base (the error is in the command line)
    suite_arg: bool = True  # False: the case's args give the positional (no suite file is passed)


def _changed(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return raw


def L(key: str, value: Any, *expect: str) -> Case:  # noqa: N802  (a learner key)
    return Case({f"learner.{key}": value}, expect)


def S(key: str, value: Any, *expect: str, kind: str | None = None) -> Case:  # noqa: N802  (a scenario key)
    change = {f"scenario.{key}": value}
    if kind:
        change = {"scenario": {"kind": kind, "rounds": 2, "per_round": 5, key: value}}
    return Case(change, expect)


def O(key: str, value: Any, *expect: str) -> Case:  # noqa: N802, E743  (a one-shot scenario key)
    return Case({f"scenario.{key}": value}, expect, base=ONESHOT)


MODELS_ALLOWED = "a registered model (lenet, mlp, small_cnn), 'timm/<arch>' or 'torchvision/<arch>'"
SEEDS_ALLOWED = "seeds must be a positive integer n (seeds 0..n-1) or a non-empty list of distinct integers >= 0"

CASES: dict[str, Case] = {
    # learner recipe: every key's type and range
    "learner_epochs_string": L("epochs", "thirty", "learner.epochs must be an integer >= 0, got 'thirty'"),
    "learner_epochs_negative": L("epochs", -1, "learner.epochs must be an integer >= 0, got -1"),
    "learner_epochs_bool": L("epochs", True, "learner.epochs must be an integer >= 0, got True"),
    "learner_epochs_float": L("epochs", 2.5, "learner.epochs must be an integer >= 0, got 2.5"),
    "learner_lr_zero": L("lr", 0, "learner.lr must be a number > 0, got 0"),
    "learner_lr_string": L("lr", "fast", "learner.lr must be a number > 0, got 'fast'"),
    "learner_lr_nan": L("lr", float("nan"), "learner.lr must be a number > 0, got nan"),
    "learner_batch_size_zero": L("batch_size", 0, "learner.batch_size must be an integer >= 1, got 0"),
    "learner_eval_batch_size_zero": L("eval_batch_size", 0, "learner.eval_batch_size must be an integer >= 1"),
    "learner_optimizer_unknown": L("optimizer", "adma", "learner.optimizer must be one of 'sgd', 'adam', 'adamw', "
                                   "got 'adma'", "Did you mean 'adam'"),
    "learner_momentum_range": L("momentum", 1.5, "learner.momentum must be a number >= 0 and <= 1, got 1.5"),
    "learner_weight_decay_negative": L("weight_decay", -0.1, "learner.weight_decay must be a number >= 0"),
    "learner_dropout_one": L("dropout", 1, "learner.dropout must be a number >= 0 and < 1, got 1"),
    "learner_lr_step_zero": L("lr_step", 0, "learner.lr_step must be an integer >= 1 or null, got 0"),
    "learner_lr_gamma_negative": L("lr_gamma", -1, "learner.lr_gamma must be a number > 0"),
    "learner_warm_start_string": L("warm_start", "yes", "learner.warm_start must be true or false, got 'yes'"),
    "learner_device_unknown": L("device", "gpu", "learner.device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'"),
    "learner_init_typo": L("init", "rotaton", "learner.init must be one of 'random', 'rotation' or the path",
                           "Did you mean 'rotation'"),
    "learner_model_unknown": L("model", "no_such_model", f"learner.model must be {MODELS_ALLOWED}, got 'no_such_model'"),
    "learner_model_typo": L("model", "lenett", "learner.model must be", "Did you mean 'lenet'"),
    "learner_model_timm_unknown": L("model", "timm/resnet_nope", "learner.model: timm has no architecture 'resnet_nope'",
                                    MODELS_ALLOWED),
    "learner_model_torchvision_unknown": L("model", "torchvision/resnet1", "torchvision has no architecture 'resnet1'",
                                           "Did you mean"),
    "learner_model_bad_prefix": L("model", "keras/resnet", "learner.model must be", "prefix must be 'timm' or "
                                  "'torchvision'"),
    "learner_model_not_string": L("model", 3, "learner.model must be a string, got 3"),
    "learner_model_kwargs_unknown": L("model_kwargs", {"width": 3}, "learner.model_kwargs: model 'small_cnn' has no "
                                      "parameter(s) ['width']", "It accepts"),
    "learner_model_kwargs_external": Case({"learner.model": "torchvision/resnet18", "learner.model_kwargs": {"a": 1}},
                                          ("learner.model_kwargs is only passed to registered models",)),
    "learner_unknown_key": L("epoch", 5, "Unknown learner key(s) ['epoch']", "Did you mean 'epochs'",
                             "A learner recipe takes ["),
    "learner_pretrain_without_rotation": L("pretrain", {"epochs": 2}, "learner.pretrain is only used with "
                                           "learner.init: rotation"),
    "learner_pretrain_epochs_zero": Case({"learner.init": "rotation", "learner.pretrain": {"epochs": 0}},
                                         ("learner.pretrain.epochs must be an integer >= 1, got 0",)),
    "learner_pretrain_unknown_key": Case({"learner.init": "rotation", "learner.pretrain": {"epochz": 2}},
                                         ("Unknown learner.pretrain key(s) ['epochz']", "Did you mean 'epochs'")),
    "learner_pretrain_lr_string": Case({"learner.init": "rotation", "learner.pretrain": {"lr": "high"}},
                                       ("learner.pretrain.lr must be a number > 0, got 'high'",)),
    "learner_not_mapping": Case({"learner": "fast"}, ("learner must be a mapping (a learner recipe: keys [",)),
    "learner_empty_list": Case({"learner": []}, ("learner is an empty list",)),
    "learner_listed_twice": Case({"learner": [{"epochs": 1}, {"epochs": 1}]},
                                 ("learner[0] and learner[1] are the same learner",)),
    "learner_list_entry_bad": Case({"learner": [{"epochs": 1}, {"epochs": -2}]},
                                   ("learner[1].epochs must be an integer >= 0, got -2",)),
    # top-level suite keys
    "seeds_zero": Case({"seeds": 0}, (SEEDS_ALLOWED, "got 0")),
    "seeds_negative": Case({"seeds": -2}, (SEEDS_ALLOWED, "got -2")),
    "seeds_bool": Case({"seeds": True}, (SEEDS_ALLOWED, "got True")),
    "seeds_string": Case({"seeds": "three"}, (SEEDS_ALLOWED, "got 'three'")),
    "seeds_not_ints": Case({"seeds": [0, "1"]}, (SEEDS_ALLOWED, "got [0, '1']")),
    "seeds_duplicated": Case({"seeds": [0, 1, 1]}, (SEEDS_ALLOWED, "[1] listed more than once")),
    "seeds_empty_list": Case({"seeds": []}, (SEEDS_ALLOWED, "got []")),
    "seed_and_seeds": Case({"seed": 3}, ("seed: is not a suite key", "seeds: takes a count")),
    "seed_alone": Case({"seed": 42, "seeds": DELETE}, ("seed: is not a suite key (seed: 42 would be read as a seed count)",
                                                        "seeds: [42]")),
    "budget_exceeds_imbalanced_pool": Case({"scenario.per_round": 5000},
                                           ("cannot run: The budget (", "exceeds the imbalanced pool (",
                                            "nothing was run or stored")),
    "method_empty": Case({"method": []}, ("method is an empty list; give at least one method",)),
    "method_listed_twice": Case({"method": ["random", "entropy", "random"]},
                                ("method 'random' is listed twice (method[0] and method[2])",)),
    "method_listed_twice_relabelled": Case({"method": ["random", {"name": "random", "label": "r2"}]},
                                           ("method 'random' is listed twice (method[0] and method[1])",)),
    "method_same_label": Case({"method": [{"name": "entropy", "label": "u"}, {"name": "margin", "label": "u"}]},
                              ("method[0] and method[1] are both shown as 'u'; give each a distinct label",)),
    "method_label_is_another_name": Case({"method": ["random", {"name": "entropy", "label": "random"}]},
                                         ("method[0] and method[1] are both shown as 'random'",)),
    "method_unknown": Case({"method": ["random", "entroyp"]}, ("Unknown method 'entroyp'. Did you mean 'entropy'",
                                                              "Registered methods:")),
    "method_unknown_plus_bal": Case({"method": ["entroyp+bal"]}, ("Unknown method 'entroyp+bal'",)),
    "method_parameter_name": Case({"method": [{"name": "badge", "frist": "random"}]},
                                  ("Cannot create method 'badge': it has no parameter 'frist'. Did you mean 'first'?",
                                   "It accepts first='max_norm'")),
    "method_parameter_on_parameterless": Case({"method": [{"name": "entropy", "k": 3}]},
                                              ("Cannot create method 'entropy': it has no parameter 'k'",
                                               "It takes no parameters")),
    "method_parameter_type": Case({"method": [{"name": "varR", "samples": "many"}]},
                                  ("method 'varR' parameter samples must be an integer, got 'many'",)),
    "method_parameter_of_bal_base": Case({"method": [{"name": "pfk+bal", "lables": "pyz"}]},
                                         ("method 'pfk+bal': it has no parameter 'lables'", "Did you mean 'labels'")),
    "method_name_not_string": Case({"method": [{"name": 3}]}, ("method.name must be a string, got 3",)),
    "method_label_not_string": Case({"method": [{"name": "random", "label": 5}]},
                                    ("method.label must be a string, got 5",)),
    "method_not_name_or_mapping": Case({"method": [["random"]]},
                                       ("method must be a method name or a mapping with a 'name' key",)),
    "method_needs_not_provided": Case({"method": ["random", "varR"]}, (
        "Method 'varR' needs mc_dropout, which the 'oneshot' scenario does not provide (it provides",), base=ONESHOT),
    "dataset_unknown": Case({"dataset": "digts"}, ("Unknown dataset 'digts'. Did you mean 'digits'",)),
    "dataset_parameter_name": Case({"dataset.num_clases": 3}, ("Cannot create dataset 'synthetic': it has no parameter "
                                                               "'num_clases'. Did you mean 'num_classes'?",)),
    "dataset_parameter_type": Case({"dataset.train_per_class": "30"},
                                   ("dataset 'synthetic' parameter train_per_class must be an integer, got '30'",)),
    "imbalance_unknown": Case({"imbalance": "stp"}, ("Unknown imbalance 'stp'. Did you mean 'step'",)),
    "imbalance_parameter_type": Case({"imbalance.ratio": "ten"},
                                     ("imbalance 'step' parameter ratio must be a number, got 'ten'",)),
    "imbalance_listed_twice": Case({"imbalance": ["none", "none"]}, ("imbalance 'none' is listed twice",)),
    "top_level_unknown_key": Case({"methods": ["random"]}, ("unknown key(s) ['methods']. Did you mean 'method'?",
                                                           "Allowed: [")),
    "missing_method": Case({"method": DELETE}, ("missing required key(s) ['method']",)),
    "name_with_slash": Case({"name": "a/b"}, ("name must be a non-empty string usable as a folder name",)),
    "name_not_string": Case({"name": 7}, ("name must be a non-empty string usable as a folder name", "got 7")),
    "description_not_string": Case({"description": ["x"]}, ("description must be a string, got ['x']",)),
    "executor_unknown": Case({"executor": "dask"}, ("executor must be one of 'inline', 'local', 'slurm', got 'dask'",)),
    "report_not_mapping": Case({"report": "curves"}, ("report must be a mapping (the report section: keys [",)),
    "report_unknown_key": Case({"report": {"minority": [5]}}, ("Unknown report key(s) ['minority']",
                                                              "Did you mean 'minority_classes'")),
    "report_confusion_round": Case({"report": {"confusion_round": -1}},
                                   ("report.confusion_round must be an integer >= 0, got -1",)),
    "report_confusion_methods": Case({"report": {"confusion_methods": ["entropi"]}}, (
        "report.confusion_methods ['entropi'] are not methods of this suite. Did you mean 'entropy'?",)),
    "grids_empty": Case({"grids": []}, ("grids must be a non-empty list of mappings (partial suites), got []",)),
    "grids_entry_bad": Case({"grids": [{"seeds": 1}, {"learner": {"epochs": -1}}]},
                            ("grids[1]: learner.epochs must be an integer >= 0, got -1",)),
    # scenarios (iterative, cold start, one-shot) and the source and target models
    "scenario_rounds_string": S("rounds", "two", "scenario.rounds must be an integer >= 0, got 'two'"),
    "scenario_per_round_zero": S("per_round", 0, "scenario.per_round must be an integer >= 1, got 0"),
    "scenario_initial_negative": S("initial", -1, "scenario.initial must be an integer >= 0, got -1"),
    "scenario_val_per_class_float": S("val_per_class", 1.5, "scenario.val_per_class must be an integer >= 0"),
    "scenario_pool_size_bool": S("pool_size", True, "scenario.pool_size must be an integer >= 1 or null, got True"),
    "scenario_test_per_class_zero": S("test_per_class", 0, "scenario.test_per_class must be an integer >= 1 or null"),
    "scenario_unknown_key": S("per_rnd", 5, "Unknown scenario key(s) ['per_rnd']", "Did you mean 'per_round'"),
    "scenario_budget_over_pool": Case({"scenario.pool_size": 15}, (
        "scenario budget initial + rounds × per_round = 10 + 2 × 5 = 20 exceeds scenario.pool_size 15",)),
    "scenario_labels_nothing": Case({"scenario.initial": 0, "scenario.rounds": 0},
                                    ("scenario labels nothing (initial + rounds × per_round = 0 + 0 × 5 = 0)",)),
    "scenario_kind_unknown": S("kind", "nosuch", "Unknown scenario 'nosuch'", "Registered scenarios: coldstart"),
    "scenario_kind_not_string": S("kind", 3, "scenario.kind must be a string, got 3"),
    "scenario_not_mapping": Case({"scenario": "iterative"}, ("scenario must be a mapping of scenario keys",)),
    "scenario_listed_twice": Case({"scenario": [{"rounds": 1}, {"rounds": 1}]},
                                  ("scenario[0] and scenario[1] are the same scenario",)),
    "scenario_list_entry_bad": Case({"scenario": [{"rounds": 1}, {"rounds": -1}]},
                                    ("scenario[1]: scenario.rounds must be an integer >= 0, got -1",)),
    "coldstart_first_round": S("first_round", "oracle", "scenario.first_round must be one of 'method', 'random', "
                               "got 'oracle'", kind="coldstart"),
    "coldstart_initial": S("initial", 5, "scenario.initial must be 0 in a cold start", kind="coldstart"),
    "coldstart_rounds_zero": S("rounds", 0, "scenario.rounds must be an integer >= 1, got 0", kind="coldstart"),
    "oneshot_budget_string": O("budget", "ful", "scenario.budget must be a positive integer or 'full', got 'ful'"),
    "oneshot_budget_zero": O("budget", 0, "scenario.budget must be a positive integer or 'full', got 0"),
    "oneshot_budget_over_pool": Case({"scenario.pool_size": 10}, ("scenario.budget 20 exceeds scenario.pool_size 10",),
                                     base=ONESHOT),
    "oneshot_target_classes_one": O("target_classes", [5], "scenario.target_classes must list at least 2 classes"),
    "oneshot_target_classes_repeated": O("target_classes", [5, 5, 6], "scenario.target_classes must be a non-empty "
                                         "distinct list of integers >= 0 or null, got [5, 5, 6]"),
    "oneshot_target_folds": O("target.folds", 1, "scenario.target.folds must be an integer >= 2, got 1"),
    "oneshot_target_c_grid_empty": O("target.c_grid", [], "scenario.target.c_grid must be a non-empty distinct list "
                                     "of numbers > 0, got []"),
    "oneshot_target_c_grid_negative": O("target.c_grid", [0.1, -1], "scenario.target.c_grid must be a non-empty",
                                        "got [0.1, -1]"),
    "oneshot_target_threshold_string": O("target.threshold", "yes", "scenario.target.threshold must be true or false"),
    "oneshot_target_unknown_key": O("target.thresh", True, "Unknown scenario.target key(s) ['thresh']",
                                    "Did you mean 'threshold'"),
    "oneshot_source_no_model": O("source.model", DELETE, "scenario.source needs a 'model'"),
    "oneshot_source_weights_and_train": O("source.weights", "w.pth", "scenario.source needs exactly one of 'weights'"),
    "oneshot_source_model_unknown": O("source.model", "resnet", f"scenario.source.model must be {MODELS_ALLOWED}, got "
                                      "'resnet'"),
    "oneshot_source_unknown_key": O("source.weight", "w.pth", "Unknown scenario.source key(s) ['weight']",
                                    "Did you mean 'weights'"),
    "oneshot_source_input_size": O("source.input_size", 0, "scenario.source.input_size must be an integer >= 1 or null"),
    "oneshot_source_train_classes_empty": O("source.train.classes", [], "scenario.source.train.classes must be a "
                                            "non-empty distinct list of integers >= 0, got []"),
    "oneshot_source_train_epochs": O("source.train.epochs", -1, "scenario.source.train.epochs must be an integer >= 0"),
    "oneshot_source_train_model": O("source.train.model", "lenet", "scenario.source.train.model is not used"),
    "oneshot_source_overlap": O("source.train.classes", [4, 5], "classes disjoint from the target task; both use [5]"),
    # command lines
    "cli_workers_negative": Case({}, ("argument --workers: must be an integer >= 1, got '-3'",), args=("--workers", "-3"),
                                 suite=False),
    "cli_threads_negative": Case({}, ("argument --threads: must be an integer >= 1, got '-2'",), args=("--threads", "-2"),
                                 suite=False),
    "cli_limit_negative": Case({}, ("argument --limit: must be an integer >= 1, got '-1'",), args=("--limit", "-1"),
                               suite=False),
    "cli_limit_zero": Case({}, ("argument --limit: must be an integer >= 1, got '0'",), args=("--limit", "0"),
                           suite=False),
    "cli_workers_string": Case({}, ("argument --workers: must be an integer >= 1, got 'many'",),
                               args=("--workers", "many"), suite=False),
    "cli_workers_with_inline": Case({}, ("--workers applies to the local executor only (got --executor inline)",),
                                    args=("--executor", "inline", "--workers", "2"), suite=False),
    "cli_executor_unknown": Case({}, ("argument --executor: invalid choice: 'dask'",), args=("--executor", "dask"),
                                 suite=False),
    "cli_plugins_missing": Case({}, ("Plugin folder", "does not exist"), args=("--plugins", "{tmp}/no-plugins"),
                                suite=False),
    "cli_results_is_file": Case({}, ("argument --results:", "afile is a file, not a folder"),
                                args=("--results", "{tmp}/afile"), suite=False),
    "cli_results_under_file": Case({}, ("argument --results:", "cannot be created:", "afile is a file"),
                                   args=("--results", "{tmp}/afile/sub"), suite=False),
    "cli_suite_unknown": Case({}, ("No suite 'quik'", "Did you mean quick"), args=("quik",), suite=False, suite_arg=False),
    "cli_suite_not_yaml": Case({}, ("broken.yaml is not valid YAML at line 2", "Check the brackets"),
                               args=("{tmp}/broken.yaml",), suite=False, suite_arg=False),
    # the same one-line errors from every subcommand that loads a suite
    "status_bad_learner": Case({"learner.model": "no_such_model"}, ("learner.model must be",), command="status"),
    "status_results_is_file": Case({}, ("argument --results:", "is a file"), command="status",
                                   args=("--results", "{tmp}/afile"), suite=False),
    "leaderboard_bad_seeds": Case({"seeds": 0}, (SEEDS_ALLOWED,), command="leaderboard"),
    "leaderboard_unknown_baseline": Case({}, ("--baseline 'randm' is not a method of suite 'tiny'. Did you mean "
                                              "'random'?",), command="leaderboard", args=("--baseline", "randm"),
                                         suite=False),
    "leaderboard_reports_is_file": Case({}, ("argument --reports:", "is a file"), command="leaderboard",
                                        args=("--reports", "{tmp}/afile"), suite=False),
    "profile_bad_method": Case({"method": []}, ("method is an empty list",), command="profile"),
    "curves_bad_scenario": Case({"scenario.per_round": 0}, ("scenario.per_round must be",), command="curves"),
    "tables_bad_target": O("target.folds", "ten", "scenario.target.folds must be an integer >= 2, got 'ten'"),
    "datasets_stats_params_json": Case({}, ("argument --params: must be a JSON object",), command="datasets stats",
                                       args=("digits", "--params", "{bad"), suite=False),
    "datasets_stats_params_list": Case({}, ("argument --imbalance-params: must be a JSON object",),
                                       command="datasets stats", args=("digits", "--imbalance-params", "[1]"),
                                       suite=False),
    "datasets_stats_seed": Case({}, ("argument --seed: must be an integer >= 0, got '-1'",), command="datasets stats",
                                args=("digits", "--seed", "-1"), suite=False),
    "datasets_stats_unknown_dataset": Case({}, ("Unknown dataset 'digts'",), command="datasets stats", args=("digts",),
                                           suite=False),
}
CASES["tables_bad_target"] = Case(CASES["tables_bad_target"].change, CASES["tables_bad_target"].expect, base=ONESHOT,
                                  command="tables")


def _command_line(case: Case, tmp_path: Path) -> list[str]:
    """The argv for a case; a suite file is written unless the case names its own."""
    results, reports = tmp_path / "results", tmp_path / "reports"
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "broken.yaml").write_text("dataset: [unclosed\nmethod: random\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    argv = case.command.split()
    if case.suite_arg and case.command != "datasets stats":
        suite = tmp_path / "suite.yaml"
        suite.write_text(yaml.safe_dump(_changed(case.base, case.change), sort_keys=False))
        argv.append(str(suite))
    if case.command == "run":
        argv.append("--no-progress")
        if not {"--workers", "--threads", "--executor"} & set(args):
            argv += ["--executor", "inline"]
    if "--results" not in args and case.command != "datasets stats":
        argv += ["--results", str(results)]
    if case.command in ("leaderboard", "profile", "curves", "tables") and "--reports" not in args:
        argv += ["--reports", str(reports)]
    return argv + args


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_before_any_cell(name, tmp_path, capsys):
    case = CASES[name]
    argv = _command_line(case, tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert err.startswith(f"albench {case.command}: error: "), err
    for fragment in case.expect:
        assert fragment in err, f"{fragment!r} not in {err!r}"
    if case.suite:  # the suite file is named once, not twice
        assert err.count(str(tmp_path / "suite.yaml")) == 1, err
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()  # no cell ran
    assert (tmp_path / "afile").read_text() == "not a folder\n"


def test_pattern_may_follow_plugins(tmp_path, capsys):
    """`albench list methods --plugins DIR 'b*'`: the pattern may come after the options."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "probe.py").write_text(
        "from benchmark.core.registry import register_method\n"
        "from benchmark.select.api import QueryStrategy\n\n\n"
        "@register_method('test_listed_probe')\n"
        "class Probe(QueryStrategy):\n"
        "    \"\"\"A plugin method that only this test lists.\"\"\"\n\n"
        "    def select(self, view, k, rng):\n"
        "        return view.unlabelled[:k]\n")
    try:
        for argv in (["list", "methods", "--plugins", str(plugins), "test_l*"],
                     ["list", "--plugins", str(plugins), "methods", "test_l*"],
                     ["list", "methods", "test_l*", "--plugins", str(plugins)]):
            assert main(argv) == 0, argv
            lines = capsys.readouterr().out.splitlines()
            assert lines[0].startswith("test_listed_probe") and len(lines) == 2, lines  # the probe and the +bal note
        assert main(["list", "methods", "--plugins", str(plugins), "b*"]) == 0
        names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[:-1]]
        assert names and all(n.startswith("b") for n in names) and "badge" in names
    finally:  # later tests (test_packaging) compare the registry with a fresh install's
        forget_plugin("test_listed_probe", plugins / "probe.py")


def test_options_before_the_suite_and_valid_suites_still_pass(tmp_path, capsys):
    """The checks refuse nothing valid: every bundled suite expands, and status accepts options anywhere."""
    for path in sorted(SUITES_DIR.glob("*.yaml")):
        assert load_suite(path).cells, path
    suite = tmp_path / "ok.yaml"
    suite.write_text(yaml.safe_dump(ITERATIVE))
    assert main(["status", "--results", str(tmp_path / "r"), str(suite)]) == 0
    assert "2 cells — 0 done, 0 failed, 2 pending" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()


def test_edge_values_that_are_allowed_pass(tmp_path, capsys):
    """No false alarms: boundary values, nulls, a path-like init, external models and seed lists expand."""
    raw = _changed(ITERATIVE, {"learner": {"model": "torchvision/resnet18", "optimizer": "adam", "lr": 1, "momentum": 0,
                                           "lr_step": None, "dropout": 0, "init": "weights/backbone.pth",
                                           "device": "cuda:1", "epochs": 0, "warm_start": True},
                               "seeds": [3, 1], "scenario.pool_size": 20, "scenario.rounds": 2,
                               "method": ["random", {"name": "varR", "samples": 4, "label": "varR (K4)"}],
                               "imbalance": [{"name": "step", "ratio": 2.5}, "none"],
                               "report": {"minority_classes": [5, 6], "confusion_methods": ["varR (K4)"]}})
    path = tmp_path / "edge.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert len(load_suite(path).cells) == 2 * 2 * 2
    cold = _changed(ITERATIVE, {"scenario": {"kind": "coldstart", "rounds": 1, "per_round": 5, "first_round": "method"}})
    path.write_text(yaml.safe_dump(cold))
    assert load_suite(path).cells[0].scenario["kind"] == "coldstart"


def test_a_changed_copy_of_a_builtin_suite_may_not_take_its_name(tmp_path, capsys):
    """A copy of suites/quick.yaml that keeps `name: quick` would write over reports/quick/: refused
    (every command loads the suite the same way); an unchanged copy writes what the built-in writes."""
    builtin = (SUITES_DIR / "quick.yaml").read_text()
    same = tmp_path / "same.yaml"
    same.write_text(builtin)
    assert load_suite(same).name == "quick"
    changed = tmp_path / "quick.yaml"
    changed.write_text(builtin.replace("seeds: 3", "seeds: 2"))
    assert changed.read_text() != builtin
    for command in ("run", "leaderboard", "status"):
        assert main([command, str(changed), "--results", str(tmp_path / "results")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is the name of the built-in suite" in err, err
        assert "reports/quick/" in err and "name: quick-quick-copy" in err, err
    assert not (tmp_path / "results").exists()
    renamed = tmp_path / "mine.yaml"
    renamed.write_text(builtin.replace("name: quick", "name: my-quick").replace("seeds: 3", "seeds: 2"))
    assert load_suite(renamed).name == "my-quick"


def test_builtin_suite_descriptions_name_no_developer_paths():
    """Descriptions reach every reader of the HTML reports: they say where data goes in the user's terms
    (--data-root, $ALBENCH_DATA), never this repository's development layout (../shared)."""
    for path in sorted(SUITES_DIR.glob("*.yaml")):
        assert "shared/" not in load_suite(path).description, path
