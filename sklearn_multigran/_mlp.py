"""Private solvers for blended multi-granularity networks.

Every granularity block ``g`` gets a network ``f_g`` with the same architecture, and
every weight matrix and hidden bias of it blends a shared set with the block's own,
exactly as the linear coefficients do::

    theta_g = s * theta_shared + (1 - s) * theta_g_own
    raw     = sum_g f_g(X_g) + X_free @ B + b

``raw`` is the prediction for the squared error, the logit(s) for the cross-entropies.
A linear submodel is the network without hidden layers, so the linear classifier and
the MLPs run through the same code.

The objective follows scikit-learn's ``MLPRegressor`` so that ``alpha`` means what it
means there (and, after multiplying by ``sum(w)``, what it means in ``Ridge`` and, as
``1 / C``, in ``LogisticRegression``)::

    J = sum_i w_i loss_i / sum(w) + alpha / (2 sum(w)) * (|W_shared|^2
                                                        + sum_g |W_g_own|^2 + |B|^2)

with ``loss_i = |y_i - raw_i|^2 / 2`` or the cross-entropy of ``raw_i``. Biases (hidden
and output) are not penalised, as in ``MLPRegressor``; the split of a hidden bias
between its shared and own parts is therefore not identified, only their blend is.

Each ``f_g`` has no output bias of its own: ``G`` of them would only add up to ``b``.

Parameters live in one flat float64 vector (L-BFGS and Adam both update it in place)::

    [shared unit (s > 0) | own units, G of them (s < 1) | B | b (if fit_intercept)]

where a *unit* is one network's blended parameters, ``[W_0, ..., W_L, b_0, ...,
b_{L-1}]``, the order of ``MLPRegressor``'s packing. Because the own part is a
``(G, n_unit)`` matrix, blending all layers is a single ``s * S + (1 - s) * V``.

At ``s = 1`` the own parameters only enter the penalty, so their optimum is exactly zero
and they are left out of the optimisation (the same at ``s = 0`` for the shared ones).
With a single block the sharing has no effect and the network is a plain MLP: then the
packing, the initialisation draws and the L-BFGS call are those of ``MLPRegressor``.
"""

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.optimize
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, gen_batches, shuffle
from threadpoolctl import threadpool_limits

from sklearn_multigran._linear import (
    _chunk_rows,
    _standard_scale,
    impute,
    weighted_means,
)
from sklearn_multigran.utils._compat import Interval, StrOptions

# --- activations, in place, as in sklearn.neural_network._base ----------------------


def inplace_identity(X):
    """Leave ``X`` unchanged."""


def inplace_relu(X):
    """Rectified linear unit, in place."""
    np.maximum(X, 0, out=X)


def inplace_tanh(X):
    """Hyperbolic tangent, in place."""
    np.tanh(X, out=X)


def inplace_logistic(X):
    """Logistic sigmoid, in place."""
    expit(X, out=X)


ACTIVATIONS = {
    "identity": inplace_identity,
    "relu": inplace_relu,
    "tanh": inplace_tanh,
    "logistic": inplace_logistic,
}


# Derivatives are written in terms of the activation's *output* Z, which the forward
# pass keeps anyway, and multiply the back-propagated ``delta`` in place.
def inplace_identity_derivative(Z, delta):
    """Derivative of the identity: nothing to do."""


def inplace_relu_derivative(Z, delta):
    """Derivative of relu: zero where the unit is off."""
    # multiplying by the mask is ~3x faster than boolean-index assignment
    delta *= Z > 0


def inplace_tanh_derivative(Z, delta):
    """Derivative of tanh, ``1 - Z**2``."""
    delta *= 1 - Z**2


def inplace_logistic_derivative(Z, delta):
    """Derivative of the logistic sigmoid, ``Z * (1 - Z)``."""
    delta *= Z
    delta *= 1 - Z


DERIVATIVES = {
    "identity": inplace_identity_derivative,
    "relu": inplace_relu_derivative,
    "tanh": inplace_tanh_derivative,
    "logistic": inplace_logistic_derivative,
}


# --- losses: per-sample loss and d loss / d raw from the raw output ------------------
#
# The cross-entropies are computed from the logits (logaddexp, logsumexp) rather than
# from clipped probabilities as MLPClassifier does: it is exact for confident
# predictions, which the 1e-6 agreement with LogisticRegression needs.  The squared
# error sums over outputs (MLPRegressor averages the loss over outputs but not its
# gradient; for one output both agree).


def squared_error(Y, raw):
    """Per-sample ``|y - raw|^2 / 2`` and its gradient ``raw - y``."""
    delta = raw - Y
    return 0.5 * np.einsum("ij,ij->i", delta, delta), delta


