"""The README's example runs as written."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_its_parts_add_up(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python example"
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    search = namespace["search"]
    # better than predicting each fold's mean, for every sharing tried
    assert (search.cv_results_["mean_test_score"] > 0).all()
    # contributions of the three granularities (and the free columns) plus the
    # intercept are the forecast
    model = search.best_estimator_["model"]
    np.testing.assert_allclose(
        namespace["contributions"].sum(axis=1) + model.intercept_,
        model.predict(namespace["recent"]),
    )
    assert capsys.readouterr().out.startswith("{'model__sharing'")
