"""The README's example computes what it says (its blocks run in ``test_docs.py``)."""

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def readme_example():
    """The namespace the README's first python block leaves, and what it printed."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python example"
    namespace = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(blocks[0], str(README), "exec"), namespace)
    return namespace, printed.getvalue()


def test_readme_example_runs_and_its_parts_add_up(readme_example):
    namespace, printed = readme_example
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
    assert printed.startswith("{'model__sharing'")


def test_readme_recent_features_are_the_whole_series_windows(readme_example):
    # the last day's features must see the rows before that day: compare with pandas'
    # time-based rolling windows [t - g, t) over the whole series
    namespace, _ = readme_example
    recent, series = namespace["recent"], namespace["series"]
    assert len(recent) == 96
    assert not recent.isna().any().any()
    for g in ("1h", "6h", "1D"):
        rolling = series["load"].rolling(g, closed="left")
        lag0 = rolling.mean().iloc[-96:].to_numpy()
        np.testing.assert_allclose(recent[f"load__{g}__mean__lag0"], lag0, rtol=1e-12)
        lag1 = rolling.max().shift(freq=g).reindex(series.index).iloc[-96:]
        np.testing.assert_allclose(recent[f"load__{g}__max__lag1"], lag1, rtol=1e-12)