def binary_log_loss(Y, raw):
    """Per-sample binary cross-entropy of one logit, and ``sigmoid(raw) - y``."""
    loss = (np.logaddexp(0, raw) - Y * raw)[:, 0]
    return loss, expit(raw) - Y


def _logsumexp(raw):
    # scipy.special.logsumexp costs ~300 us a call in array-API dispatch, more than
    # a whole minibatch's forward pass; this is the same max-shifted formula.
    top = raw.max(axis=1, keepdims=True)
    return top + np.log(np.exp(raw - top).sum(axis=1, keepdims=True))


def log_loss(Y, raw):
    """Per-sample multinomial cross-entropy of ``K`` logits, and ``softmax - y``."""
    lse = _logsumexp(raw)
    loss = lse[:, 0] - np.einsum("ij,ij->i", Y, raw)
    return loss, np.exp(raw - lse) - Y


LOSS_FUNCTIONS = {
    "squared_error": squared_error,
    "binary_log_loss": binary_log_loss,
    "log_loss": log_loss,
}


def output_activation(loss, raw):
    """Map raw outputs to predictions: identity, sigmoid or softmax (a new array)."""
    if loss == "squared_error":
        return raw.copy()
    if loss == "binary_log_loss":
        return expit(raw)
    return np.exp(raw - _logsumexp(raw))


# --- data: standardised, stacked blocks ----------------------------------------------


def standardization(X, sample_weight):
    """Weighted mean and standard deviation of each column, as ``StandardScaler``.

    Over the observed (non-NaN) entries; the variance is a second, chunked pass over
    centred values (never ``E[x^2] - E[x]^2``); a constant column gets scale 1.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    mean, scale : ndarray of shape (n_features,)
    """
    mean, observed, has_nan = weighted_means(X, sample_weight)
    total = np.zeros(X.shape[1])
    step = _chunk_rows(X.shape[1])
    for start in range(0, X.shape[0], step):
        centred = X[start : start + step] - mean
        if has_nan:
            np.copyto(centred, 0.0, where=np.isnan(centred))
        centred *= centred
        if sample_weight is None:
            total += centred.sum(axis=0)
        else:
            total += sample_weight[start : start + step] @ centred
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(observed > 0, total / observed, 0.0)
    return mean, _standard_scale(var, mean, observed)


def stack_blocks(X, block_columns, free_columns, mean, center, scale):
    """Standardise ``X`` and lay it out for the solvers.

    NaN are imputed with ``mean``; then every column becomes ``(x - center) / scale``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    block_columns : list of ndarray of int
        Aligned columns of each block; may be empty.
    free_columns : ndarray of int
    mean, center, scale : ndarray of shape (n_features,)
        ``center`` is ``mean``, or zeros for a model without intercept.

    Returns
    -------
    Xb : ndarray of shape (G, n_samples, p)
    Xf : ndarray of shape (n_samples, n_free)
    """
    X = impute(X, mean)
    n_per_block = len(block_columns[0]) if block_columns else 0
    Xb = np.empty((len(block_columns), X.shape[0], n_per_block))
    for g, columns in enumerate(block_columns):
        np.subtract(X[:, columns], center[columns], out=Xb[g])
        Xb[g] /= scale[columns]
    Xf = (X[:, free_columns] - center[free_columns]) / scale[free_columns]
    return Xb, Xf


# --- parameter layout ----------------------------------------------------------------


