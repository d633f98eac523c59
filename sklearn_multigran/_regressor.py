"""MultiGranularityRegressor: one submodel per granularity, sharing coefficients."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.utils.validation import check_array, check_is_fitted

from sklearn_multigran._blend import split_coefficients
from sklearn_multigran._blocks import resolve_blocks
from sklearn_multigran._linear import (
    ALPHA_GRID,
    SHARING_GRID,
    candidate_scores,
    gram_statistics,
    reduce_target_rank,
    solve_blend,
)
from sklearn_multigran._mlp import (
    NETWORK_PARAMETER_CONSTRAINTS,
    fit_network,
    network_attributes,
    network_inputs,
    network_params,
    network_terms,
    standardization,
)
from sklearn_multigran.utils._compat import Interval, StrOptions, validate_data


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


class MultiGranularityRegressor(MultiOutputMixin, RegressorMixin, BaseEstimator):
    r"""Regression with one submodel per granularity and shared coefficients.

    The input columns come in ``G`` blocks, one per granularity, each holding the
    same features (the same column, statistic and lag) at its own granularity, plus
    free columns that belong to no granularity (calendar features, pass-through
    columns). Submodel ``g`` predicts ``X_g W_g`` with

    .. math::

        W_g = s\,S + (1 - s)\,V_g, \qquad
        \hat y = \sum_g X_g W_g + X_{free} B + b_0,

    where ``S`` is shared by all granularities, ``V_g`` is granularity ``g``'s own and
    ``s = sharing``: 0 fits independent submodels, 1 one coefficient vector for every
    granularity. The fit minimises the weighted squared error plus
    ``alpha * (|S|^2 + sum_g |V_g|^2 + |B|^2)`` on internally standardised features,
    exactly, in closed form. It costs about one ``Ridge`` fit on the concatenated
    blocks, and ``"auto"`` values of ``sharing`` and ``alpha`` are chosen by the
    marginal likelihood (or generalised cross-validation) at almost no extra cost.

    Read more in the :doc:`user guide </regressor>`.

    Parameters
    ----------
    submodel : {"linear", "mlp"}, default="linear"
        The model family of each granularity's submodel. ``"linear"`` is the closed
        form described above. ``"mlp"`` gives every block an MLP ``f_g`` with the
        same architecture whose every weight and bias is blended the same way,
        ``y_hat = sum_g f_g(X_g) + X_free B + b``, trained jointly by L-BFGS or Adam
        on the squared error plus the same penalty (see :doc:`/mlp`). It takes the
        MLP parameters below; ``"auto"`` is refused for it.

    sharing : float in [0, 1] or "auto", default=0.5
        Weight ``s`` of the shared coefficients. ``"auto"`` picks it by
        ``criterion`` among ``np.linspace(0, 1, 11)``.

    alpha : float > 0 or "auto", default=1.0
        L2 penalty strength, scaled as in :class:`~sklearn.linear_model.Ridge`: the
        objective is ``sum_i w_i (y_i - y_hat_i)^2 + alpha * |coefficients|^2`` on
        standardised features, not divided by the number of samples. ``"auto"``
        picks it by ``criterion`` among
        ``sum(sample_weight) * np.logspace(-6, 2, 17)``, jointly with ``sharing``
        when that is ``"auto"`` too.

    criterion : {"evidence", "gcv"}, default="evidence"
        How ``"auto"`` values are chosen; ignored when neither ``sharing`` nor
        ``alpha`` is ``"auto"``. Every candidate pair comes from one
        eigendecomposition per sharing candidate, without refitting.

        - ``"evidence"``: the highest marginal likelihood (type-II maximum
          likelihood, as :class:`~sklearn.linear_model.BayesianRidge`) of the
          equivalent Gaussian model, where the penalty is a prior
          ``N(0, sigma^2 / alpha)`` on ``S``, ``V_g`` and ``B``, the noise
          variance ``sigma^2`` is estimated and the intercept has a flat prior.
          Steady at small ``n``, also with fewer samples than features.
        - ``"gcv"``: the lowest generalised cross-validation score, the
          rotation-invariant form of the efficient leave-one-out of
          :class:`~sklearn.linear_model.RidgeCV`. Makes no Gaussian assumption,
          but is erratic when the degrees of freedom approach the number of
          samples, and undefined beyond.

        See :ref:`the user guide <multigranularity_regressor_auto>`.

    blocks : "auto", int or list of lists of int, default="auto"
        Which columns form the granularity blocks.

        - ``"auto"``: with a DataFrame whose columns follow
          ``GranularityTransformer``'s ``{column}__{granularity}__{stat}__lag{k}``
          (also behind a ``Pipeline``/``ColumnTransformer`` prefix), one block per
          granularity, in order of first appearance, aligned by
          ``(column, stat, lag)``. Columns that do not parse, or lack a partner in
          some block, are free. With a plain array there are no blocks.
        - int ``G``: ``G`` equal contiguous blocks; it must divide the number of
          features.
        - list of lists of column indices: one list per block, aligned position by
          position, all of the same length; the other columns are free.

        With fewer than two blocks every column is free and the model is exactly
        ``make_pipeline(StandardScaler(), Ridge(alpha))``.

    fit_intercept : bool, default=True
        Whether to fit an intercept. If False, the features are scaled but not
        centred (as ``StandardScaler(with_mean=False)``), the targets are not
        centred, and ``intercept_`` is 0.

    target_rank : int >= 1 or None, default=None
        Linear only. With several targets (a forecast's horizons, say), constrain
        the coefficient matrix to this rank: every prediction is then the targets'
        mean plus a combination of ``target_rank`` fixed target profiles
        (``target_components_``), the reduced-rank ridge regression of Mukherjee
        and Zhu (2011). The fit is the exact minimiser of the same penalised
        squared error under that constraint, computed from the full-rank one at the
        cost of one eigendecomposition of size ``n_targets``. ``"auto"`` values of
        ``sharing`` and ``alpha`` are chosen at full rank first. ``None``, or a
        rank of at least ``n_targets``, leaves the fit unconstrained. See
        :ref:`the user guide <multigranularity_regressor_target_rank>`.

    hidden_layer_sizes : array-like of int, default=(32,)
        Hidden layers of each block's MLP. MLP only, as are the parameters below.

    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.

    solver : {"lbfgs", "adam"}, default="lbfgs"
        ``"lbfgs"`` (full batch) for small data, ``"adam"`` (minibatches) for large.

    max_iter : int, default=200
        L-BFGS iterations or Adam epochs; a ``ConvergenceWarning`` when reached.

    tol : float, default=1e-4
        L-BFGS's gradient tolerance; Adam's minimal improvement of the loss (or of
        the validation R^2) over ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=1e-3
        Adam's step size.

    batch_size : int or "auto", default="auto"
        Adam's minibatch size, ``min(200, n_samples)`` for ``"auto"``; clipped to
        ``n_samples``.

    early_stopping : bool, default=False
        Adam only: hold out ``validation_fraction`` of the data and stop when its
        R^2 stops improving, keeping the best parameters.

    validation_fraction : float in (0, 1), default=0.1
        Share held out for early stopping.

    n_iter_no_change : int, default=10
        Adam epochs without improvement before stopping.

    random_state : int, RandomState instance or None, default=None
        Initial weights, early-stopping split and minibatch order; the same value
        gives bit-identical fits.

    verbose : int or bool, default=0
        Print the loss after every iteration (epoch).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients in the input's units, one per input column, so that
        ``X @ coef_.T + intercept_`` equals ``predict(X)`` when ``X`` has no NaN.

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept in the input's units.

    shared_coef_ : ndarray of shape (n_per_block,) or (n_targets, n_per_block)
        ``S``, on the standardised scale (so one shared set serves blocks of
        different scales). Empty when there are no blocks.

    own_coef_ : ndarray of shape (n_blocks, n_per_block) or \
            (n_targets, n_blocks, n_per_block)
        ``V_g``, on the standardised scale.

    free_coef_ : ndarray of shape (n_free,) or (n_targets, n_free)
        ``B``, on the standardised scale.

    sharing_ : float
        The sharing used: the parameter, or the choice for ``"auto"``. It is 0.0
        when there are fewer than two blocks, where sharing has no effect.

    alpha_ : float
        The penalty strength used: the parameter, or the choice for ``"auto"``.

    log_evidence_ : ndarray of shape (n_sharing_candidates, n_alpha_candidates)
        Log marginal likelihood (summed over targets) of every candidate pair; with
        ``criterion="evidence"`` the highest wins, the first in grid order on ties.
        ``nan`` where it does not exist. Only set when ``sharing`` or ``alpha`` is
        ``"auto"``.

    gcv_scores_ : ndarray of shape (n_sharing_candidates, n_alpha_candidates)
        GCV score (mean over targets) of every candidate pair; with
        ``criterion="gcv"`` the lowest wins, the first in grid order on ties.
        ``inf`` where the pair has at least as many degrees of freedom as samples.
        Both score tables are computed whatever the criterion, so the two choices
        can be compared. Only set when ``sharing`` or ``alpha`` is ``"auto"``.

    sharing_candidates_ : ndarray of shape (n_sharing_candidates,)
        The sharing values scored (the fixed value alone when ``sharing`` is not
        ``"auto"``, ``[0.0]`` when there are no blocks). Only set with ``"auto"``.

    alpha_candidates_ : ndarray of shape (n_alpha_candidates,)
        The alpha values scored. Only set with ``"auto"``.

    target_components_ : ndarray of shape (min(target_rank, n_targets), n_targets)
        Orthonormal target profiles spanning the predictions around the targets'
        mean (around 0 without intercept), leading first: the leading eigenvectors
        of the penalised fitted values' cross-product. Only set when
        ``target_rank`` is not None.

    shared_coefs_, own_coefs_, coefs_ : list of ndarray
        MLP only: per layer, the shared weights ``(fan_in, fan_out)``, the own and
        the blended weights of every block ``(n_nets, fan_in, fan_out)``, where
        ``n_nets`` is ``n_blocks_``, or 1 (all columns) without blocks. ``free_coef_``
        and ``intercept_`` are ``B`` and ``b``.

    shared_intercepts_, own_intercepts_, intercepts_ : list of ndarray
        MLP only: shared, own and blended biases of the hidden layers; the last
        entry of ``intercepts_`` is the output bias ``b``.

    n_iter_ : int
        Iterations (epochs) of the MLP's solver; 1 for the linear closed form.

    loss_curve_, loss_, best_loss_ : list, float, float
        MLP only: the objective after each iteration (epoch), the final and the
        lowest objective.

    validation_scores_, best_validation_score_ : list and float, or None
        MLP only: validation R^2 per epoch with early stopping.

    n_blocks_ : int
        Number of granularity blocks (0 when fewer than two were found).

    block_names_ : list of str
        One name per block: the granularity, or ``"block{g}"`` for positional blocks.

    block_columns_ : list of ndarray of int
        Input columns of each block, aligned position by position.

    free_columns_ : ndarray of int
        Input columns that belong to no block.

    mean_ : ndarray of shape (n_features,)
        Training mean of each column over its observed entries; NaN are imputed with
        it.

    scale_ : ndarray of shape (n_features,)
        Training (population, weighted) standard deviation of each column, 1 for a
        constant column.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X` has feature
        names that are all strings.

    See Also
    --------
    sklearn.linear_model.Ridge : The model when there is a single block.
    make_multigranularity_pipeline : Features and this model in one pipeline.

    Notes
    -----
    The fit is an exact ridge regression on the augmented design
    ``[s * sum_g Z_g, (1 - s) Z_1, ..., (1 - s) Z_G, Z_free]`` of the standardised
    blocks ``Z_g``, solved from their Gram matrix, which one pass over the data
    computes. Standardisation follows ``StandardScaler`` (population standard
    deviation, weighted with ``sample_weight``). NaN in ``X`` are allowed: means and
    scales are computed over the observed entries, and NaN are then imputed with the
    training mean, i.e. they are 0 once standardised.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran import MultiGranularityRegressor
    >>> from sklearn_multigran.datasets import make_multigranularity_regression
    >>> X, y, truth = make_multigranularity_regression(
    ...     200, n_blocks=3, n_features_per_block=2, sharing=0.8, noise=0.5,
    ...     as_frame=True, random_state=2,
    ... )
    >>> X.columns[:3].tolist()
    ['x0__g0__mean__lag0', 'x1__g0__mean__lag0', 'x0__g1__mean__lag0']
    >>> reg = MultiGranularityRegressor(sharing="auto", alpha="auto").fit(X, y)
    >>> reg.block_names_, reg.sharing_
    (['g0', 'g1', 'g2'], 0.9)
    >>> reg.coef_.round(2)
    array([ 0.26, -1.08,  0.35, -1.43,  0.27, -1.17])
    >>> truth.coef.round(2)
    array([ 0.28, -1.08,  0.32, -1.4 ,  0.27, -1.13])
    >>> bool(np.allclose(reg.predict(X), X.to_numpy() @ reg.coef_ + reg.intercept_))
    True
    >>> reg.predict_contributions(X[:2]).round(2)  # g0, g1, g2, free
    array([[-1.38,  1.22, -0.68,  0.  ],
           [-1.32, -3.32, -0.58,  0.  ]])

    Several targets whose coefficient vectors share one profile:

    >>> Y = np.column_stack([y, 2 * y, -y])
    >>> low = MultiGranularityRegressor(target_rank=1).fit(X, Y)
    >>> low.target_components_.shape
    (1, 3)
    >>> int(np.linalg.matrix_rank(low.coef_))
    1
    """

    _parameter_constraints: dict = {
        "submodel": [StrOptions({"linear", "mlp"})],
        "sharing": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "blocks": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            "array-like",
        ],
        "fit_intercept": ["boolean"],
        "criterion": [StrOptions({"evidence", "gcv"})],
        "target_rank": [Interval(Integral, 1, None, closed="left"), None],
        **NETWORK_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        submodel="linear",
        *,
        sharing=0.5,
        alpha=1.0,
        blocks="auto",
        fit_intercept=True,
        criterion="evidence",
        target_rank=None,
        hidden_layer_sizes=(32,),
        activation="relu",
        solver="lbfgs",
        max_iter=200,
        tol=1e-4,
        learning_rate_init=1e-3,
        batch_size="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
    ):
        self.submodel = submodel
        self.sharing = sharing
        self.alpha = alpha
        self.blocks = blocks
        self.fit_intercept = fit_intercept
        self.criterion = criterion
        self.target_rank = target_rank
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Fit the submodels.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training data; may hold NaN. Pass a DataFrame with
            ``GranularityTransformer``'s column names for ``blocks="auto"``.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative frequency weights: an integer weight counts as that many
            repeated rows, also in the criterion of ``"auto"``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._validate_params()
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            multi_output=True,
            y_numeric=True,
        )
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        layout = resolve_blocks(
            self.blocks, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y

        # Each submodel family sets the coefficient attributes for 2-D targets; the
        # shapes of a 1-D target are restored below, once for all families.
        fit_submodel = {"linear": self._fit_linear, "mlp": self._fit_mlp}[self.submodel]
        fit_submodel(X, Y, sample_weight, layout)

        self.n_blocks_ = layout.n_blocks
        self.block_names_ = list(layout.block_names)
        self.block_columns_ = list(layout.block_columns)
        self.free_columns_ = layout.free_columns
        if y.ndim == 1:
            self.intercept_ = float(self.intercept_[0])
            self.free_coef_ = self.free_coef_[0]
            if self.submodel == "linear":
                self.coef_ = self.coef_[0]
                self.shared_coef_ = self.shared_coef_[0]
                self.own_coef_ = self.own_coef_[0]
        return self

    def _fit_linear(self, X, Y, sample_weight, layout):
        stats = gram_statistics(X, Y, sample_weight, self.fit_intercept)
        order = np.concatenate([*layout.block_columns, layout.free_columns])
        gram = stats.gram[np.ix_(order, order)]
        cross = stats.cross[order]
        n_blocks, n_per_block = layout.n_blocks, layout.n_per_block

        sharing, alpha = self.sharing, self.alpha
        if sharing == "auto" or alpha == "auto":
            if sharing != "auto":
                sharings = np.array([float(sharing)])
            elif n_blocks:
                sharings = SHARING_GRID
            else:
                # Without blocks every sharing value gives the same model.
                sharings = np.array([0.0])
            if alpha == "auto":
                alphas = ALPHA_GRID * stats.sum_weights
            else:
                alphas = np.array([float(alpha)])
            # Both criteria from the same Gram matrix: the chosen one decides,
            # the other is kept for comparison. Independent targets with a common
            # prior and their own noise variance: the joint log likelihood is the
            # sum over targets; GCV is averaged over them.
            gcv, evidence = candidate_scores(
                gram,
                cross,
                stats.y_sq,
                stats.sum_weights,
                self.fit_intercept,
                sharings,
                alphas,
                n_blocks,
                n_per_block,
            )
            all_scores = {"evidence": evidence.sum(axis=2), "gcv": gcv.mean(axis=2)}
            scores = all_scores[self.criterion]
            best = scores if self.criterion == "evidence" else -scores
            if not np.isfinite(scores).any():
                needs = {
                    "evidence": "more than one observation with an intercept "
                    "(the intercept takes one)",
                    "gcv": "more observations than degrees of freedom, but every "
                    "candidate has at least as many",
                }[self.criterion]
                raise ValueError(
                    f"criterion={self.criterion!r} needs {needs} "
                    f"(n_samples={X.shape[0]}, sum of sample_weight="
                    f"{stats.sum_weights:g}). Pass fixed values of sharing and alpha, "
                    "or more samples; sample_weight counts as repeated rows."
                )
            # argmax returns the first best in grid order, as documented.
            i, j = np.unravel_index(np.argmax(best), best.shape)
            sharing, alpha = sharings[i], alphas[j]
            self.log_evidence_ = all_scores["evidence"]
            self.gcv_scores_ = all_scores["gcv"]
            self.sharing_candidates_ = sharings
            self.alpha_candidates_ = alphas
        self.sharing_ = float(sharing) if n_blocks else 0.0
        self.alpha_ = float(alpha)

        gamma = solve_blend(
            gram, cross, self.sharing_, self.alpha_, n_blocks, n_per_block
        )
        if self.target_rank is not None:
            gamma, self.target_components_ = reduce_target_rank(
                gamma, cross, self.sharing_, n_blocks, n_per_block, self.target_rank
            )
        shared, own, free, effective = split_coefficients(
            gamma, self.sharing_, n_blocks, n_per_block
        )
        coef = np.empty_like(effective)
        coef[:, order] = effective
        coef /= stats.scale
        self.coef_ = coef
        if self.fit_intercept:
            self.intercept_ = stats.y_mean - coef @ stats.mean
        else:
            self.intercept_ = np.zeros(Y.shape[1])
        self.shared_coef_ = shared
        self.own_coef_ = own
        self.free_coef_ = free
        self.mean_ = stats.mean
        self.scale_ = stats.scale
        # The closed form is one pass over the data; estimators with a max_iter
        # parameter report their iterations.
        self.n_iter_ = 1

    def _fit_mlp(self, X, Y, sample_weight, layout):
        if self.target_rank is not None:
            raise ValueError(
                f"target_rank={self.target_rank!r} needs submodel='linear', whose "
                "closed form the rank constraint projects; got submodel='mlp'. Pass "
                "target_rank=None, or use the linear submodel."
            )
        params = network_params(self, linear=False)
        self.sharing_ = float(self.sharing) if layout.n_blocks else 0.0
        self.alpha_ = float(self.alpha)
        self.mean_, self.scale_ = standardization(X, sample_weight)
        Xb, Xf = self._network_inputs(X, layout.block_columns, layout.free_columns)
        fit = fit_network(
            Xb,
            Xf,
            Y,
            sample_weight,
            loss="squared_error",
            sharing=self.sharing_,
            alpha=self.alpha_,
            **params,
        )
        for name, value in network_attributes(fit).items():
            setattr(self, name, value)
        self.intercept_ = self.intercepts_[-1]

    def _network_inputs(self, X, block_columns, free_columns):
        center = self.mean_ if self.fit_intercept else np.zeros_like(self.mean_)
        return network_inputs(
            X,
            block_columns,
            free_columns,
            self.mean_,
            center,
            self.scale_,
            one_block=True,
        )

    def _network_terms(self, X):
        """``(G, n, k)`` block outputs and ``(n, k)`` free-column output of the MLP."""
        Xb, Xf = self._network_inputs(X, self.block_columns_, self.free_columns_)
        free_coef = np.atleast_2d(self.free_coef_)
        block_raw, free_raw, _ = network_terms(
            self.coefs_, self.intercepts_, free_coef, self.activation, Xb, Xf
        )
        return block_raw, free_raw

    def _validated_imputed(self, X):
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            reset=False,
        )
        missing = np.isnan(X)
        if missing.any():
            X = np.where(missing, self.mean_, X)
        return X

    def predict(self, X):
        """Predict with the fitted submodels.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Samples; NaN are imputed with the training means.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        X = self._validated_imputed(X)
        if self.submodel == "mlp":
            block_raw, free_raw = self._network_terms(X)
            y_pred = block_raw.sum(axis=0) + free_raw + self.intercept_
            return y_pred[:, 0] if self.free_coef_.ndim == 1 else y_pred
        return X @ self.coef_.T + self.intercept_

    def predict_contributions(self, X):
        """Split each prediction into one term per granularity and one for the rest.

        The term of block ``g`` is ``X_g @ coef_g`` in the input's units (the MLP's
        ``f_g(X_g)``), the last term is that of the free columns (the MLP's
        ``X_free B``; without blocks, its whole network), and
        ``predict_contributions(X).sum(axis=-1) + intercept_ == predict(X)``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Samples; NaN are imputed with the training means.

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_blocks_ + 1) or \
                (n_samples, n_targets, n_blocks_ + 1)
            Columns in the order of ``block_names_``, then the free columns.
        """
        X = self._validated_imputed(X)
        if self.submodel == "mlp":
            block_raw, free_raw = self._network_terms(X)
            if not self.n_blocks_:  # the one network over all columns is "the rest"
                block_raw, free_raw = block_raw[:0], free_raw + block_raw[0]
            out = np.concatenate([block_raw, free_raw[None]]).transpose(1, 2, 0)
            return out[:, 0, :] if self.free_coef_.ndim == 1 else out
        coef = np.atleast_2d(self.coef_)
        groups = [*self.block_columns_, self.free_columns_]
        out = np.empty((X.shape[0], coef.shape[0], len(groups)))
        for g, columns in enumerate(groups):
            out[:, :, g] = X[:, columns] @ coef[:, columns].T
        return out[:, 0, :] if self.coef_.ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
