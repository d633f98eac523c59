"""LastValueRelative against the same regressor fitted by hand on relative data."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_multigran import (
    GranularityTransformer,
    LastValueRelative,
    MultiGranularityRegressor,
)
from sklearn_multigran.forecasting import make_horizon_targets

# The checks inject NaN anywhere in X when the tags allow it; a NaN in the
# last-value column is refused in fit, since the targets are taken relative to it.
_NAN_LAST = "NaN in the last-value column is refused in fit: y - last needs it"


def _expected_failures(estimator):
    if get_tags(estimator).input_tags.allow_nan:
        return {"check_estimators_pickle": _NAN_LAST}
    return {}


@parametrize_with_checks(
    [LastValueRelative(Ridge()), LastValueRelative(MultiGranularityRegressor())],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("y_2d", [False, True])
def test_relative_matches_manual_computation(rng, y_2d):
    X = rng.normal(size=(40, 5)).cumsum(axis=1)
    y = X[:, -1:] + rng.normal(size=(40, 3 if y_2d else 1))
    y = y if y_2d else y.ravel()
    model = LastValueRelative(Ridge(alpha=0.5), last_value_column=4).fit(X, y)
    last = X[:, 4]
    manual = Ridge(alpha=0.5).fit(
        X - last[:, None], y - (last[:, None] if y_2d else last)
    )
    X_new = rng.normal(size=(7, 5))
    expected = manual.predict(X_new - X_new[:, [4]]) + (
        X_new[:, [4]] if y_2d else X_new[:, 4]
    )
    np.testing.assert_allclose(model.predict(X_new), expected)


def test_relative_predictions_follow_a_level_shift(rng):
    X = rng.normal(size=(60, 6)).cumsum(axis=1)
    y = X @ rng.normal(size=(6, 2)) * 0.1 + X[:, -1:]
    model = LastValueRelative(LinearRegression()).fit(X, y)
    shift = 123.0
    np.testing.assert_allclose(model.predict(X + shift), model.predict(X) + shift)


def test_relative_columns_variants(rng):
    X = rng.normal(size=(30, 4))
    y = rng.normal(size=30)
    names = ["lag1", "lag0", "std", "last"]
    frame = pd.DataFrame(X, columns=names)
    by_name = LastValueRelative(
        LinearRegression(), last_value_column="last", relative_columns=["lag1", "lag0"]
    ).fit(frame, y)
    by_pos = LastValueRelative(
        LinearRegression(), last_value_column=3, relative_columns=[0, 1]
    ).fit(X, y)
    by_mask = LastValueRelative(
        LinearRegression(), relative_columns=[True, True, False, False]
    ).fit(X, y)
    np.testing.assert_array_equal(by_name.relative_mask_, [True, True, False, False])
    assert by_name.last_value_index_ == 3
    np.testing.assert_allclose(by_name.predict(frame), by_pos.predict(X))
    np.testing.assert_allclose(by_mask.predict(X), by_pos.predict(X))

    targets_only = LastValueRelative(LinearRegression(), relative_columns=None).fit(
        X, y
    )
    manual = LinearRegression().fit(X, y - X[:, 3])
    np.testing.assert_allclose(targets_only.predict(X), manual.predict(X) + X[:, 3])


def test_relative_inside_pipeline_and_fit_params(rng):
    X = rng.normal(size=(50, 3)).cumsum(axis=1)
    y = X[:, -1] + 0.1
    model = LastValueRelative(make_pipeline(StandardScaler(), Ridge())).fit(X, y)
    assert model.predict(X).shape == (50,)
    weights = rng.uniform(size=50)
    weighted = LastValueRelative(Ridge()).fit(X, y, sample_weight=weights)
    manual = Ridge().fit(X - X[:, [-1]], y - X[:, -1], sample_weight=weights)
    np.testing.assert_allclose(weighted.regressor_.coef_, manual.coef_)


RELATIVE_ERRORS = [
    ({"last_value_column": 5}, ValueError, r"last_value_column=5 is out of range .* 3"),
    ({"last_value_column": "c"}, ValueError, "'c' is a feature name, but X has no"),
    ({"relative_columns": [True, False]}, ValueError, "boolean mask of length 2"),
    ({"relative_columns": [0, 7]}, ValueError, "relative_columns=7 is out of range"),
    ({"relative_columns": [0.5]}, TypeError, "integer positions or feature names"),
    ({"relative_columns": "some"}, ValueError, "relative_columns"),
    (
        {"regressor": "ridge"},
        ValueError,
        "must be an object implementing .fit. and .predict.",
    ),
]


@pytest.mark.parametrize(("params", "error", "match"), RELATIVE_ERRORS)
def test_relative_errors(rng, params, error, match):
    params = {"regressor": Ridge(), **params}
    with pytest.raises(error, match=match):
        LastValueRelative(**params).fit(rng.normal(size=(10, 3)), rng.normal(size=10))


def test_relative_unknown_feature_name(rng):
    frame = pd.DataFrame(rng.normal(size=(10, 2)), columns=["a", "b"])
    with pytest.raises(ValueError, match=re.escape("features are ['a', 'b']")):
        LastValueRelative(Ridge(), last_value_column="z").fit(frame, np.ones(10))


# --------------------------------------------------------------------------------------
# NaN: let through when the inner regressor takes it, refused by its name otherwise
# --------------------------------------------------------------------------------------


def _default_features(rng):
    """The transformer's default output (NaN where a window is empty) and targets."""
    y = pd.Series(
        rng.normal(size=120).cumsum(),
        index=pd.date_range("2024-01-01", periods=120, freq="h"),
        name="load",
    )
    gt = GranularityTransformer((1, 4), stats=("mean", "std"), n_lags=2)
    features = gt.set_output(transform="pandas").fit_transform(y.to_frame())
    Y, complete = make_horizon_targets(y, 3, start=0)
    last = "load__1__mean__lag0"
    rows = complete & features[last].notna().to_numpy()
    return features[rows], Y.to_numpy()[rows], last