class Layout:
    """Where each parameter lives in the flat vector.

    Parameters
    ----------
    n_blocks : int
        Number of granularity blocks ``G`` (at least 1).
    layer_units : tuple of int
        ``(p, h_1, ..., h_L, k)``: block width, hidden sizes, number of outputs.
    n_free : int
        Number of free (linear) features.
    sharing : float
        ``s`` in [0, 1]; forced to 0 when ``n_blocks == 1``: the block's own network
        is then the whole model, and there is nothing to share.
    fit_intercept : bool
        Whether the output bias ``b`` is a parameter (else it is zero).
    """

    def __init__(self, n_blocks, layer_units, n_free, sharing, fit_intercept):
        self.n_blocks = n_blocks
        self.layer_units = tuple(layer_units)
        self.n_free = n_free
        # With one block there is nothing to share: the shared and own parts would
        # only split one network's weights between two penalised copies.
        self.sharing = 0.0 if n_blocks == 1 else float(sharing)
        self.fit_intercept = fit_intercept
        self.n_layers = len(layer_units) - 1  # weight matrices, L + 1
        self.n_outputs = layer_units[-1]

        # slices of one unit: all weight matrices first, then the hidden biases
        self.coef_slices = []
        start = 0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
            self.coef_slices.append(
                (start, start + fan_in * fan_out, (fan_in, fan_out))
            )
            start += fan_in * fan_out
        self.n_unit_coefs = start
        self.intercept_slices = []
        for fan_out in layer_units[1:-1]:
            self.intercept_slices.append((start, start + fan_out, (1, fan_out)))
            start += fan_out
        self.n_unit = start

        self.has_shared = self.sharing > 0
        self.has_own = self.sharing < 1
        start = 0
        self.shared_slice = slice(start, start + self.n_unit * self.has_shared)
        start = self.shared_slice.stop
        self.own_slice = slice(start, start + self.n_unit * n_blocks * self.has_own)
        start = self.own_slice.stop
        self.free_slice = slice(start, start + n_free * self.n_outputs)
        start = self.free_slice.stop
        self.intercept_slice = slice(start, start + self.n_outputs * fit_intercept)
        self.size = self.intercept_slice.stop

        # 1 where the parameter is a penalised weight, 0 for biases
        unit_mask = np.zeros(self.n_unit)
        unit_mask[: self.n_unit_coefs] = 1.0
        mask = np.zeros(self.size)
        mask[self.shared_slice] = np.tile(unit_mask, self.has_shared)
        mask[self.own_slice] = np.tile(unit_mask, n_blocks * self.has_own)
        mask[self.free_slice] = 1.0
        self.penalty_mask = mask

    def shared(self, theta):
        """The shared unit, shape ``(n_unit,)``, or None at ``s = 0``."""
        return theta[self.shared_slice] if self.has_shared else None

    def own(self, theta):
        """The own units, shape ``(G, n_unit)``, or None at ``s = 1``."""
        if not self.has_own:
            return None
        return theta[self.own_slice].reshape(self.n_blocks, self.n_unit)

    def free_coef(self, theta):
        """``B``, shape ``(n_free, k)``."""
        return theta[self.free_slice].reshape(self.n_free, self.n_outputs)

    def intercept(self, theta):
        """``b``, shape ``(k,)``; zeros when there is no intercept."""
        if self.fit_intercept:
            return theta[self.intercept_slice]
        return np.zeros(self.n_outputs)

    def effective(self, theta):
        """Blended units ``s * S + (1 - s) * V``, shape ``(G or 1, n_unit)``.

        At ``s = 1`` the single shared unit is returned as a ``(1, n_unit)`` view, which
        the batched products broadcast over the blocks.
        """
        s = self.sharing
        shared, own = self.shared(theta), self.own(theta)
        if own is None:
            return shared[None, :]
        if shared is None:
            return own
        return s * shared + (1 - s) * own

    def unit_views(self, units):
        """Per-layer views ``(coefs, intercepts)`` of a ``(G', n_unit)`` array.

        ``coefs[l]`` has shape ``(G', fan_in, fan_out)``, ``intercepts[l]`` has shape
        ``(G', 1, fan_out)`` so that it broadcasts over the rows of a block.
        """
        n = units.shape[0]
        coefs = [units[:, a:b].reshape(n, *shape) for a, b, shape in self.coef_slices]
        intercepts = [
            units[:, a:b].reshape(n, *shape) for a, b, shape in self.intercept_slices
        ]
        return coefs, intercepts


def initialize(layout, activation, random_state):
    """Glorot-uniform starting point, drawn in ``MLPRegressor``'s order.

    Per layer: the shared weights and bias, then the own weights and biases of all
    blocks; the output bias ``b`` comes last. With one block this is exactly the
    sequence of draws of ``MLPRegressor._initialize``. When both the shared
    and the own parts are present, both are drawn with the bound scaled by
    ``1 / sqrt(s^2 + (1 - s)^2)`` so that the blended weights start at Glorot's scale.
    A network without hidden layer is convex and starts at zero, as
    ``LogisticRegression`` does; ``B`` always starts at zero.
    """
    theta = np.zeros(layout.size)
    if layout.n_layers == 1:
        return theta
    s = layout.sharing
    both = layout.has_shared and layout.has_own
    scale = 1.0 / np.sqrt(s**2 + (1 - s) ** 2) if both else 1.0
    # Glorot & Bengio (2010); sklearn uses a factor of 2 instead of 6 for the sigmoid
    factor = 2.0 if activation == "logistic" else 6.0
    G, units = layout.n_blocks, layout.layer_units
    # views into theta: writing into them fills theta
    shared, own = layout.shared(theta), layout.own(theta)
    for layer, (a, b, shape) in enumerate(layout.coef_slices):
        bound = np.sqrt(factor / (units[layer] + units[layer + 1]))
        hidden = layer < layout.n_layers - 1
        if hidden:
            ia, ib, _ = layout.intercept_slices[layer]
        if shared is not None:
            shared[a:b] = random_state.uniform(
                -bound * scale, bound * scale, shape
            ).ravel()
            if hidden:
                shared[ia:ib] = random_state.uniform(
                    -bound * scale, bound * scale, ib - ia
                )
        if own is not None:
            own[:, a:b] = random_state.uniform(
                -bound * scale, bound * scale, (G, b - a)
            )
            if hidden:
                own[:, ia:ib] = random_state.uniform(
                    -bound * scale, bound * scale, (G, ib - ia)
                )
        if not hidden:
            b_out = random_state.uniform(-bound, bound, shape[1])
            if layout.fit_intercept:
                theta[layout.intercept_slice] = b_out
    return theta


