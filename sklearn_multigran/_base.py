"""What every multi-granularity estimator shares: blocks, scaling, NaN, tags.

The four public estimators differ in their submodel family (closed-form linear, MLP)
and their loss (squared error, cross-entropy); everything else is here, once:

- the parameters common to all (``sharing``, ``alpha``, ``blocks``,
  ``fit_intercept``) and their constraints;
- the sample-weight check;
- resolving ``blocks`` into the fitted ``n_blocks_``, ``block_names_``,
  ``block_columns_`` and ``free_columns_``;
- validating ``X`` at predict time and imputing NaN with the training mean, paying for
  a NaN mask only when there is a NaN;
- the inputs and per-block terms of a fitted blended network, and the per-block
  terms of a linear model (``predict_contributions``);
- the tags (NaN allowed).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_multigran._blocks import resolve_blocks
from sklearn_multigran._linear import impute
from sklearn_multigran._mlp import (
    NETWORK_PARAMETER_CONSTRAINTS,
    network_inputs,
    network_terms,
)
from sklearn_multigran.utils._compat import Interval, StrOptions, validate_data

#: Constraints of the parameters every estimator takes. ``"auto"`` is accepted for
#: ``sharing`` and ``alpha`` everywhere: the closed-form regressor chooses them, the
#: others refuse them in ``fit`` with a message that says how to tune them instead.
BASE_PARAMETER_CONSTRAINTS = {
    "sharing": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
    "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "blocks": [
        StrOptions({"auto"}),
        Interval(Integral, 1, None, closed="left"),
        "array-like",
    ],
    "fit_intercept": ["boolean"],
}

#: The parameters of the L-BFGS solver alone, as the linear classifier takes them.
LBFGS_PARAMETER_CONSTRAINTS = {
    name: NETWORK_PARAMETER_CONSTRAINTS[name] for name in ("max_iter", "tol", "verbose")
}


def _check_sample_weight(sample_weight, n_samples):
    # sklearn's own helper is private; this is the subset we need. Weights multiply
    # rows by sqrt(w) in the Gram pass, hence non-negative.
    if sample_weight is None:
        return None
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sample_weight = check_array(
        sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
    )
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected ({n_samples},)."
        )
    if (sample_weight < 0).any():
        raise ValueError("sample_weight must be non-negative; got negative values.")
    if not sample_weight.sum() > 0:
        raise ValueError(
            "sample_weight must contain at least one non-zero weight; all are zero."
        )
    return sample_weight


def _refuse_auto(estimator):
    """Refuse ``"auto"`` where there is no closed form to choose it by."""
    name = type(estimator).__name__
    for param in ("sharing", "alpha"):
        if getattr(estimator, param) == "auto":
            grid = [0.0, 0.5, 1.0] if param == "sharing" else [0.1, 1.0, 10.0]
            raise ValueError(
                f"{param}='auto' needs the closed form of the linear "
                f"MultiGranularityRegressor; {name} has none. Pass a number, and "
                f"tune it with GridSearchCV({name}(...), {{'{param}': {grid}}})."
            )


def _linear_predict(X, coef, intercept, mean):
    """``X @ coef.T + intercept`` with NaN in ``X`` read as ``mean``.

    The product is computed on ``X`` as it is: a row with a NaN gets a NaN (NaN times
    any number is NaN), so only those rows, found in the small output, are imputed and
    recomputed. Where a BLAS skips a zero coefficient the NaN does not propagate, but
    then the imputed value times that zero adds nothing either.
    """
    out = X @ coef.T
    bad = np.isnan(out)
    if bad.any():
        rows = np.flatnonzero(bad if bad.ndim == 1 else bad.any(axis=1))
        part = X[rows]
        out[rows] = np.where(np.isnan(part), mean, part) @ coef.T
    out += intercept
    return out


class _MultiGranularityBase(BaseEstimator):
    """Blocks, scaling, NaN handling and tags of every multi-granularity estimator.

    Subclasses set ``mean_`` and ``scale_`` (training mean and standard deviation of
    every column) in ``fit``.
    """

    def _resolve_layout(self):
        """Resolve ``blocks`` for the data just validated, and store the result."""
        layout = resolve_blocks(
            self.blocks, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        self.n_blocks_ = layout.n_blocks
        self.block_names_ = list(layout.block_names)
        self.block_columns_ = list(layout.block_columns)
        self.free_columns_ = layout.free_columns
        return layout

    def _center(self):
        return self.mean_ if self.fit_intercept else np.zeros_like(self.mean_)

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            reset=False,
        )

    def _linear_contributions(self, X):
        """Per-block terms ``X_g @ coef_g``, then the free columns' term.

        Returns an array of shape ``(n_samples, n_outputs, n_blocks_ + 1)``.
        """
        X = impute(self._validate_predict_data(X), self.mean_)
        coef = np.atleast_2d(self.coef_)
        groups = [*self.block_columns_, self.free_columns_]
        out = np.empty((X.shape[0], coef.shape[0], len(groups)))
        for g, columns in enumerate(groups):
            out[:, :, g] = X[:, columns] @ coef[:, columns].T
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class _BlendedNetworkMixin:
    """The inputs and per-block outputs of a fitted blended network.

    For the MLP estimators, whose fitted ``coefs_``, ``intercepts_`` and
    ``free_coef_`` come from :func:`~sklearn_multigran._mlp.network_attributes`.
    """

    def _network_inputs(self, X, block_columns, free_columns):
        return network_inputs(
            X,
            block_columns,
            free_columns,
            self.mean_,
            self._center(),
            self.scale_,
            one_block=True,
        )

    def _network_terms(self, X):
        """``(G, n, k)`` block outputs and ``(n, k)`` free-column output."""
        X = self._validate_predict_data(X)
        Xb, Xf = self._network_inputs(X, self.block_columns_, self.free_columns_)
        free_coef = np.atleast_2d(self.free_coef_)
        block_raw, free_raw, _ = network_terms(
            self.coefs_, self.intercepts_, free_coef, self.activation, Xb, Xf
        )
        return block_raw, free_raw
