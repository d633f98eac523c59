"""MultiGranularityMLPClassifier: an MLP per granularity, with blended weights."""

from sklearn_multigran._base import (
    BASE_PARAMETER_CONSTRAINTS,
    _BlendedNetworkMixin,
)
from sklearn_multigran._classifier import _BaseMultiGranularityClassifier
from sklearn_multigran._mlp import (
    NETWORK_PARAMETER_CONSTRAINTS,
    network_params,
    network_terms,
)
from sklearn_multigran.utils._compat import StrOptions


class MultiGranularityMLPClassifier(
    _BlendedNetworkMixin, _BaseMultiGranularityClassifier
):
    r"""Classification with one MLP per granularity whose weights blend a shared set.

    The input columns come in ``G`` blocks, one per granularity, plus free columns,
    as for :class:`MultiGranularityRegressor`. Block ``g``'s MLP ``f_g`` has
    parameters ``theta_g = s * theta_shared + (1 - s) * theta_g_own`` (every weight
    and hidden bias) and the logits are

    .. math::

        z = \sum_g f_g(X_g) + X_{free} B + b,

    one logit for two classes (``P(classes_[1]) = sigmoid(z)``), one per class
    otherwise (softmax). Everything is fit jointly, by L-BFGS or Adam, minimising the
    weighted mean cross-entropy plus
    ``alpha / (2 sum(w)) * (|W_shared|^2 + sum_g |W_g_own|^2 + |B|^2)`` on internally
    standardised features: with fewer than two blocks, the objective, draws and
    L-BFGS run of :class:`~sklearn.neural_network.MLPClassifier`.

    Read more in the :doc:`user guide </mlp>`.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(32,)
        Hidden layers of each block's MLP.

    sharing : float in [0, 1], default=0.5
        Weight ``s`` of the shared parameters: 0 fits independent networks whose
        logits add up, 1 one network applied to every granularity. ``"auto"`` is
        refused: tune it with :class:`~sklearn.model_selection.GridSearchCV`.

    alpha : float > 0, default=1.0
        L2 penalty strength on the weights (not the biases), as in
        :class:`~sklearn.neural_network.MLPClassifier`; ``"auto"`` is refused.

    blocks : "auto", int or list of lists of int, default="auto"
        Which columns form the granularity blocks, as for
        :class:`MultiGranularityRegressor`. With fewer than two blocks the model is
        a plain MLP over all the columns; ``sharing`` has no effect.

    fit_intercept : bool, default=True
        Whether to fit the output bias ``b``. If False, the features are scaled but
        not centred.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying the sample weights in the loss, as in
        :class:`~sklearn.linear_model.LogisticRegression`.

    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.

    solver : {"lbfgs", "adam"}, default="lbfgs"
        ``"lbfgs"`` (scipy's L-BFGS-B on the full data) suits small data;
        ``"adam"`` takes minibatches of ``batch_size`` rows.

    max_iter : int, default=200
        L-BFGS iterations, or Adam epochs. A :class:`~sklearn.exceptions.
        ConvergenceWarning` is issued when it is reached.

    tol : float, default=1e-4
        L-BFGS stops when the gradient's largest entry is below ``tol``; Adam when
        the loss (or the validation accuracy) improves by less than ``tol`` for
        ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=1e-3
        Adam's step size. Only used when ``solver="adam"``.

    batch_size : int or "auto", default="auto"
        Adam's minibatch size; ``"auto"`` is ``min(200, n_samples)``. Larger than
        ``n_samples``, it is clipped to it (a full-batch Adam). Only used when
        ``solver="adam"`` (L-BFGS takes the full batch, as in
        :class:`~sklearn.neural_network.MLPClassifier`).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified) and stop
        when its accuracy stops improving; the best parameters are kept. Only used
        when ``solver="adam"``.

    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping. Only used when
        ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Adam epochs without an improvement of ``tol`` before stopping. Only used
        when ``solver="adam"``.

    random_state : int, RandomState instance or None, default=None
        Initial weights, the early-stopping split and the minibatch order. The same
        value gives bit-identical fits.

    verbose : int or bool, default=0
        Print one line per iteration (epoch) with the loss.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    shared_coefs_, own_coefs_, coefs_ : list of ndarray
        Per layer, the shared weights ``(fan_in, fan_out)``, the own and the blended
        (effective) weights of every block ``(n_nets, fan_in, fan_out)``. ``n_nets``
        is the number of blocks, or 1 (all columns) when there are fewer than two.

    shared_intercepts_, own_intercepts_ : list of ndarray
        Shared and own biases of the hidden layers.

    intercepts_ : list of ndarray
        Blended biases of the hidden layers ``(n_nets, fan_out)``, then the output
        bias ``b``.

    free_coef_ : ndarray of shape (n_logits, n_free)
        ``B``, on the standardised scale.

    loss_curve_ : list of float
        The objective after each L-BFGS iteration or Adam epoch.

    n_iter_ : int
        Iterations (epochs) run.

    loss_, best_loss_ : float
        Final and lowest objective.

    validation_scores_ : list of float or None
        Validation accuracy after each epoch with early stopping.

    best_validation_score_ : float or None
        The best of them.

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
    MultiGranularityClassifier : Linear submodels (blended logistic regression).
    MultiGranularityMLPRegressor : The same model family for regression.
    sklearn.neural_network.MLPClassifier : The model with one block.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran import MultiGranularityMLPClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))  # 3 blocks of 2 aligned features
    >>> y = np.where(X[:, 0] + X[:, 2] + X[:, 4] > 0, "up", "down")
    >>> mlp = MultiGranularityMLPClassifier(
    ...     (4,), blocks=3, max_iter=500, random_state=0
    ... ).fit(X, y)
    >>> [W.shape for W in mlp.coefs_], round(mlp.score(X, y), 2)
    ([(3, 2, 4), (3, 4, 1)], 0.99)
    """

    _parameter_constraints: dict = {
        **BASE_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
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
        class_weight=None,
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
        self.class_weight = class_weight
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

    def _network_params(self):
        return network_params(self)

    def _set_fitted(self, attributes, layout):
        for name, value in attributes.items():
            setattr(self, name, value)

    def _raw(self, X):
        Xb, Xf = self._network_inputs(X, self.block_columns_, self.free_columns_)
        block_raw, free_raw, intercept = network_terms(
            self.coefs_, self.intercepts_, self.free_coef_, self.activation, Xb, Xf
        )
        return block_raw.sum(axis=0) + free_raw + intercept