# --- forward and backward ------------------------------------------------------------


def block_outputs(coefs, intercepts, activation, Xb):
    """``f_g(X_g)`` for every block, from the blended weights.

    Parameters
    ----------
    coefs : list of ndarray of shape (G or 1, fan_in, fan_out)
        Blended weights of each layer; a leading 1 is broadcast over the blocks.
    intercepts : list of ndarray of shape (G or 1, 1, fan_out)
        Blended biases of the hidden layers.
    activation : str
        Key of ``ACTIVATIONS``.
    Xb : ndarray of shape (G, n, p)
        The blocks' standardised features, stacked.

    Returns
    -------
    block_raw : ndarray of shape (G, n, k)
    """
    act = ACTIVATIONS[activation]
    A = Xb
    for W, c in zip(coefs[:-1], intercepts, strict=True):
        A = np.matmul(A, W)
        A += c
        act(A)
    return np.matmul(A, coefs[-1])


def forward(theta, layout, activation, Xb, Xf):
    """Each term of the raw output at ``theta``.

    Returns
    -------
    block_raw : ndarray of shape (G, n, k)
        ``f_g(X_g)`` for each block.
    free_raw : ndarray of shape (n, k)
        ``X_free @ B``.
    intercept : ndarray of shape (k,)
        ``b``.
    """
    coefs, intercepts = layout.unit_views(layout.effective(theta))
    block_raw = block_outputs(coefs, intercepts, activation, Xb)
    return block_raw, Xf @ layout.free_coef(theta), layout.intercept(theta)


def predict_raw(theta, layout, activation, Xb, Xf):
    """``sum_g f_g(X_g) + X_free @ B + b``, shape ``(n, k)``."""
    block_raw, free_raw, intercept = forward(theta, layout, activation, Xb, Xf)
    return block_raw.sum(axis=0) + free_raw + intercept


def loss_grad(theta, layout, activation, loss, alpha, Xb, Xf, Y, sample_weight, grad):
    """Objective ``J`` at ``theta``; its gradient is written into ``grad``.

    The gradient with respect to the blended units is computed for every block in one
    batched pass; the chain rule through ``s * S + (1 - s) * V`` then gives the shared
    gradient as ``s`` times its sum over the blocks and the own gradients as ``1 - s``
    times each block's.

    Parameters
    ----------
    theta, grad : ndarray of shape (layout.size,)
    layout : Layout
    activation : str
    loss : {"squared_error", "binary_log_loss", "log_loss"}
    alpha : float
    Xb : ndarray of shape (G, n, p)
    Xf : ndarray of shape (n, n_free)
    Y : ndarray of shape (n, k)
        Targets; one-hot (or 0/1 for one logit) for the cross-entropies.
    sample_weight : ndarray of shape (n,) or None

    Returns
    -------
    value : float
    """
    G, n = Xb.shape[0], Xb.shape[1]
    s = layout.sharing
    coefs, intercepts = layout.unit_views(layout.effective(theta))
    act = ACTIVATIONS[activation]

    activations = [Xb]
    for W, c in zip(coefs[:-1], intercepts, strict=True):
        A = np.matmul(activations[-1], W)
        A += c
        act(A)
        activations.append(A)
    raw = np.matmul(activations[-1], coefs[-1]).sum(axis=0)
    if layout.n_free:
        raw += Xf @ layout.free_coef(theta)
    raw += layout.intercept(theta)

    sample_loss, delta = LOSS_FUNCTIONS[loss](Y, raw)
    if sample_weight is None:
        sw_sum = n
        value = sample_loss.sum() / sw_sum
        delta /= sw_sum
    else:
        sw_sum = sample_weight.sum()
        value = sample_loss @ sample_weight / sw_sum
        delta *= (sample_weight / sw_sum)[:, None]

    penalised = theta * layout.penalty_mask
    value += 0.5 * alpha / sw_sum * (penalised @ theta)

    # gradient with respect to the blended units of every block
    g_units = np.empty((G, layout.n_unit))
    g_coefs, g_intercepts = layout.unit_views(g_units)
    g_coefs[-1][...] = np.matmul(activations[-1].transpose(0, 2, 1), delta)
    if layout.n_layers > 1:
        d = np.matmul(delta, coefs[-1].transpose(0, 2, 1))
        if d.shape[0] != G:  # shared-only weights broadcast over the blocks
            d = np.repeat(d, G, axis=0)
        derivative = DERIVATIVES[activation]
        for layer in range(layout.n_layers - 2, -1, -1):
            derivative(activations[layer + 1], d)
            g_coefs[layer][...] = np.matmul(activations[layer].transpose(0, 2, 1), d)
            g_intercepts[layer][...] = d.sum(axis=1, keepdims=True)
            if layer:
                d = np.matmul(d, coefs[layer].transpose(0, 2, 1))

    if layout.has_shared:
        np.multiply(g_units.sum(axis=0), s, out=grad[layout.shared_slice])
    if layout.has_own:
        np.multiply(g_units.ravel(), 1 - s, out=grad[layout.own_slice])
    if layout.n_free:
        grad[layout.free_slice] = (Xf.T @ delta).ravel()
    if layout.fit_intercept:
        grad[layout.intercept_slice] = delta.sum(axis=0)
    grad += (alpha / sw_sum) * penalised
    return value


