"""MultiGranularityClassifier: blended logistic regression, and the classifiers' base.

``_BaseMultiGranularityClassifier`` holds what the linear and the MLP classifier share
(labels, class weights, the network fit, probabilities); each subclass only says which
network it fits and which attributes it reports.
"""

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets

from sklearn_multigran._base import (
    BASE_PARAMETER_CONSTRAINTS,
    LBFGS_PARAMETER_CONSTRAINTS,
    _check_sample_weight,
    _linear_predict,
    _MultiGranularityBase,
    _refuse_auto,
)
from sklearn_multigran._mlp import (
    _logsumexp,
    fit_network,
    linear_network_params,
    network_attributes,
    network_inputs,
    output_activation,
    standardization,
)
from sklearn_multigran.utils._compat import StrOptions, _fit_context, validate_data


class _BaseMultiGranularityClassifier(ClassifierMixin, _MultiGranularityBase):
    """Labels, class weights, the network fit and the probabilities.

    Subclasses define ``_network_params()`` (the keyword arguments of
    :func:`~sklearn_multigran._mlp.fit_network`), ``_set_fitted(attributes,
    layout)`` and ``_raw(X)`` (the logits of validated ``X``).
    """

    @_fit_context(prefer_skip_nested_validation=True)
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
        _refuse_auto(self)
        params = self._network_params()
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
                f"{type(self).__name__} needs samples of at least two classes; "
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

        layout = self._resolve_layout()
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
        self._set_fitted(network_attributes(fit), layout)
        return self

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
        raw = self._raw(self._validate_predict_data(X))
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
        raw = self._raw(self._validate_predict_data(X))
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
        raw = self._raw(self._validate_predict_data(X))
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
        raw = self._raw(self._validate_predict_data(X))
        index = (raw[:, 0] > 0).astype(int) if raw.shape[1] == 1 else raw.argmax(1)
        return self.classes_[index]


class MultiGranularityClassifier(_BaseMultiGranularityClassifier):
    r"""Logistic regression with one submodel per granularity and shared coefficients.

    The input columns come in ``G`` blocks, one per granularity, holding the same
    features at their own granularity, plus free columns, as for
    :class:`MultiGranularityRegressor`. Block ``g``'s coefficients are
    ``W_g = s * W_shared + (1 - s) * W_g_own`` and the logits are

    .. math::

        z = \sum_g X_g W_g + X_{free} B + b,

    one logit for two classes (``P(classes_[1]) = sigmoid(z)``), one per class
    otherwise (softmax): multinomial logistic regression with blended coefficients.
    Everything is fit jointly by L-BFGS on the full data, minimising the weighted
    mean cross-entropy plus
    ``alpha / (2 sum(w)) * (|W_shared|^2 + sum_g |W_g_own|^2 + |B|^2)`` on internally
    standardised features. The problem is convex and the fit starts at zero, as
    :class:`~sklearn.linear_model.LogisticRegression` does, so there is no
    ``random_state``. For an MLP per granularity see
    :class:`MultiGranularityMLPClassifier`.

    Read more in the :doc:`user guide </mlp>`.

    Parameters
    ----------
    sharing : float in [0, 1], default=0.5
        Weight ``s`` of the shared coefficients: 0 fits independent submodels whose
        logits add up, 1 one coefficient vector for every granularity. ``"auto"`` is
        refused: there is no closed form to cross-validate cheaply, so tune it with
        :class:`~sklearn.model_selection.GridSearchCV`.

    alpha : float > 0, default=1.0
        L2 penalty strength on the coefficients (not the intercept). With
        ``alpha = 1 / C`` the objective is that of
        :class:`~sklearn.linear_model.LogisticRegression` with ``C``. ``"auto"`` is
        refused, as for ``sharing``.

    blocks : "auto", int or list of lists of int, default="auto"
        Which columns form the granularity blocks, as for
        :class:`MultiGranularityRegressor`. With fewer than two blocks the model is
        plain logistic regression on the standardised columns; ``sharing`` has no
        effect.

    fit_intercept : bool, default=True
        Whether to fit the intercept ``b``. If False, the features are scaled but
        not centred.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying the sample weights in the loss, as in
        :class:`~sklearn.linear_model.LogisticRegression`.

    max_iter : int, default=200
        L-BFGS iterations. A :class:`~sklearn.exceptions.ConvergenceWarning` is
        issued when it is reached.

    tol : float, default=1e-4
        L-BFGS stops when the gradient's largest entry is below ``tol``.

    verbose : int or bool, default=0
        Print one line per iteration with the loss.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients in the input's units, so that ``X @ coef_.T + intercept_`` is
        ``decision_function(X)`` for ``X`` without NaN.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        The intercept in the input's units.

    shared_coef_, own_coef_, free_coef_ : ndarray
        ``S`` of shape ``(n_logits, n_per_block)``, ``V_g`` of shape
        ``(n_logits, n_blocks, n_per_block)`` and ``B`` of shape
        ``(n_logits, n_free)``, on the standardised scale.

    loss_curve_ : list of float
        The objective after each L-BFGS iteration.

    n_iter_ : int
        Iterations run.

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
    MultiGranularityMLPClassifier : An MLP per granularity, blended the same way.
    MultiGranularityRegressor : The same model family for regression.
    sklearn.linear_model.LogisticRegression : The model with one block.

    Notes
    -----
    The model is the blended network of :class:`MultiGranularityMLPClassifier`
    without hidden layer, fit by the same code. Cross-entropies are computed from
    the logits, not from clipped probabilities.

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
    """

    _parameter_constraints: dict = {
        **BASE_PARAMETER_CONSTRAINTS,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        **LBFGS_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        sharing=0.5,
        *,
        alpha=1.0,
        blocks="auto",
        fit_intercept=True,
        class_weight=None,
        max_iter=200,
        tol=1e-4,
        verbose=0,
    ):
        self.sharing = sharing
        self.alpha = alpha
        self.blocks = blocks
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose

    def _network_params(self):
        return linear_network_params(self)

    def _set_fitted(self, attributes, layout):
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
        return _linear_predict(X, self.coef_, self.intercept_, self.mean_)
