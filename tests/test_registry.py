import textwrap

import numpy as np
import pytest

from benchmark.core.errors import AlbenchError, UnknownNameError
from benchmark.core.registry import DATASETS, IMBALANCES, METHODS, discover


def test_builtin_components_are_registered():
    assert {"random", "entropy", "margin", "least_confidence", "coreset"} <= set(METHODS.names())
    assert {"digits", "synthetic", "mnist", "fashion-mnist"} <= set(DATASETS.names())
    assert {"none", "step", "target_ir", "longtail"} <= set(IMBALANCES.names())
    assert METHODS.names("*conf*") == ["least_confidence"]


def test_unknown_name_lists_close_ones():
    with pytest.raises(UnknownNameError) as err:
        METHODS.get("marginn")
    msg = str(err.value)
    assert "'margin'" in msg and "Registered methods" in msg


def test_user_plugin_folder_is_discovered(tmp_path):
    (tmp_path / "my_method.py").write_text(textwrap.dedent('''
        import numpy as np
        from benchmark.core.registry import register_method
        from benchmark.select.api import QueryStrategy

        @register_method("test_first_k")
        class FirstK(QueryStrategy):
            """Takes the k lowest pool positions."""
            def select(self, view, k, rng):
                return np.sort(view.unlabelled)[:k]
    '''))
    discover([tmp_path])
    assert "test_first_k" in METHODS.names()
    strategy = METHODS.create("test_first_k")
    from benchmark.select.api import SelectionView

    view = SelectionView(unlabelled=np.array([5, 3, 9]), labelled=np.array([0]), labelled_y=np.array([1]),
                         num_classes=2, round=0)
    assert strategy.select(view, 2, np.random.default_rng(0)).tolist() == [3, 5]


def test_broken_plugin_names_the_file(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(AlbenchError, match="broken.py failed to import"):
        discover([tmp_path])


def test_create_with_wrong_params_is_clear():
    with pytest.raises(AlbenchError, match="Cannot create method 'coreset'"):
        METHODS.create("coreset", layer="fc1")


def test_the_documented_example_method_works(tmp_path):
    """docs/adding-a-method.md's example must stay runnable."""
    import re

    from tests.conftest import REPO

    text = (REPO / "docs" / "adding-a-method.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "doc_example.py").write_text(code)
    discover([tmp_path])
    from benchmark.select.api import SelectionView

    method = METHODS.create("max_prob_gap", tau=0.5)
    view = SelectionView(unlabelled=np.array([4, 7, 9]), labelled=np.zeros(0, np.int64),
                         labelled_y=np.zeros(0, np.int64), num_classes=2, round=0,
                         probs=np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]]))
    assert method.select(view, 1, np.random.default_rng(0)).tolist() == [7]