# --- drivers -------------------------------------------------------------------------

# MLPRegressor's default ``max_fun``: the cap on loss evaluations of one L-BFGS run.
_MAX_FUN = 15_000

_ADAM_BETA_1, _ADAM_BETA_2, _ADAM_EPSILON = 0.9, 0.999, 1e-8

# Below this many input values, L-BFGS runs on one BLAS thread. Its own algebra is on
# vectors of the size of the parameters, where threads only cost: measured on two busy
# cores, scipy's setulb took 7 ms a call with two OpenBLAS threads and well under
# 1 ms with one, which made small fits (and the test suite) three times slower.
# Above it the products with the data dominate and may use every thread.
_ONE_THREAD_BELOW = 1_000_000


class NetworkFit(NamedTuple):
    """What a fit returns: the flat parameters, their layout and the optimiser's trace.

    ``loss_curve`` has one entry per L-BFGS iteration or Adam epoch; ``best_loss`` is
    its minimum. ``validation_scores`` and ``best_validation_score`` are None without
    early stopping.
    """

    theta: np.ndarray
    layout: Layout
    loss_curve: list
    n_iter: int
    loss: float
    best_loss: float
    validation_scores: list | None
    best_validation_score: float | None


def fit_network(
    Xb,
    Xf,
    Y,
    sample_weight,
    *,
    loss,
    hidden_layer_sizes,
    activation,
    solver,
    sharing,
    alpha,
    fit_intercept,
    max_iter,
    tol,
    learning_rate_init,
    batch_size,
    early_stopping,
    validation_fraction,
    n_iter_no_change,
    random_state,
    verbose,
    stratify=None,
):
    """Fit a blended network; the estimators' ``fit`` delegates here.

    Parameters
    ----------
    Xb : ndarray of shape (G, n, p)
        The blocks' standardised features, C-contiguous float64, ``G >= 1``.
    Xf : ndarray of shape (n, n_free)
        The free features (``n_free`` may be 0).
    Y : ndarray of shape (n, k)
        float64 targets; one-hot columns for ``"log_loss"``, one 0/1 column for
        ``"binary_log_loss"``.
    sample_weight : ndarray of shape (n,) or None
        Already multiplied by the class weights, if any.
    loss : {"squared_error", "binary_log_loss", "log_loss"}
    hidden_layer_sizes : tuple of int
        Empty for a linear submodel.
    random_state : int, RandomState instance or None
        Drives the initial weights, the early-stopping split and the minibatch order,
        in this order, as in ``MLPRegressor``.
    stratify : ndarray of shape (n,) or None
        Labels to stratify the early-stopping split by.
    **others
        As in the estimators, already validated.

    Returns
    -------
    fit : NetworkFit

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` (or L-BFGS's cap on loss evaluations) is reached.
    """
    G, n, p = Xb.shape
    layout = Layout(
        G, (p, *hidden_layer_sizes, Y.shape[1]), Xf.shape[1], sharing, fit_intercept
    )
    rng = check_random_state(random_state)
    theta = initialize(layout, activation, rng)
    args = (layout, activation, loss, alpha)
    if solver == "lbfgs":
        return _fit_lbfgs(theta, args, Xb, Xf, Y, sample_weight, max_iter, tol, verbose)
    return _fit_adam(
        theta,
        args,
        Xb,
        Xf,
        Y,
        sample_weight,
        rng=rng,
        max_iter=max_iter,
        tol=tol,
        learning_rate_init=learning_rate_init,
        batch_size=batch_size,
        early_stopping=early_stopping,
        validation_fraction=validation_fraction,
        n_iter_no_change=n_iter_no_change,
        verbose=verbose,
        stratify=stratify,
    )


