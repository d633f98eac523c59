"""MultiGranularityRegressor: one submodel per granularity, sharing coefficients."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin

from sklearn_multigran._base import (
    BASE_PARAMETER_CONSTRAINTS,
    _check_sample_weight,
    _linear_predict,
    _MultiGranularityBase,
)
from sklearn_multigran._blend import split_coefficients
from sklearn_multigran._linear import (
    ALPHA_GRID,
    SHARING_GRID,
    candidate_scores,
    dual_candidate_scores,
    dual_statistics,
    gram_statistics,
    reduce_target_rank,
    solve_blend,
    solve_blend_dual,
)
from sklearn_multigran.utils._compat import (
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
)

# Scores within this relative distance of the best are ties: the criteria are
# differences of sums (see _linear), exact to about this much, and where they are flat
# the data do not prefer the weaker penalty, so it should not win by rounding.
_TIE_RTOL = 1e-10


def _use_dual(n_samples, n_features):
    """Whether to solve in the n-dimensional dual: with fewer rows than columns.

    Then the kernel ``n x n`` is smaller than the Gram matrix ``P x P``, and building
    it costs ``n^2 P`` instead of ``n P^2``; both give the same fit to rounding.
    """
    return n_samples < n_features


def _choose(best):
    """``(i, j)`` of the highest score; ties to the largest ``j``, then ``i``.

    Along the grids that is the strongest penalty, then the most sharing: the
    simplest of the models the criterion cannot tell apart.
    """
    top = np.max(best)
    tied = best >= top - _TIE_RTOL * max(abs(top), 1.0)
    # the last tied entry in (alpha, sharing) order
    j = np.flatnonzero(tied.any(axis=0))[-1]
    i = np.flatnonzero(tied[:, j])[-1]
    return i, j


def _warn_grid_edge(j, alphas, sum_weights, criterion, n_samples, n_features):
    side, beyond = ("smallest", "weaker") if j == 0 else ("largest", "stronger")
    if j:
        consequence = "The features may carry little signal; "
    elif n_samples <= n_features:
        consequence = "With no more rows than columns the fit may interpolate them; "
    else:
        consequence = "The fit is almost unpenalised; "
    warnings.warn(
        f"alpha='auto' chose alpha_={alphas[j]:.3g}, the {side} candidate "
        f"(alpha / sum(sample_weight) = {alphas[j] / sum_weights:.3g}): "
        f"criterion={criterion!r} is best on the edge of its grid, so a {beyond} "
        "penalty might score better still, or the criterion is flat there. "
        + consequence
        + "check alpha_ against validation data, or pass a fixed alpha.",
        UserWarning,
        stacklevel=3,
    )


class MultiGranularityRegressor(
    MultiOutputMixin, RegressorMixin, _MultiGranularityBase
):
    r"""Linear regression with one submodel per granularity and shared coefficients.

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
        With several targets (a forecast's horizons, say), constrain
        the coefficient matrix to this rank: every prediction is then the targets'
        mean plus a combination of ``target_rank`` fixed target profiles
        (``target_components_``), the reduced-rank ridge regression of Mukherjee
        and Zhu (2011). The fit is the exact minimiser of the same penalised
        squared error under that constraint, computed from the full-rank one at the
        cost of one eigendecomposition of size ``n_targets``. ``"auto"`` values of
        ``sharing`` and ``alpha`` are chosen at full rank first. ``None``, or a
        rank of at least ``n_targets``, leaves the fit unconstrained. See
        :ref:`the user guide <multigranularity_regressor_target_rank>`.

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
        ``criterion="evidence"`` the highest wins; on ties (equal to rounding),
        the strongest penalty, then the most sharing.
        ``nan`` where it does not exist. Only set when ``sharing`` or ``alpha`` is
        ``"auto"``.

    gcv_scores_ : ndarray of shape (n_sharing_candidates, n_alpha_candidates)
        GCV score (mean over targets) of every candidate pair; with
        ``criterion="gcv"`` the lowest wins, ties broken as for the evidence.
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

    n_iter_ : int
        1: the closed form is one pass over the data.

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
    MultiGranularityMLPRegressor : An MLP per granularity, blended the same way.
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
        **BASE_PARAMETER_CONSTRAINTS,
        "criterion": [StrOptions({"evidence", "gcv"})],
        "target_rank": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        sharing=0.5,
        *,
        alpha=1.0,
        blocks="auto",
        fit_intercept=True,
        criterion="evidence",
        target_rank=None,
    ):
        self.sharing = sharing
        self.alpha = alpha
        self.blocks = blocks
        self.fit_intercept = fit_intercept
        self.criterion = criterion
        self.target_rank = target_rank

    @_fit_context(prefer_skip_nested_validation=True)
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
        layout = self._resolve_layout()
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        self._fit_closed_form(X, Y, sample_weight, layout)
        if y.ndim == 1:
            self.intercept_ = float(self.intercept_[0])
            self.free_coef_ = self.free_coef_[0]
            self.coef_ = self.coef_[0]
            self.shared_coef_ = self.shared_coef_[0]
            self.own_coef_ = self.own_coef_[0]
        return self

    def _fit_closed_form(self, X, Y, sample_weight, layout):
        order = np.concatenate([*layout.block_columns, layout.free_columns])
        n_blocks, n_per_block = layout.n_blocks, layout.n_per_block
        if _use_dual(*X.shape):
            stats = dual_statistics(
                X, Y, sample_weight, self.fit_intercept, order, n_blocks, n_per_block
            )
            cross = stats.cross

            def score(sharings, alphas):
                return dual_candidate_scores(
                    stats, self.fit_intercept, sharings, alphas
                )

            def solve(sharing, alpha):
                return solve_blend_dual(stats, sharing, alpha, n_blocks, n_per_block)

        else:
            stats = gram_statistics(X, Y, sample_weight, self.fit_intercept)
            gram = stats.gram[np.ix_(order, order)]
            cross = stats.cross[order]

            def score(sharings, alphas):
                return candidate_scores(
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

            def solve(sharing, alpha):
                return solve_blend(gram, cross, sharing, alpha, n_blocks, n_per_block)

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
            # Both criteria from the same spectra: the chosen one decides,
            # the other is kept for comparison. Independent targets with a common
            # prior and their own noise variance: the joint log likelihood is the
            # sum over targets; GCV is averaged over them.
            gcv, evidence = score(sharings, alphas)
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
            i, j = _choose(best)
            sharing, alpha = sharings[i], alphas[j]
            if self.alpha == "auto" and len(alphas) > 1 and j in (0, len(alphas) - 1):
                _warn_grid_edge(j, alphas, stats.sum_weights, self.criterion, *X.shape)
            self.log_evidence_ = all_scores["evidence"]
            self.gcv_scores_ = all_scores["gcv"]
            self.sharing_candidates_ = sharings
            self.alpha_candidates_ = alphas
        self.sharing_ = float(sharing) if n_blocks else 0.0
        self.alpha_ = float(alpha)

        gamma = solve(self.sharing_, self.alpha_)
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
            # elementwise, not a BLAS gemv: a vector product of P values is a few
            # microseconds, but BLAS wakes its threads for it, which costs
            # milliseconds on a busy machine (more than a whole dual fit).
            self.intercept_ = stats.y_mean - (coef * stats.mean).sum(axis=1)
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
        X = self._validate_predict_data(X)
        return _linear_predict(X, self.coef_, self.intercept_, self.mean_)

    def predict_contributions(self, X):
        """Split each prediction into one term per granularity and one for the rest.

        The term of block ``g`` is ``X_g @ coef_g`` in the input's units, the last
        term is that of the free columns, and
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
        out = self._linear_contributions(X)
        return out[:, 0, :] if self.coef_.ndim == 1 else out
