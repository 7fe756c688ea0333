"""``albench tune``: an optuna study per (method, setting) over the search space the method declares.

A method declares what may be tuned as a class attribute, one entry per constructor parameter::

    search_space = {"samples": ("int", 8, 128, "log"),        # int in [8, 128], log scale
                    "temperature": ("float", 0.1, 10.0, "log"),
                    "weight": ("float", 0.0, 1.0),             # uniform
                    "labels": ("categorical", ["pred", "pyz"])}

For each setting of the suite (dataset, imbalance, learner, scenario) one study runs: a trial
suggests parameters, runs the method's cell on the suite's first seed (or first ``seeds``) with
``evaluate_on: validation`` (every round is scored on the balanced validation split; the test images
are never read) and returns the validation AUBC of balanced accuracy (the mean over the seeds).
After each evaluated round the running AUBC is reported (``run_cell``'s ``on_round``); optuna's
MedianPruner stops a trial that falls below the median of the finished trials at that round.

Storage: ``<results>/tune/<suite>.db`` (SQLite), one study per (method, setting) named
``<method>-<hash>``, the hash of everything that defines the objective (method, its version, fixed
parameters, search space, setting, seeds, engine versions), so a rerun resumes its study and
several workers (``albench tune`` started several times) share it. The tuning cells go to the tune
store ``<results>/tune/cells/`` (never the suite's results), so a trial that repeats parameters reads
its cells back instead of training again. The sampler is TPE seeded from ``--sampler-seed``, the
study and its trial count, so a study is reproducible given the same trial order.

Output: the best parameters as a suite fragment, ``<results>/tune/<suite>.<method>.yaml``: a
``method:`` list entry ``{name: X, <best params>, label: "X (tuned, N trials)"}`` to append to the
suite's ``method:`` list, or, for a suite of several settings (each tuned apart), ``grids:`` entries
pinning each setting. ``--merge PATH`` writes the suite merged with the fragment (a suite
``albench run`` takes). The leaderboard marks "(tuned, N trials)" rows and states the budget.
"""
from __future__ import annotations

from benchmark.tune.cli import add_arguments, build_parser, main, run_from_args
from benchmark.tune.fragment import fragment_of, merge_fragment, write_fragment, write_merged
from benchmark.tune.outcome import StudyOutcome, TuneReport, outcome
from benchmark.tune.plan import OBJECTIVE, TUNE_VERSION, Setting, StudyPlan, plan, settings_of
from benchmark.tune.run import tune
from benchmark.tune.space import KINDS, Dimension, parse_search_space, search_space_of, suggest
from benchmark.tune.study import objective, open_study, storage_url

__all__ = ["KINDS", "OBJECTIVE", "TUNE_VERSION", "Dimension", "Setting", "StudyOutcome", "StudyPlan", "TuneReport",
           "add_arguments", "build_parser", "fragment_of", "main", "merge_fragment", "objective", "open_study",
           "outcome", "parse_search_space", "plan", "run_from_args", "search_space_of", "settings_of",
           "storage_url", "suggest", "tune", "write_fragment", "write_merged"]