def _fit_lbfgs(theta, args, Xb, Xf, Y, sample_weight, max_iter, tol, verbose):
    layout = args[0]
    grad = np.empty_like(theta)

    last = [np.nan]

    def fun(x):
        last[0] = loss_grad(x, *args, Xb, Xf, Y, sample_weight, grad)
        return last[0], grad.copy()

    loss_curve = []

    # L-BFGS-B reports a new iterate right after evaluating it, so the last value is
    # the iterate's; this also works with scipy < 1.11, which passes only ``xk``.
    def callback(xk):
        loss_curve.append(float(last[0]))
        if verbose:
            print(f"Iteration {len(loss_curve)}, loss = {loss_curve[-1]:.8f}")

    if layout.n_layers == 1:
        # Convex: let ``tol`` (the gradient's max-norm) alone decide, with
        # LogisticRegression's settings; the default ftol would stop L-BFGS on a
        # relative decrease of 2e-9, far from the optimum in the coefficients.
        options = {"maxls": 50, "ftol": 64 * np.finfo(float).eps}
    else:
        options = {}  # MLPRegressor's: scipy's defaults
    limits = 1 if Xb.size + Xf.size < _ONE_THREAD_BELOW else None
    with threadpool_limits(limits=limits, user_api="blas"):
        result = scipy.optimize.minimize(
            fun,
            theta,
            method="L-BFGS-B",
            jac=True,
            callback=callback,
            options={"maxiter": max_iter, "maxfun": _MAX_FUN, "gtol": tol, **options},
        )
    n_iter = min(result.nit, max_iter)
    if result.status == 1:  # iteration or evaluation cap; not "abnormal line search"
        warnings.warn(
            f"L-BFGS stopped after {n_iter} iteration(s) without converging: "
            f"{result.message} Increase max_iter, or scale the data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    loss = float(result.fun)
    return NetworkFit(
        theta=result.x,
        layout=layout,
        loss_curve=loss_curve,
        n_iter=n_iter,
        loss=loss,
        best_loss=min(loss_curve, default=loss),
        validation_scores=None,
        best_validation_score=None,
    )


def _score(theta, layout, activation, loss, Xb, Xf, Y, sample_weight):
    """Validation score: R^2 for the squared error, accuracy for the cross-entropies."""
    raw = predict_raw(theta, layout, activation, Xb, Xf)
    w = np.ones(Y.shape[0]) if sample_weight is None else sample_weight
    if loss == "squared_error":
        residual = w @ ((Y - raw) ** 2)
        total = w @ ((Y - (w @ Y) / w.sum()) ** 2)
        # as r2_score: a constant target scores 1 if predicted exactly, else 0
        r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)
        r2 = np.where((total == 0) & (residual == 0), 1.0, r2)
        return float(r2.mean())
    if loss == "binary_log_loss":
        correct = (raw[:, 0] > 0) == (Y[:, 0] > 0.5)
    else:
        correct = raw.argmax(axis=1) == Y.argmax(axis=1)
    return float(w @ correct / w.sum())


