"""A small bias-free ReLU network on 8x8 digits: the Fig. 2 experiment (S-FIG2), offline.

**Why this experiment.**  The paper's Fig. 2 trains AlexNet on CIFAR-10 with
SGD and plots ``||W_k||_2 / ||W_k||_F`` of the three dense layers against
their floors ``1/sqrt(min(d_k, d_{k-1}))``.  CIFAR-10 must be downloaded and
AlexNet needs a GPU-sized budget; neither is possible in an offline CPU test
suite.  scikit-learn's ``load_digits`` (1797 real 8x8 handwritten digits, ten
classes) ships inside the scikit-learn wheel, so it is offline, real images,
and small enough that the bias-free dense network ``64 -> 128 -> 128 -> 10``
(:data:`DIGITS_WIDTHS`) trains by SGD at about 0.5 ms per step on one core.
What is kept from the paper: real image data, a ReLU network, softmax
cross-entropy, minibatch SGD with a fixed step, the dense layers' alignment
ratio against its floor, and the two initialisations (PyTorch's default,
Fig. 2a, :func:`default_init`; equal Frobenius norms 4, Fig. 2b,
:func:`equal_frobenius_init`).  What is dropped: the convolutional front (the
paper's ratios are of the dense layers only; a conv front is not needed to ask
whether dense layers align), and the biases (below).  Hidden width 128 rather
than 32: with wide hidden layers the floor ``1/sqrt(128)`` sits well below a
random layer's own ratio, as for the paper's 4096-wide layers, so "above the
floor" and "above what the init already has" can be told apart.

**No biases.**  AlexNet's layers have biases.  Here every layer is bias-free,
``x -> W_L relu(W_{L-1} ... relu(W_1 x))``, so the network is positively
homogeneous in each layer (``f(c W_k) = c f(W_k)`` for ``c > 0``), which is
what Du, Hu & Lee (2018) need for balancedness (:func:`weight_gradient_products`).
The alignment question is unchanged by this choice.

**Layout.**  ``W_k`` has shape ``(d_k, d_{k-1})`` as in the paper; samples are
rows, so the pre-activation of layer k is ``A_k = H_{k-1} W_k^T`` with
``H_0 = X`` and ``H_k = act(A_k)`` for k < L; the logits are ``A_L``.

**Balancedness (Du, Hu & Lee 2018), derived.**  Let ``dA_k = d loss / d A_k``
and ``G_k = dA_k^T H_{k-1}``, the gradient of the (minibatch) loss in ``W_k``.
For every k,

    <W_k, G_k> = sum_i <dA_k[i], W_k H_{k-1}[i]> = <dA_k, A_k>.

For ReLU, ``dA_k = dH_k * 1[A_k > 0]`` and ``relu(a) = a 1[a > 0]`` (also at
``a = 0``), so ``<dA_k, A_k> = <dH_k, H_k>``; and ``dH_k = dA_{k+1} W_{k+1}``,
so ``<dH_k, H_k> = <dA_{k+1}, H_k W_{k+1}^T> = <dA_{k+1}, A_{k+1}>``.  By
induction every layer gives the same number, ``<dA_L, A_L> = sum_i <d loss /
d out_i, out_i>``.  This uses only ``act(a) = a act'(a)`` (positive
homogeneity), so it fails for tanh.  One SGD step ``W_k' = W_k - eta G_k`` gives

    ||W_k'||_F^2 = ||W_k||_F^2 - 2 eta <W_k, G_k> + eta^2 ||G_k||_F^2,

and the first-order terms cancel in the difference of adjacent layers:
``Delta(||W_{k+1}||_F^2 - ||W_k||_F^2) = eta^2 (||G_{k+1}||_F^2 - ||G_k||_F^2)``
exactly, at every step, for any loss and any minibatch.  Gradient flow
(``eta -> 0``) conserves the differences; a finite step drifts them by exactly
the accumulated second-order terms, the ReLU analogue of S-EQ29's trace.

**Rounding of that identity.**  In floating point ``<W_k, Ĝ_k>`` equals
``<W_{k+1}, Ĝ_{k+1}>`` only up to the rounding of the four products in the
chain above (``Ĝ_k = fl(dÂ_k^T Ĥ_{k-1})``, ``Â_k = fl(Ĥ_{k-1} W_k^T)``,
``dĤ_k = fl(dÂ_{k+1} W_{k+1})``, ``Ĝ_{k+1}``; the ReLU masks are exact).  Each
product of inner dimension m errs entrywise by at most ``gamma_m |A||B|``
(``gamma_m = m u / (1 - m u)``, any summation order), and every such term is
bounded by ``gamma_m T_k`` with ``T_k = <|W_k|, |dÂ_k|^T |Ĥ_{k-1}|>``, so

    |<W_k, Ĝ_k> - <W_{k+1}, Ĝ_{k+1}>| <= (gamma_B + gamma_{d_{k-1}}) T_k
                                          + (gamma_B + gamma_{d_{k+1}}) T_{k+1}.

:func:`train_sgd` records ``T_k`` at every step when asked (``trace=True``);
:func:`balance_residuals` turns it into the allowed residual.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .core.rounding import EPS, gamma_unit

DIGITS_WIDTHS: tuple[int, ...] = (64, 128, 128, 10)
#: Frobenius norm of every layer under the equal-norm init; the paper uses 4 (Fig. 2b).
EQUAL_FROBENIUS_NORM = 4.0

Weights = list[np.ndarray]


# --- data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digits:
    """Rows of ``X`` are images scaled to [0, 1] (pixel / 16); ``y`` the digit 0..9."""

    X: np.ndarray
    y: np.ndarray

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


def load_digits(n: int | None = None, seed: int = 0) -> Digits:
    """scikit-learn's 1797 8x8 digits (offline), optionally a seeded subset of ``n``.

    The subset is stratified by class (round-robin over a seeded shuffle of each
    class), so even a small subset sees all ten digits about equally often.
    """
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    X = np.asarray(bunch.data, dtype=float) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    if n is None or n >= y.size:
        return Digits(X, y)
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(10)]
    order = [
        int(idx[j]) for j in range(max(map(len, per_class))) for idx in per_class if j < len(idx)
    ]
    keep = np.sort(np.array(order[:n]))
    return Digits(X[keep], y[keep])


# --- initialisation ---------------------------------------------------------------------


def layer_shapes(widths: Sequence[int]) -> list[tuple[int, int]]:
    """``(d_k, d_{k-1})`` for k = 1..L from ``(d_0, d_1, ..., d_L)``."""
    return [(widths[k + 1], widths[k]) for k in range(len(widths) - 1)]


def default_init(widths: Sequence[int], rng: np.random.Generator) -> Weights:
    """Fig. 2a's "default PyTorch initialization" of a dense layer, without its bias.

    ``torch.nn.Linear`` draws ``kaiming_uniform_(W, a=sqrt(5))``: He (Kaiming)
    uniform with gain ``sqrt(2 / (1 + a^2)) = 1/sqrt(3)``, i.e.
    ``W_k ~ U(-1/sqrt(d_{k-1}), 1/sqrt(d_{k-1}))`` entrywise (std
    ``1/sqrt(3 d_{k-1})``).
    """
    return [rng.uniform(-1.0, 1.0, size=s) / np.sqrt(s[1]) for s in layer_shapes(widths)]


def he_normal_init(widths: Sequence[int], rng: np.random.Generator) -> Weights:
    """He-normal with the ReLU gain: ``W_k ~ N(0, 2 / d_{k-1})`` (sqrt(6) x the default's std)."""
    return [rng.normal(scale=np.sqrt(2.0 / s[1]), size=s) for s in layer_shapes(widths)]


def equal_frobenius_init(
    widths: Sequence[int], rng: np.random.Generator, norm: float = EQUAL_FROBENIUS_NORM
) -> Weights:
    """Fig. 2b: Gaussian layers rescaled so every ``||W_k||_F = norm`` (the paper: 4)."""
    out = []
    for s in layer_shapes(widths):
        M = rng.normal(size=s)
        out.append(norm * M / np.linalg.norm(M))
    return out


#: init name -> the value recorded in the "fig2" observation (0 default, 1 equal Frobenius).
INITS: dict[str, float] = {"default": 0.0, "equal_frobenius": 1.0, "he_normal": 2.0}
_INIT_FUNCTIONS = {
    "default": default_init,
    "equal_frobenius": equal_frobenius_init,
    "he_normal": he_normal_init,
}


def init_weights(kind: str, widths: Sequence[int], seed: int) -> Weights:
    """``kind`` is ``"default"`` (PyTorch's), ``"equal_frobenius"`` or ``"he_normal"``."""
    if kind not in _INIT_FUNCTIONS:
        raise ValueError(f"unknown init {kind!r}")
    return _INIT_FUNCTIONS[kind](widths, np.random.default_rng(seed))


def floor_ratio(W: np.ndarray) -> float:
    """The floor of ``||W||_2 / ||W||_F``: ``1/sqrt(min(d_k, d_{k-1}))`` (rank <= min)."""
    return 1.0 / np.sqrt(min(W.shape))


def gaussian_ratio(shape: tuple[int, int]) -> float:
    """Random-matrix value of ``||W||_2 / ||W||_F`` for an i.i.d. Gaussian ``m x n`` matrix.

    Marchenko–Pastur / Bai–Yin: ``||W||_2 -> sigma (sqrt(m) + sqrt(n))`` and
    ``||W||_F -> sigma sqrt(m n)``, so the ratio is ``1/sqrt(m) + 1/sqrt(n)``:
    the floor ``1/sqrt(min)`` times ``1 + sqrt(min/max)``.  At these sizes the
    top singular value sits slightly below the edge (Tracy–Widom), so a fresh
    Gaussian layer's ratio is at most about this value.
    """
    m, n = shape
    return 1.0 / np.sqrt(m) + 1.0 / np.sqrt(n)


def spectral_ratio(W: np.ndarray) -> float:
    s = np.linalg.svd(W, compute_uv=False)
    return float(s[0] / np.sqrt(np.sum(s**2)))


#: Seeds of the spread samples: far from the seeds the tests draw (< 2**32 offsets).
_SPREAD_SEED = 7_000_000


@functools.lru_cache(maxsize=16)
def init_ratio_spread(
    kind: str, widths: tuple[int, ...], samples: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, sd)`` per layer of ``||W_k||_2/||W_k||_F`` over ``samples`` fresh inits.

    The seed-to-seed spread of the init's ratio (Tracy–Widom fluctuations of
    the top singular value): the noise level above which a trained ratio has
    "risen".  Deterministic (fixed seeds), cached per process.
    """
    R = np.array(
        [
            [spectral_ratio(M) for M in init_weights(kind, widths, _SPREAD_SEED + s)]
            for s in range(samples)
        ]
    )
    return R.mean(axis=0), R.std(axis=0, ddof=1)


# --- the network ------------------------------------------------------------------------


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _relu_grad(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    return (a > 0).astype(float)


def _tanh_grad(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    return 1.0 - h * h


#: name -> (activation, derivative given (pre-activation, activation)).
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (_relu, _relu_grad),
    "tanh": (np.tanh, _tanh_grad),
}


def forward(
    weights: Sequence[np.ndarray], X: np.ndarray, activation: str = "relu"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(A, H)``: pre-activations ``A[k] = A_{k+1}`` and inputs ``H[k] = H_k`` (``H[0] = X``)."""
    act = ACTIVATIONS[activation][0]
    H = [X]
    A = []
    for k, W in enumerate(weights):
        a = H[-1] @ W.T
        A.append(a)
        if k < len(weights) - 1:
            H.append(act(a))
    return A, H


