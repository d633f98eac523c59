"""MultiGranularityMLPRegressor: an MLP per granularity, with blended weights."""

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin

from sklearn_multigran._base import (
    BASE_PARAMETER_CONSTRAINTS,
    _BlendedNetworkMixin,
    _check_sample_weight,
    _MultiGranularityBase,
    _refuse_auto,
)
from sklearn_multigran._mlp import (
    NETWORK_PARAMETER_CONSTRAINTS,
    fit_network,
    network_attributes,
    network_params,
    standardization,
)
from sklearn_multigran.utils._compat import _fit_context, validate_data


class MultiGranularityMLPRegressor(
    MultiOutputMixin, RegressorMixin, _BlendedNetworkMixin, _MultiGranularityBase
):
    r"""Regression with one MLP per granularity whose weights blend a shared set.

    The input columns come in ``G`` blocks, one per granularity, plus free columns,
    as for :class:`MultiGranularityRegressor`. Every block gets an MLP ``f_g`` with
    the same architecture, and every weight and hidden bias of it blends a shared
    set with the block's own, ``theta_g = s * theta_shared + (1 - s) *
    theta_g_own``; the prediction is

    .. math::

        \hat y = \sum_g f_g(X_g) + X_{free} B + b.

    Everything is trained jointly, by L-BFGS or Adam, on the weighted mean squared
    error (halved) plus ``alpha / (2 sum(w)) * (|W_shared|^2 + sum_g |W_g_own|^2 +
    |B|^2)`` on internally standardised features: the objective of
    :class:`~sklearn.neural_network.MLPRegressor`, which this model is, draw for
    draw, when there are fewer than two blocks.

    Read more in the :doc:`user guide </mlp>`.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(32,)
        Hidden layers of each block's MLP.

    sharing : float in [0, 1], default=0.5
        Weight ``s`` of the shared parameters: 0 fits independent networks whose
        outputs add up, 1 one network applied to every granularity. ``"auto"`` is
        refused: there is no closed form to choose it by, so tune it with
        :class:`~sklearn.model_selection.GridSearchCV`.

    alpha : float > 0, default=1.0
        L2 penalty strength on the weights (not the biases), as in
        :class:`~sklearn.neural_network.MLPRegressor`; ``"auto"`` is refused, as
        for ``sharing``.

    blocks : "auto", int or list of lists of int, default="auto"
        Which columns form the granularity blocks, as for
        :class:`MultiGranularityRegressor`. With fewer than two blocks the model
        is a plain MLP over all the columns and ``sharing`` has no effect.

    fit_intercept : bool, default=True
        Whether to fit the output bias ``b``. If False, the features are scaled but
        not centred.

    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.

    solver : {"lbfgs", "adam"}, default="lbfgs"
        ``"lbfgs"`` (scipy's L-BFGS-B on the full data) for small data, ``"adam"``
        (minibatches) for large.

    max_iter : int, default=200
        L-BFGS iterations or Adam epochs; a ``ConvergenceWarning`` when reached.

    tol : float, default=1e-4
        L-BFGS's gradient tolerance; Adam's minimal improvement of the loss (or of
        the validation R^2) over ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=1e-3
        Adam's step size. Only used when ``solver="adam"``.

    batch_size : int or "auto", default="auto"
        Adam's minibatch size, ``min(200, n_samples)`` for ``"auto"``; clipped to
        ``n_samples``. Only used when ``solver="adam"`` (L-BFGS takes the full
        batch, as in :class:`~sklearn.neural_network.MLPRegressor`).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its R^2 stops
        improving, keeping the best parameters. Only used when ``solver="adam"``.

    validation_fraction : float in (0, 1), default=0.1
        Share held out for early stopping. Only used when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Adam epochs without improvement before stopping. Only used when
        ``solver="adam"``.

    random_state : int, RandomState instance or None, default=None
        Initial weights, early-stopping split and minibatch order; the same value
        gives bit-identical fits.

    verbose : int or bool, default=0
        Print the loss after every iteration (epoch).

    Attributes
    ----------
    shared_coefs_, own_coefs_, coefs_ : list of ndarray
        Per layer, the shared weights ``(fan_in, fan_out)``, the own and the blended
        weights of every block ``(n_nets, fan_in, fan_out)``, where ``n_nets`` is
        ``n_blocks_``, or 1 (all columns) without blocks.

    shared_intercepts_, own_intercepts_, intercepts_ : list of ndarray
        Shared, own and blended biases of the hidden layers; the last entry of
        ``intercepts_`` is the output bias ``b``.

    free_coef_ : ndarray of shape (n_free,) or (n_targets, n_free)
        ``B``, on the standardised scale.

    intercept_ : float or ndarray of shape (n_targets,)
        The output bias ``b``.

    n_iter_ : int
        Iterations (epochs) of the solver.

    loss_curve_, loss_, best_loss_ : list, float, float
        The objective after each iteration (epoch), the final and the lowest one.

    validation_scores_, best_validation_score_ : list and float, or None
        Validation R^2 per epoch with early stopping.

    sharing_, alpha_ : float
        The sharing (0.0 without blocks) and penalty used.

    n_blocks_, block_names_, block_columns_, free_columns_
        The resolved blocks, as for :class:`MultiGranularityRegressor`.

    mean_, scale_ : ndarray of shape (n_features,)
        Training mean and standard deviation of each column (weighted, over
        observed entries); NaN are imputed with the mean.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`, if they are all strings.

    See Also
    --------
    MultiGranularityRegressor : Linear submodels, in closed form, with ``"auto"``.
    sklearn.neural_network.MLPRegressor : The model with one block.

    Examples
    --------
    >>> from sklearn_multigran import MultiGranularityMLPRegressor
    >>> from sklearn_multigran.datasets import make_multigranularity_regression
    >>> X, y, _ = make_multigranularity_regression(
    ...     200, n_blocks=3, n_features_per_block=2, noise=0.5, random_state=2
    ... )
    >>> reg = MultiGranularityMLPRegressor(
    ...     (4,), blocks=3, max_iter=500, random_state=0
    ... ).fit(X, y)
    >>> [W.shape for W in reg.coefs_]
    [(3, 2, 4), (3, 4, 1)]
    >>> reg.predict_contributions(X[:2]).shape  # g0, g1, g2, free
    (2, 4)
    """

    _parameter_constraints: dict = {
        **BASE_PARAMETER_CONSTRAINTS,
        **NETWORK_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        hidden_layer_sizes=(32,),
        *,
        sharing=0.5,
        alpha=1.0,
        blocks="auto",
        fit_intercept=True,
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.sharing = sharing
        self.alpha = alpha
        self.blocks = blocks
        self.fit_intercept = fit_intercept
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the networks.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training data; may hold NaN. Pass a DataFrame with
            ``GranularityTransformer``'s column names for ``blocks="auto"``.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.

        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative frequency weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        _refuse_auto(self)
        params = network_params(self)
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
        if y.ndim == 1:
            self.intercept_ = float(self.intercept_[0])
            self.free_coef_ = self.free_coef_[0]
        return self

    def predict(self, X):
        """Predict with the fitted networks.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Samples; NaN are imputed with the training means.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        block_raw, free_raw = self._network_terms(X)
        y_pred = block_raw.sum(axis=0) + free_raw + self.intercept_
        return y_pred[:, 0] if self.free_coef_.ndim == 1 else y_pred

    def predict_contributions(self, X):
        """Split each prediction into one term per granularity and one for the rest.

        The term of block ``g`` is ``f_g(X_g)``, the last term that of the free
        columns, ``X_free B`` (without blocks: the whole network), and
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
        block_raw, free_raw = self._network_terms(X)
        if not self.n_blocks_:  # the one network over all columns is "the rest"
            block_raw, free_raw = block_raw[:0], free_raw + block_raw[0]
        out = np.concatenate([block_raw, free_raw[None]]).transpose(1, 2, 0)
        return out[:, 0, :] if self.free_coef_.ndim == 1 else out
