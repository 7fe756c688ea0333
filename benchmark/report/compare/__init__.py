"""Statistics across settings (``albench compare``): which method beats which, how often, and whether
the ranking is real.

One job per module: ``data`` (stored cells of several suites → one table per round and one AUBC per
seed), ``pairwise`` (Ash et al. 2020's pairwise penalty matrix), ``ranks`` (Demšar 2006's average
ranks, Friedman test and post-hoc test), ``efficiency`` (labels to reach a target accuracy, bootstrap
interval), ``power`` (seeds a paired t-test needs), ``columns`` (the leaderboard's two columns built
from them), ``analysis`` (all of it for a set of suites), ``figures`` and ``render`` (the files).

This package file imports nothing, so that ``leaderboard`` can import ``columns`` while ``data``
imports ``leaderboard``; it holds the choices the CLI offers without importing scipy.
"""

POSTHOC = ("nemenyi", "wilcoxon")  # after the Friedman test: Nemenyi, or Wilcoxon signed-rank with Holm
BLOCKS = ("auto", "settings", "seeds")  # what a rank test's blocks are