def logits(weights: Sequence[np.ndarray], X: np.ndarray, activation: str = "relu") -> np.ndarray:
    return forward(weights, X, activation)[0][-1]


def cross_entropy(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of logits ``z`` (n x C) and its gradient in ``z``."""
    zmax = z.max(axis=1, keepdims=True)
    e = np.exp(z - zmax)
    s = e.sum(axis=1, keepdims=True)
    lse = np.log(s) + zmax
    n = z.shape[0]
    loss = float(np.mean(lse[:, 0] - z[np.arange(n), y]))
    p = e / s
    p[np.arange(n), y] -= 1.0
    return loss, p / n


def risk(weights: Sequence[np.ndarray], data: Digits, activation: str = "relu") -> float:
    return cross_entropy(logits(weights, data.X, activation), data.y)[0]


def accuracy(weights: Sequence[np.ndarray], data: Digits, activation: str = "relu") -> float:
    return float(np.mean(np.argmax(logits(weights, data.X, activation), axis=1) == data.y))


@dataclass(frozen=True)
class Backprop:
    """One loss evaluation with its exact (backprop) gradients.

    ``abs_products[k] = T_{k+1} = <|W|, |dA|^T |H|>`` of layer k+1 (rounding
    scale of the balancedness identity, module docstring); ``wg[k] = <W, G>``.
    """

    loss: float
    grads: list[np.ndarray]
    wg: np.ndarray
    abs_products: np.ndarray


def loss_and_gradients(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    activation: str = "relu",
    trace: bool = False,
) -> Backprop:
    """Mean cross-entropy on ``(X, y)`` and ``G_k = d loss / d W_k`` by backpropagation.

    With ``trace=True`` also ``T_k`` (one more product per layer), else zeros.
    """
    deriv = ACTIVATIONS[activation][1]
    A, H = forward(weights, X, activation)
    loss, dA = cross_entropy(A[-1], y)
    L = len(weights)
    grads: list[np.ndarray] = [np.empty(0)] * L
    T = np.zeros(L)
    for k in range(L - 1, -1, -1):
        grads[k] = dA.T @ H[k]
        if trace:
            T[k] = float(np.vdot(np.abs(weights[k]), np.abs(dA).T @ np.abs(H[k])))
        if k > 0:
            dA = (dA @ weights[k]) * deriv(A[k - 1], H[k])
    wg = np.array([float(np.vdot(W, G)) for W, G in zip(weights, grads, strict=True)])
    return Backprop(loss, grads, wg, T)


def weight_gradient_products(
    weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray, activation: str = "relu"
) -> tuple[np.ndarray, float]:
    """``(<W_k, G_k> for every k, <dA_L, A_L>)``: all equal for a homogeneous activation."""
    bp = loss_and_gradients(weights, X, y, activation)
    A, _ = forward(weights, X, activation)
    _, dA = cross_entropy(A[-1], y)
    return bp.wg, float(np.vdot(dA, A[-1]))


# --- SGD --------------------------------------------------------------------------------

#: A gradient rule: (weights, X_batch, y_batch, rng) -> Backprop.  The default is the
#: true gradient; the negative controls plant others.
GradientRule = Callable[
    [Sequence[np.ndarray], np.ndarray, np.ndarray, np.random.Generator], Backprop
]


@dataclass
class SGDRun:
    """One minibatch SGD run, recorded for S-FIG2 and for balancedness.

    ``record_steps``/``risk``/``ratios`` are sampled every ``record_every`` steps
    (and at the end); ``fro_sq`` (steps+1, L), ``grad_sq``, ``abs_products`` and
    ``wg`` (steps, L) are recorded at every step.  ``risk`` is the full
    training-set risk.
    """

    widths: tuple[int, ...]
    activation: str
    init: str
    seed: int
    eta: float
    batch: int
    steps: int
    initial: Weights
    final: Weights
    record_steps: np.ndarray
    risk: np.ndarray
    ratios: np.ndarray
    floors: np.ndarray
    fro_sq: np.ndarray
    grad_sq: np.ndarray
    abs_products: np.ndarray
    wg: np.ndarray
    accuracy_end: float = field(default=float("nan"))

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return [W.shape for W in self.initial]


def true_gradient(activation: str = "relu", trace: bool = True) -> GradientRule:
    def rule(weights, Xb, yb, rng):
        return loss_and_gradients(weights, Xb, yb, activation, trace=trace)

    return rule


def train_sgd(
    data: Digits,
    weights0: Sequence[np.ndarray],
    steps: int,
    eta: float,
    batch: int,
    seed: int,
    activation: str = "relu",
    record_every: int = 10,
    gradient: GradientRule | None = None,
    init: str = "",
    trace: bool = True,
) -> SGDRun:
    """Minibatch SGD with a fixed step: epochs of a seeded shuffle, ``W_k -= eta G_k``.

    ``trace=False`` skips ``T_k`` (``abs_products`` stays zero): about 20% faster,
    for runs whose balancedness is not checked.
    """
    rule = gradient if gradient is not None else true_gradient(activation, trace)
    rng = np.random.default_rng(seed)
    W = [np.array(M, dtype=float) for M in weights0]
    L = len(W)
    fro_sq = np.zeros((steps + 1, L))
    grad_sq = np.zeros((steps, L))
    absp = np.zeros((steps, L))
    wg = np.zeros((steps, L))
    fro_sq[0] = [np.vdot(M, M) for M in W]
    rec_steps, rec_risk, rec_ratio = [], [], []

    def record(t: int) -> None:
        rec_steps.append(t)
        rec_risk.append(risk(W, data, activation))
        rec_ratio.append([spectral_ratio(M) for M in W])

    record(0)
    order = np.empty(0, dtype=np.int64)
    pos = 0
    for t in range(steps):
        if pos + batch > order.size:
            order, pos = rng.permutation(data.n), 0
        idx = order[pos : pos + batch]
        pos += batch
        bp = rule(W, data.X[idx], data.y[idx], rng)
        for k in range(L):
            W[k] = W[k] - eta * bp.grads[k]
        grad_sq[t] = [np.vdot(G, G) for G in bp.grads]
        absp[t] = bp.abs_products
        wg[t] = bp.wg
        fro_sq[t + 1] = [np.vdot(M, M) for M in W]
        if (t + 1) % record_every == 0 or t + 1 == steps:
            record(t + 1)
    return SGDRun(
        widths=tuple(int(w) for w in [weights0[0].shape[1], *(M.shape[0] for M in weights0)]),
        activation=activation,
        init=init,
        seed=seed,
        eta=float(eta),
        batch=int(batch),
        steps=int(steps),
        initial=[np.array(M) for M in weights0],
        final=W,
        record_steps=np.array(rec_steps),
        risk=np.array(rec_risk),
        ratios=np.array(rec_ratio),
        floors=np.array([floor_ratio(M) for M in W]),
        fro_sq=fro_sq,
        grad_sq=grad_sq,
        abs_products=absp,
        wg=wg,
        accuracy_end=accuracy(W, data, activation),
    )


# --- the balancedness identity ----------------------------------------------------------


def balance_residuals(run: SGDRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(residual, allowed, drift)``, each (steps+1, L-1): the exact one-step identity.

    ``drift[t, k] = D_k(t) - D_k(0)`` with ``D_k = ||W_{k+1}||_F^2 - ||W_k||_F^2``;
    ``residual = |drift - S_k(t)|`` with ``S_k(t) = sum_{tau < t} eta^2
    (||G_{k+1}(tau)||_F^2 - ||G_k(tau)||_F^2)``.

    ``allowed`` is the rounding bound, summed over the steps (worst case):

    - first-order term: ``2 eta`` times the bound on ``|<W_k, Ĝ_k> -
      <W_{k+1}, Ĝ_{k+1}>|`` of the module docstring;
    - the update ``fl(W - fl(eta G))`` errs entrywise by at most
      ``2u (|W'| + eta |G|)`` (``2u = eps`` absorbs the ``O(u^2)`` terms), which
      moves ``||W'||_F^2`` by at most ``2 eps ||W'|| (||W'|| + eta ||G||)
      <= eps (3 ||W'||^2 + eta^2 ||G||^2)`` per layer;
    - each ``||G||_F^2`` (N entries) errs by ``gamma_N ||G||^2``, and forming
      ``eta^2 ||G||^2`` and adding it to the running sum by ``3 eps`` of the
      term and ``eps`` of the running sum;
    - the final measurement of ``D_k(t)`` and ``D_k(0)``: ``gamma_N`` of each
      squared norm, and ``eps`` of each difference.
    """
    F2, g2, T = run.fro_sq, run.grad_sq, run.abs_products
    eta = run.eta
    shapes = run.shapes
    L = len(shapes)
    steps = run.steps
    D = F2[:, 1:] - F2[:, :-1]
    drift = D - D[0]
    res = np.zeros((steps + 1, L - 1))
    allowed = np.zeros((steps + 1, L - 1))
    for k in range(L - 1):
        (dk, dkm1), (dk1, _) = shapes[k], shapes[k + 1]
        Nk, Nk1 = dk * dkm1, dk1 * dk
        first = (
            2
            * eta
            * (
                (gamma_unit(run.batch) + gamma_unit(dkm1)) * T[:, k]
                + (gamma_unit(run.batch) + gamma_unit(dk1)) * T[:, k + 1]
            )
        )
        terms = eta**2 * (g2[:, k + 1] - g2[:, k])
        S = np.concatenate([[0.0], np.cumsum(terms)])
        update = EPS * (3 * (F2[1:, k] + F2[1:, k + 1]) + eta**2 * (g2[:, k] + g2[:, k + 1]))
        sums = (gamma_unit(Nk) + 3 * EPS) * eta**2 * g2[:, k] + (
            gamma_unit(Nk1) + 3 * EPS
        ) * eta**2 * g2[:, k + 1]
        per_step = first + update + sums + EPS * np.abs(S[1:])
        acc = np.concatenate([[0.0], np.cumsum(per_step)])
        acc *= 1 + (np.arange(steps + 1) + 1) * EPS  # the cumulative sum of the bound itself
        measure = (
            gamma_unit(Nk) * (F2[:, k] + F2[0, k])
            + gamma_unit(Nk1) * (F2[:, k + 1] + F2[0, k + 1])
            + EPS * (np.abs(D[:, k]) + abs(D[0, k]) + np.abs(drift[:, k]))
        )
        res[:, k] = np.abs(drift[:, k] - S)
        allowed[:, k] = acc + measure
    return res, allowed, drift


def relative_drift(run: SGDRun) -> np.ndarray:
    """Per pair: ``|D_k(T) - D_k(0)| / (||W_k(T)||_F^2 + ||W_{k+1}(T)||_F^2)``."""
    F2 = run.fro_sq
    D = F2[:, 1:] - F2[:, :-1]
    return np.abs(D[-1] - D[0]) / (F2[-1, 1:] + F2[-1, :-1])


def relative_growth(run: SGDRun) -> np.ndarray:
    """Per layer: ``|(||W_k(T)||_F^2 - ||W_k(0)||_F^2)| / ||W_k(T)||_F^2`` (how far norms moved)."""
    F2 = run.fro_sq
    return np.abs(F2[-1] - F2[0]) / F2[-1]


# --- finite differences -----------------------------------------------------------------


def directional_logit_slopes(
    weights: Sequence[np.ndarray], X: np.ndarray, k: int, i: int, j: int
) -> np.ndarray:
    """``b = d logits / d W_k[i, j]`` (n x C) by forward-mode differentiation (ReLU).

    Inside one activation pattern the logits are linear in a single weight, so
    ``logits(w + t) = logits(w) + t b`` exactly there.
    """
    A, H = forward(weights, X, "relu")
    dA = np.zeros_like(A[k])
    dA[:, i] = H[k][:, j]
    for m in range(k + 1, len(weights)):
        dA = (dA * (A[m - 1] > 0)) @ weights[m].T
    return dA


def activation_pattern(weights: Sequence[np.ndarray], X: np.ndarray) -> list[np.ndarray]:
    A, _ = forward(weights, X, "relu")
    return [a > 0 for a in A[:-1]]


def forward_abs_bound(weights: Sequence[np.ndarray], X: np.ndarray) -> float:
    """Bound on the rounding error of any computed logit (ReLU network).

    ``Â_k = fl(Ĥ_{k-1} W_k^T)`` errs by ``gamma_{d_{k-1}} |Ĥ_{k-1}| |W_k|^T``
    and ReLU is 1-Lipschitz, so the error of the logits is at most
    ``sum_k gamma_{d_{k-1}}`` times the largest entry of the absolute network
    ``|X| |W_1|^T ... |W_L|^T`` (which dominates every ``|Ĥ| |W|^T`` chain).
    """
    P = np.abs(X)
    for W in weights:
        P = P @ np.abs(W).T
    g = sum(gamma_unit(W.shape[1]) for W in weights)
    return float(g * np.max(P))


def cross_entropy_rounding(z: np.ndarray, loss: float) -> float:
    """Bound on the rounding error of :func:`cross_entropy`'s loss, given exact logits ``z``.

    Per sample: ``z - zmax`` and ``exp`` err relatively by ``eps`` each, the sum
    of C terms by ``gamma_C``, ``log`` by ``eps`` relative plus the propagated
    relative error of the sum (an absolute error in ``lse``), the additions by
    ``eps`` of their size; the mean of n terms by ``gamma_n``.  All of these
    are at most ``(n + C + 8) eps (max|z| + |loss| + 1)``.
    """
    n, C = z.shape
    return (n + C + 8) * EPS * (float(np.max(np.abs(z))) + abs(loss) + 1.0)


def gradient_error_bound(
    weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray
) -> list[np.ndarray]:
    """First-order bound on ``|Ĝ_k - G_k|`` entrywise for the ReLU network (exact masks).

    Forward: ``|Ĥ_k - H_k| <= F_k`` with ``F_0 = 0`` and
    ``F_k = gamma_{d_{k-1}} |Ĥ_{k-1}| |W_k|^T + F_{k-1} |W_k|^T`` (ReLU is
    1-Lipschitz).  The logits' error ``F_L`` moves ``dA_L = (softmax - onehot)/n``
    by at most ``(max F_L / 2 + (C + 4) eps) / n`` entrywise (the softmax
    Jacobian has infinity-norm <= 1/2).  Backward: ``E_k = (E_{k+1} |W_{k+1}| +
    gamma_{d_{k+1}} |dÂ_{k+1}| |W_{k+1}|) * mask_k``.  Then
    ``|Ĝ_k - G_k| <= E_k^T |Ĥ_{k-1}| + |dÂ_k|^T F_{k-1} + gamma_B |dÂ_k|^T |Ĥ_{k-1}|``.
    The result is doubled to cover the ``O(u^2)`` terms.
    """
    A, H = forward(weights, X, "relu")
    _, dAL = cross_entropy(A[-1], y)
    L = len(weights)
    n, C = A[-1].shape
    F = [np.zeros_like(X)]
    for k in range(L):
        W = np.abs(weights[k])
        F.append(gamma_unit(W.shape[1]) * (np.abs(H[k]) @ W.T) + F[k] @ W.T)
    E = np.full_like(dAL, (float(np.max(F[L])) / 2 + (C + 4) * EPS) / n)
    dA = dAL
    out: list[np.ndarray] = [np.empty(0)] * L
    for k in range(L - 1, -1, -1):
        out[k] = 2 * (
            E.T @ np.abs(H[k]) + np.abs(dA).T @ F[k] + gamma_unit(n) * (np.abs(dA).T @ np.abs(H[k]))
        )
        if k > 0:
            W = np.abs(weights[k])
            mask = A[k - 1] > 0
            E = (E @ W + gamma_unit(W.shape[0]) * (np.abs(dA) @ W)) * mask
            dA = (dA @ weights[k]) * mask
    return out
