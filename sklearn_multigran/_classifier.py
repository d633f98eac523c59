"""MultiGranularityClassifier: the regressor's model family with cross-entropy."""

from numbers import Integral, Real

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from sklearn_multigran._blocks import resolve_blocks
from sklearn_multigran._mlp import (
    NETWORK_PARAMETER_CONSTRAINTS,
    _logsumexp,
    fit_network,
    network_attributes,
    network_inputs,
    network_params,
    network_terms,
    output_activation,
    standardization,
)
from sklearn_multigran._regressor import _check_sample_weight
from sklearn_multigran.utils._compat import Interval, StrOptions, validate_data


class MultiGranularityClassifier(ClassifierMixin, BaseEstimator):
    r"""Classification with one submodel per granularity and shared parameters.

    The input columns come in ``G`` blocks, one per granularity, holding the same
    features at their own granularity, plus free columns, as for
    :class:`MultiGranularityRegressor`. Block ``g``'s submodel ``f_g`` has
    parameters ``theta_g = s * theta_shared + (1 - s) * theta_g_own`` and the logits
    are

    .. math::

        z = \sum_g f_g(X_g) + X_{free} B + b,

    one logit for two classes (``P(classes_[1]) = sigmoid(z)``), one per class
    otherwise (softmax). ``f_g`` is linear (``submodel="linear"``: multinomial
    logistic regression with blended coefficients) or an MLP whose every weight and
    bias is blended (``submodel="mlp"``). Everything is fit jointly, by minimising
    the weighted mean cross-entropy plus
    ``alpha / (2 sum(w)) * (|W_shared|^2 + sum_g |W_g_own|^2 + |B|^2)`` on internally
    standardised features.

    Read more in the :doc:`user guide </mlp>`.

    Parameters
    ----------
    submodel : {"linear", "mlp"}, default="linear"
        The model family of each granularity's submodel.

    sharing : float in [0, 1], default=0.5
        Weight ``s`` of the shared parameters: 0 fits independent submodels whose
        logits add up, 1 one submodel applied to every granularity. ``"auto"`` is
        refused: there is no closed form to cross-validate cheaply, so tune it with
        :class:`~sklearn.model_selection.GridSearchCV`.

    alpha : float > 0, default=1.0
        L2 penalty strength on the weights (not the biases). The linear submodel
        with ``alpha = 1 / C`` has the objective of
        :class:`~sklearn.linear_model.LogisticRegression` with ``C``; the MLP
        submodel's ``alpha`` is :class:`~sklearn.neural_network.MLPClassifier`'s.

    blocks : "auto", int or list of lists of int, default="auto"
        Which columns form the granularity blocks, as for
        :class:`MultiGranularityRegressor`. With fewer than two blocks the linear
        submodel is plain logistic regression on the standardised columns and the
        MLP a plain MLP over all of them; ``sharing`` has no effect.

    fit_intercept : bool, default=True
        Whether to fit the output bias ``b``. If False, the features are scaled but
        not centred.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying the sample weights in the loss, as in
        :class:`~sklearn.linear_model.LogisticRegression`.

    hidden_layer_sizes : array-like of int, default=(32,)
        Hidden layers of each block's MLP. MLP only.

    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers. MLP only.

    solver : {"lbfgs", "adam"}, default="lbfgs"
        ``"lbfgs"`` (scipy's L-BFGS-B on the full data) suits small data and the
        linear submodel; ``"adam"`` takes minibatches of ``batch_size`` rows.

    max_iter : int, default=200
        L-BFGS iterations, or Adam epochs. A :class:`~sklearn.exceptions.
        ConvergenceWarning` is issued when it is reached.

    tol : float, default=1e-4
        L-BFGS stops when the gradient's largest entry is below ``tol``; Adam when
        the loss (or the validation accuracy) improves by less than ``tol`` for
        ``n_iter_no_change`` epochs.

    learning_rate_init : float, default=1e-3
        Adam's step size.

    batch_size : int or "auto", default="auto"
        Adam's minibatch size; ``"auto"`` is ``min(200, n_samples)``. Larger than
        ``n_samples``, it is clipped to it (a full-batch Adam).

    early_stopping : bool, default=False
        Adam only: hold out ``validation_fraction`` of the training data
        (stratified) and stop when its accuracy stops improving; the best
        parameters are kept.

    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping.

    n_iter_no_change : int, default=10
        Adam epochs without an improvement of ``tol`` before stopping.

    random_state : int, RandomState instance or None, default=None
        Initial weights, the early-stopping split and the minibatch order. The same
        value gives bit-identical fits.

    verbose : int or bool, default=0
        Print one line per iteration (epoch) with the loss.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Linear only: coefficients in the input's units, so that
        ``X @ coef_.T + intercept_`` is ``decision_function(X)`` for ``X``
        without NaN.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Linear only: the intercept in the input's units.

    shared_coef_, own_coef_, free_coef_ : ndarray
        Linear only: ``S`` of shape ``(n_logits, n_per_block)``, ``V_g`` of shape
        ``(n_logits, n_blocks, n_per_block)`` and ``B`` of shape
        ``(n_logits, n_free)``, on the standardised scale.

    shared_coefs_, own_coefs_, coefs_ : list of ndarray
        MLP only: per layer, the shared weights ``(fan_in, fan_out)``, the own and
        the blended (effective) weights of every block ``(n_nets, fan_in,
        fan_out)``. ``n_nets`` is the number of blocks, or 1 (all columns) when
        there are fewer than two.

    shared_intercepts_, own_intercepts_ : list of ndarray
        MLP only: shared and own biases of the hidden layers.

    intercepts_ : list of ndarray
        MLP only: blended biases of the hidden layers ``(n_nets, fan_out)``, then
        the output bias ``b``.

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
    MultiGranularityRegressor : The same model family for regression.
    sklearn.linear_model.LogisticRegression : The linear model with one block.
    sklearn.neural_network.MLPClassifier : The MLP with one block.

    Notes
    -----
    The linear submodel is the network without hidden layer; both are fit by the
    same solvers. Cross-entropies are computed from the logits, not from clipped
    probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_multigran import MultiGranularityClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 6))  # 3 blocks of 2 aligned features
    >>> y = np.where(X[:, 0] + X[:, 2] + X[:, 4] > 0, "up", "down")
    >>> clf = MultiGranularityClassifier(blocks=3).fit(X, y)
    >>> clf.classes_
    array(['down', 'up'], dtype='<U4')
    >>> clf.shared_coef_.round(2)  # S: what the three granularities share
    array([[4.03, 0.13]])
    >>> clf.predict(X[:3]), round(clf.score(X, y), 2)
    (array(['up', 'down', 'down'], dtype='<U4'), 0.99)
    >>> clf.predict_proba(X[:2]).round(3)
    array([[0.379, 0.621],
           [0.586, 0.414]])
    >>> mlp = MultiGranularityClassifier(
    ...     "mlp", blocks=3, hidden_layer_sizes=(4,), max_iter=500, random_state=0
    ... ).fit(X, y)
    >>> [W.shape for W in mlp.coefs_], round(mlp.score(X, y), 2)
    ([(3, 2, 4), (3, 4, 1)], 0.99)
    """

    _parameter_constraints: dict = {
        "submodel": [StrOptions({"linear", "mlp"})],
        # "auto" is accepted here only to be refused in fit with a useful message.
        "sharing": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "blocks": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            "array-like",
        ],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
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
        class_weight=None,
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
        self.class_weight = class_weight
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

        y : array-like of shape (n_samples,)
            Class labels.

        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weights, multiplied by the class weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._validate_params()
        params = network_params(self, linear=self.submodel == "linear")
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        check_classification_targets(y)
        sample_weight = _check_sample_weight(sample_weight, X.shape[0])
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "MultiGranularityClassifier needs samples of at least two classes; "
                f"got one class: {self.classes_[0].item()!r}."
            )
        weight = sample_weight
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight,
                classes=self.classes_,
                y=y,
                sample_weight=sample_weight,
            )
            weight = per_class[y_encoded]
            if sample_weight is not None:
                weight = weight * sample_weight

        layout = resolve_blocks(
            self.blocks, self.n_features_in_, getattr(self, "feature_names_in_", None)
        )
        self.n_blocks_ = layout.n_blocks
        self.block_names_ = list(layout.block_names)
        self.block_columns_ = list(layout.block_columns)
        self.free_columns_ = layout.free_columns
        self.sharing_ = float(self.sharing) if layout.n_blocks else 0.0
        self.alpha_ = float(self.alpha)
        self.mean_, self.scale_ = standardization(X, sample_weight)
        Xb, Xf = network_inputs(
            X,
            self.block_columns_,
            self.free_columns_,
            self.mean_,
            self._center(),
            self.scale_,
            one_block=bool(params["hidden_layer_sizes"]),
        )
        if n_classes == 2:
            loss, Y = "binary_log_loss", y_encoded[:, None].astype(np.float64)
        else:
            loss, Y = "log_loss", np.eye(n_classes)[y_encoded]

        fit = fit_network(
            Xb,
            Xf,
            Y,
            weight,
            loss=loss,
            sharing=self.sharing_,
            alpha=self.alpha_,
            stratify=y_encoded,
            **params,
        )
        attributes = network_attributes(fit)
        if params["hidden_layer_sizes"]:
            for name, value in attributes.items():
                setattr(self, name, value)
        else:
            self._set_linear_attributes(attributes, layout)
        return self

    def _center(self):
        return self.mean_ if self.fit_intercept else np.zeros_like(self.mean_)

    def _set_linear_attributes(self, attributes, layout):
        # The network without hidden layer has one weight matrix per block,
        # (n_blocks, n_per_block, n_logits); LogisticRegression's layout is
        # (n_logits, n_features).
        own = attributes["own_coefs_"][0].transpose(2, 0, 1)
        blended = attributes["coefs_"][0].transpose(2, 0, 1)
        self.shared_coef_ = attributes["shared_coefs_"][0].T
        self.own_coef_ = own
        self.free_coef_ = attributes["free_coef_"]
        coef = np.empty((blended.shape[0], self.n_features_in_))
        for g, columns in enumerate(layout.block_columns):
            coef[:, columns] = blended[:, g]
        coef[:, layout.free_columns] = self.free_coef_  # all columns without blocks
        coef /= self.scale_
        self.coef_ = coef
        self.intercept_ = attributes["intercepts_"][-1] - coef @ self._center()
        self.n_iter_ = attributes["n_iter_"]
        self.loss_curve_ = attributes["loss_curve_"]

    def _raw(self, X):
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            reset=False,
        )
        if self.submodel == "linear":
            missing = np.isnan(X)
            if missing.any():
                X = np.where(missing, self.mean_, X)
            return X @ self.coef_.T + self.intercept_
        Xb, Xf = network_inputs(
            X,
            self.block_columns_,
            self.free_columns_,
            self.mean_,
            self._center(),
            self.scale_,
            one_block=True,
        )
        block_raw, free_raw, intercept = network_terms(
            self.coefs_, self.intercepts_, self.free_coef_, self.activation, Xb, Xf
        )
        return block_raw.sum(axis=0) + free_raw + intercept

    def decision_function(self, X):
        """Logits: of ``classes_[1]`` for two classes, of every class otherwise.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Samples; NaN are imputed with the training means.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        raw = self._raw(X)
        return raw[:, 0] if raw.shape[1] == 1 else raw

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Samples; NaN are imputed with the training means.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        raw = self._raw(X)
        if raw.shape[1] == 1:
            p = expit(raw)
            return np.hstack([1 - p, p])
        return output_activation("log_loss", raw)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        raw = self._raw(X)
        if raw.shape[1] == 1:
            # log sigmoid(-z), log sigmoid(z), without underflow to log(0)
            return -np.logaddexp(0, np.hstack([raw, -raw]))
        return raw - _logsumexp(raw)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Samples; NaN are imputed with the training means.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        raw = self._raw(X)
        index = (raw[:, 0] > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