def test_nan_reaches_an_inner_regressor_that_accepts_it(rng):
    X, Y, last = _default_features(rng)
    assert X.isna().to_numpy().any()  # std of one value, lag 1 of the first rows
    model = LastValueRelative(MultiGranularityRegressor(), last_value_column=last).fit(
        X, Y
    )
    assert get_tags(model).input_tags.allow_nan
    # the same as the inner regressor fitted by hand on the relative data
    values = X.to_numpy()
    origin = values[:, list(X.columns).index(last)]
    manual = MultiGranularityRegressor().fit(
        pd.DataFrame(values - origin[:, None], columns=X.columns), Y - origin[:, None]
    )
    expected = (
        manual.predict(pd.DataFrame(values - origin[:, None], columns=X.columns))
        + origin[:, None]
    )
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-10, atol=1e-10)


def test_nan_is_refused_by_the_inner_regressor_name(rng):
    X, Y, last = _default_features(rng)
    model = LastValueRelative(Ridge(), last_value_column=last)
    assert not get_tags(model).input_tags.allow_nan
    with pytest.raises(ValueError, match=r"contains NaN .* regressor=Ridge\(\) does"):
        model.fit(X, Y)
    filled = X.fillna(0.0)
    fitted = model.fit(filled, Y)
    with pytest.raises(ValueError, match=r"regressor=Ridge\(\) does not accept"):
        fitted.predict(X)


def test_nan_last_value_is_refused_in_fit(rng):
    X = rng.normal(size=(10, 3))
    X[4, -1] = np.nan
    with pytest.raises(ValueError, match="last_value_column=-1 is NaN at row 4"):
        LastValueRelative(MultiGranularityRegressor()).fit(X, rng.normal(size=10))


def test_tags_follow_the_inner_regressor():
    assert get_tags(LastValueRelative(Ridge())).target_tags.multi_output
    inner = get_tags(MultiGranularityRegressor())
    tags = get_tags(LastValueRelative(MultiGranularityRegressor()))
    assert tags.input_tags.allow_nan == inner.input_tags.allow_nan
    assert tags.target_tags.multi_output == inner.target_tags.multi_output


def test_skip_parameter_validation_skips_the_constraints(rng):
    # _fit_context: the constraints are checked unless the config skips them, and
    # then only the checks where the value is used remain
    from sklearn import config_context

    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    model = LastValueRelative(Ridge(), last_value_column=2.0)
    with pytest.raises(ValueError, match="'last_value_column' parameter"):
        model.fit(X, y)
    with (
        config_context(skip_parameter_validation=True),
        pytest.raises(TypeError, match="must hold integer positions"),
    ):
        model.fit(X, y)