def _fit_adam(
    theta,
    args,
    Xb,
    Xf,
    Y,
    sample_weight,
    *,
    rng,
    max_iter,
    tol,
    learning_rate_init,
    batch_size,
    early_stopping,
    validation_fraction,
    n_iter_no_change,
    verbose,
    stratify,
):
    """Minibatch Adam, epochs and stopping rules as in ``MLPRegressor``.

    Each minibatch minimises its own ``J``, whose penalty is divided by the batch's
    weight, not the training set's: that is what ``MLPRegressor`` does, so ``alpha``
    means the same here and there, for either solver.
    """
    layout = args[0]
    n = Xb.shape[1]
    if early_stopping:
        train, val = train_test_split(
            np.arange(n),
            random_state=rng,
            test_size=validation_fraction,
            stratify=stratify,
        )
        if val.shape[0] < 2:
            raise ValueError(
                f"The validation set has {val.shape[0]} sample(s), fewer than 2. "
                "Increase validation_fraction or use more samples."
            )
        val_data = (
            Xb[:, val],
            Xf[val],
            Y[val],
            None if sample_weight is None else sample_weight[val],
        )
        Xb, Xf, Y = Xb[:, train], Xf[train], Y[train]
        sample_weight = None if sample_weight is None else sample_weight[train]
        n = train.shape[0]
    batch_size = min(200, n) if batch_size == "auto" else min(batch_size, n)

    grad = np.empty_like(theta)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    step = np.empty_like(theta)
    t = 0
    loss_curve = []
    validation_scores = [] if early_stopping else None
    best_loss = np.inf
    best_score = -np.inf
    best_theta = theta.copy()
    no_improvement = 0
    sample_idx = np.arange(n)
    n_iter = 0
    for _ in range(max_iter):
        sample_idx = shuffle(sample_idx, random_state=rng)
        accumulated = 0.0
        for batch in gen_batches(n, batch_size):
            idx = sample_idx[batch]
            sw = None if sample_weight is None else sample_weight[idx]
            value = loss_grad(theta, *args, Xb[:, idx], Xf[idx], Y[idx], sw, grad)
            accumulated += value * (batch.stop - batch.start)
            # Kingma & Ba (2014), with the bias corrections folded into the step
            t += 1
            m *= _ADAM_BETA_1
            m += (1 - _ADAM_BETA_1) * grad
            v *= _ADAM_BETA_2
            grad *= grad
            v += (1 - _ADAM_BETA_2) * grad
            lr = (
                learning_rate_init
                * np.sqrt(1 - _ADAM_BETA_2**t)
                / (1 - _ADAM_BETA_1**t)
            )
            np.sqrt(v, out=step)
            step += _ADAM_EPSILON
            np.divide(m, step, out=step)
            step *= lr
            theta -= step
        n_iter += 1
        loss_curve.append(accumulated / n)
        if verbose:
            print(f"Iteration {n_iter}, loss = {loss_curve[-1]:.8f}")

        if early_stopping:
            score = _score(theta, *args[:3], *val_data)
            validation_scores.append(score)
            if verbose:
                print(f"Validation score: {score:.6f}")
            no_improvement = no_improvement + 1 if score < best_score + tol else 0
            if score > best_score:
                best_score = score
                best_theta = theta.copy()
        else:
            no_improvement = (
                no_improvement + 1 if loss_curve[-1] > best_loss - tol else 0
            )
        best_loss = min(best_loss, loss_curve[-1])

        if no_improvement > n_iter_no_change:
            if verbose:
                what = "Validation score" if early_stopping else "Training loss"
                print(
                    f"{what} did not improve more than tol={tol} for "
                    f"{n_iter_no_change} consecutive epochs. Stopping."
                )
            break
    else:
        warnings.warn(
            f"Adam reached max_iter={max_iter} epochs without converging. "
            "Increase max_iter.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if early_stopping:
        theta = best_theta
    return NetworkFit(
        theta=theta,
        layout=layout,
        loss_curve=loss_curve,
        n_iter=n_iter,
        loss=loss_curve[-1],
        best_loss=best_loss,
        validation_scores=validation_scores,
        best_validation_score=best_score if early_stopping else None,
    )


# --- what the estimators use --------------------------------------------------------


#: The MLP parameters of both MLP estimators, in sklearn's MLP vocabulary. The linear
#: classifier takes the L-BFGS ones (``max_iter``, ``tol``, ``verbose``) from here too.
NETWORK_PARAMETER_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions({"relu", "tanh", "logistic", "identity"})],
    "solver": [StrOptions({"lbfgs", "adam"})],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

# What L-BFGS does not read; passed for a network without hidden layer, which starts
# at zero (no random draw) and is convex, so L-BFGS on the full data is the solver.
_LBFGS_FIXED = {
    "hidden_layer_sizes": (),
    "activation": "identity",
    "solver": "lbfgs",
    "learning_rate_init": 1e-3,
    "batch_size": "auto",
    "early_stopping": False,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
    "random_state": None,
}


def network_params(estimator):
    """The keyword arguments of :func:`fit_network` from an MLP estimator's parameters.

    The caller adds ``loss``, ``sharing``, ``alpha`` and ``stratify``.
    """
    hidden = estimator.hidden_layer_sizes
    hidden = (hidden,) if isinstance(hidden, Integral) else tuple(hidden)
    if not hidden or not all(isinstance(h, Integral) and h > 0 for h in hidden):
        raise ValueError(
            f"hidden_layer_sizes={estimator.hidden_layer_sizes!r} must hold one or "
            "more positive integers, e.g. (32,); for no hidden layer use the linear "
            "estimator (MultiGranularityRegressor or MultiGranularityClassifier)."
        )
    params = {name: getattr(estimator, name) for name in NETWORK_PARAMETER_CONSTRAINTS}
    return {
        **params,
        "hidden_layer_sizes": hidden,
        "fit_intercept": estimator.fit_intercept,
    }


def linear_network_params(estimator):
    """:func:`fit_network`'s keyword arguments for a network without hidden layer."""
    return {
        **_LBFGS_FIXED,
        "max_iter": estimator.max_iter,
        "tol": estimator.tol,
        "verbose": estimator.verbose,
        "fit_intercept": estimator.fit_intercept,
    }


def network_inputs(X, block_columns, free_columns, mean, center, scale, *, one_block):
    """``Xb, Xf`` for the estimators' resolved blocks.

    With fewer than two blocks there is nothing to share. A linear submodel then has
    every column free (plain ridge or logistic regression); an MLP (``one_block``)
    gets all the columns as a single block, so that it is a plain MLP over them.
    """
    if len(block_columns) < 2:
        all_columns, none = np.arange(X.shape[1]), np.arange(0)
        block_columns, free_columns = (
            ([all_columns], none) if one_block else ([], all_columns)
        )
    return stack_blocks(X, block_columns, free_columns, mean, center, scale)


def network_attributes(fit):
    """The fitted attributes of a network, by name.

    Returns
    -------
    attributes : dict
        ``shared_coefs_`` (list of ``(fan_in, fan_out)``), ``own_coefs_`` and
        ``coefs_`` (lists of ``(G, fan_in, fan_out)``: own and blended weights),
        ``shared_intercepts_``, ``own_intercepts_`` (hidden layers, as the weights),
        ``intercepts_`` (blended hidden biases ``(G, fan_out)``, then the output bias
        ``(k,)``), ``free_coef_`` (``B.T``, ``(k, n_free)``) and the optimiser's
        ``loss_curve_``, ``n_iter_``, ``loss_``, ``best_loss_``, ``validation_scores_``
        and ``best_validation_score_``. A part left out of the optimisation (own at
        ``s = 1``, shared at ``s = 0``) is reported as zeros, its exact optimum.
    """
    layout, theta = fit.layout, fit.theta
    G, n_unit = layout.n_blocks, layout.n_unit
    shared = layout.shared(theta)
    shared = np.zeros(n_unit) if shared is None else shared.copy()
    own = layout.own(theta)
    own = np.zeros((G, n_unit)) if own is None else own.copy()
    blended = np.broadcast_to(layout.effective(theta), (G, n_unit)).copy()
    shared_coefs, shared_intercepts = layout.unit_views(shared[None, :])
    own_coefs, own_intercepts = layout.unit_views(own)
    coefs, intercepts = layout.unit_views(blended)
    return {
        "shared_coefs_": [c[0] for c in shared_coefs],
        "own_coefs_": own_coefs,
        "coefs_": coefs,
        "shared_intercepts_": [c[0, 0] for c in shared_intercepts],
        "own_intercepts_": [c[:, 0] for c in own_intercepts],
        "intercepts_": [*(c[:, 0] for c in intercepts), layout.intercept(theta).copy()],
        "free_coef_": layout.free_coef(theta).T.copy(),
        "loss_curve_": fit.loss_curve,
        "n_iter_": fit.n_iter,
        "loss_": fit.loss,
        "best_loss_": fit.best_loss,
        "validation_scores_": fit.validation_scores,
        "best_validation_score_": fit.best_validation_score,
    }


def network_terms(coefs, intercepts, free_coef, activation, Xb, Xf):
    """The raw output's terms from fitted attributes.

    Parameters
    ----------
    coefs, intercepts, free_coef
        The ``coefs_``, ``intercepts_`` and ``free_coef_`` of
        :func:`network_attributes`.
    activation : str
    Xb, Xf : ndarray
        From :func:`network_inputs`.

    Returns
    -------
    block_raw : ndarray of shape (G, n, k)
    free_raw : ndarray of shape (n, k)
    intercept : ndarray of shape (k,)
    """
    hidden = [c[:, None, :] for c in intercepts[:-1]]
    block_raw = block_outputs(coefs, hidden, activation, Xb)
    return block_raw, Xf @ free_coef.T, intercepts[-1]
