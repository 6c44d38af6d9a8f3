"""Competition between two deep linear pathways (the follow-up paper).

Two pathways a and b, each a product of ``depth`` linear layers, add
their outputs: y_hat = Omega_a x_a + Omega_b x_b. For tasks whose second
moments are diagonal in a shared basis, learning decouples into modes:
pathway p carries a *pathway singular value* K_p per mode. With balanced
layers (each layer has value k, K = k^depth) gradient flow reads

    dk_p/dt = k_p^(depth - 1) * E_p,    E = c - C K,

with C = E[x x^T] and c = E[y x] of the mode (2 x 2 and 2). A deficit
*gates* pathway b during [onset, onset + length): its output still enters
y_hat but receives no gradient (frozen). ``shared_input_task`` is the
follow-up's setting (both pathways read the same x; every split K_a + K_b
= sigma is optimal); ``noisy_sources_task`` gives each pathway its own
noisy copy of the source, so the best solution uses both and is unique.
Time t is gradient-flow time: steps x learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cpkit.config import (
    check_float,
    check_int,
    check_window,
    resolve_device,
)
from cpkit.errors import ConfigError


@dataclass(frozen=True)
class PathwayTask:
    """Second moments of one two-pathway regression, mode by mode."""

    cov_in: np.ndarray  # (modes, 2, 2): E[x_p x_q] of each mode
    cov_out: np.ndarray  # (modes, 2): E[y x_p] of each mode
    var_out: np.ndarray  # (modes,): E[y^2] of each mode

    @property
    def n_modes(self) -> int:
        """Number of decoupled modes."""
        return len(self.var_out)

    def loss(self, k: np.ndarray) -> np.ndarray:
        """Loss 1/2 E(y - y_hat)^2 summed over modes; k: (..., modes, 2)."""
        ck = np.einsum("mpq,...mq->...mp", self.cov_in, k)
        per_mode = 0.5 * (
            self.var_out
            - 2 * np.einsum("mp,...mp->...m", self.cov_out, k)
            + np.einsum("...mp,...mp->...m", k, ck)
        )
        return per_mode.sum(axis=-1)

    def optimal_loss(self) -> float:
        """Smallest reachable loss (least squares, pseudo-inverse)."""
        best = 0.0
        for c_in, c_out, v in zip(
            self.cov_in, self.cov_out, self.var_out, strict=True
        ):
            k = np.linalg.pinv(c_in) @ c_out
            best += 0.5 * (v - c_out @ k)
        return float(best)


def shared_input_task(singular_values: tuple[float, ...]) -> PathwayTask:
    """Both pathways read the same whitened input; mode targets sigma."""
    s = np.asarray(singular_values, dtype=float)
    if s.ndim != 1 or len(s) == 0 or np.any(s <= 0):
        raise ConfigError(
            f"singular_values = {singular_values!r} must be positive"
        )
    cov_in = np.ones((len(s), 2, 2))
    cov_out = np.stack([s, s], axis=1)
    return PathwayTask(cov_in, cov_out, s**2)


def noisy_sources_task(
    signal_var: tuple[float, ...], noise_a: float, noise_b: float
) -> PathwayTask:
    """x_a = s + n_a, x_b = s + n_b, y = s, per mode (independent noise)."""
    v = np.asarray(signal_var, dtype=float)
    if v.ndim != 1 or len(v) == 0 or np.any(v <= 0):
        raise ConfigError(f"signal_var = {signal_var!r} must be positive")
    check_float("noise_a", noise_a, minimum=0.0, strict=True)
    check_float("noise_b", noise_b, minimum=0.0, strict=True)
    cov_in = np.empty((len(v), 2, 2))
    cov_in[:, 0, 0] = v + noise_a
    cov_in[:, 1, 1] = v + noise_b
    cov_in[:, 0, 1] = cov_in[:, 1, 0] = v
    cov_out = np.stack([v, v], axis=1)
    return PathwayTask(cov_in, cov_out, v.copy())


@dataclass(frozen=True)
class PathwayRun:
    """One schedule of a two-pathway deep linear network."""

    depth: int = 4  # layers per pathway (1 = shallow)
    init_scale: float = 1e-3  # initial pathway singular value K of each mode
    total_time: float = 60.0  # gradient-flow time t = steps x lr
    dt: float = 0.01  # learning rate = time per gradient step
    deficit_onset: float = 0.0  # start of the gate on pathway b (time)
    deficit_length: float = 0.0  # its length (time); 0 = no deficit

    def __post_init__(self) -> None:
        check_int("depth", self.depth, minimum=1)
        check_float("init_scale", self.init_scale, minimum=0.0, strict=True)
        check_float("total_time", self.total_time, minimum=0.0, strict=True)
        check_float("dt", self.dt, minimum=0.0, strict=True)
        if self.dt > self.total_time:
            raise ConfigError(
                f"dt = {self.dt:g} is longer than total_time = "
                f"{self.total_time:g}"
            )
        check_window(
            self.deficit_onset,
            self.deficit_length,
            self.total_time,
            "time units",
        )

    @property
    def steps(self) -> int:
        """Number of gradient steps."""
        return int(round(self.total_time / self.dt))

    def gated(self, t: float) -> bool:
        """Whether pathway b is gated at time t."""
        end = self.deficit_onset + self.deficit_length
        return self.deficit_length > 0 and self.deficit_onset <= t < end


def _velocity(
    task: PathwayTask, k_layer: np.ndarray, depth: int, gate_b: np.ndarray
) -> np.ndarray:
    """dk/dt of the balanced layer values; k_layer: (..., modes, 2).

    ``gate_b`` is a boolean broadcastable to k_layer's batch shape.
    """
    big_k = k_layer**depth
    error = task.cov_out - np.einsum("mpq,...mq->...mp", task.cov_in, big_k)
    vel = k_layer ** (depth - 1) * error
    vel[..., 1] = np.where(gate_b, 0.0, vel[..., 1])
    return vel


def simulate_ode(
    task: PathwayTask,
    run: PathwayRun,
    k0: np.ndarray | None = None,
    record_every: int = 10,
    windows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate the mode ODE (RK4, step ``run.dt``).

    ``k0``: initial pathway singular values (..., modes, 2), positive;
    default ``run.init_scale`` for every mode and pathway. ``windows``:
    optional (batch, 2) array of [onset, length] gates on pathway b, one
    per trajectory, replacing ``run``'s window; k0 then gets a leading
    batch axis (broadcast if needed). Returns times (T,) and K(t)
    (T, ..., modes, 2), recorded every ``record_every`` steps and at the
    end.
    """
    if k0 is None:
        k0 = np.full((task.n_modes, 2), run.init_scale)
    k0 = np.asarray(k0, dtype=float)
    if k0.shape[-2:] != (task.n_modes, 2) or np.any(k0 <= 0):
        raise ConfigError(
            f"k0 must be positive with shape (..., {task.n_modes}, 2)"
        )
    if windows is not None:
        windows = np.asarray(windows, dtype=float)
        if windows.ndim != 2 or windows.shape[1] != 2:
            raise ConfigError("windows must have shape (batch, 2)")
        for onset, length in windows:
            check_window(onset, length, run.total_time, "time")
        k0 = np.broadcast_to(k0, (len(windows), *k0.shape[-2:])).copy()
        start = windows[:, 0, None]  # (batch, 1): broadcast over modes
        end = start + windows[:, 1, None]
        has_gate = windows[:, 1, None] > 0

    def gate_at(t: float) -> np.ndarray:
        if windows is None:
            return np.asarray(run.gated(t))
        return has_gate & (start <= t) & (t < end)

    layer = k0 ** (1.0 / run.depth)
    times, values = [0.0], [k0.copy()]
    h = run.dt
    # overflow is caught below as a one-line error, not as warnings
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(run.steps):
            gate = gate_at(step * h)

            # one Runge-Kutta step; the gate is held over the step
            v1 = _velocity(task, layer, run.depth, gate)
            v2 = _velocity(task, layer + 0.5 * h * v1, run.depth, gate)
            v3 = _velocity(task, layer + 0.5 * h * v2, run.depth, gate)
            v4 = _velocity(task, layer + h * v3, run.depth, gate)
            layer = layer + h / 6 * (v1 + 2 * v2 + 2 * v3 + v4)
            if not np.all(np.isfinite(layer)):
                raise ConfigError(
                    f"the ODE diverged at t = {(step + 1) * h:g} (init_scale "
                    f"= {run.init_scale:g}, dt = {run.dt:g}): lower dt or the "
                    "initial values"
                )
            if (step + 1) % record_every == 0 or step + 1 == run.steps:
                times.append((step + 1) * h)
                values.append(layer**run.depth)
    return np.array(times), np.stack(values)


def escape_time(depth: int, k_start: float, residual: float) -> float:
    """Time for a pathway to grow from K = k_start under constant error.

    From dk/dt = k^(D-1) r with k = K^(1/D): for D >= 3 the layer value
    blows up at t = K^(-(D-2)/D) / ((D - 2) r); for D = 2, K = k_start
    e^(2 r t) reaches 1 at ln(1/k_start) / (2 r); for D = 1 the growth
    rate does not depend on K, so there is no plateau and the result is 0.
    The error is not constant in reality (it falls as K grows), so this is
    the time scale of the plateau, not of convergence.
    """
    check_int("depth", depth, minimum=1)
    check_float("k_start", k_start, minimum=0.0, strict=True)
    check_float("residual", residual, minimum=0.0, strict=True)
    if k_start >= 1:
        raise ConfigError(f"k_start = {k_start:g} is no plateau (>= 1)")
    if depth == 1:
        return 0.0  # a shallow pathway has no plateau to leave
    if depth == 2:
        return np.log(1.0 / k_start) / (2.0 * residual)
    return k_start ** (-(depth - 2) / depth) / ((depth - 2) * residual)


class TwoPathwayLinearNet(torch.nn.Module):
    """Two pathways of ``depth`` square linear layers; outputs are added."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.depth = depth
        self.pathway_a = torch.nn.ModuleList(
            torch.nn.Linear(width, width, bias=False) for _ in range(depth)
        )
        self.pathway_b = torch.nn.ModuleList(
            torch.nn.Linear(width, width, bias=False) for _ in range(depth)
        )

    @staticmethod
    def end_to_end(layers: torch.nn.ModuleList) -> torch.Tensor:
        """Product of a pathway's layers, last layer on the left."""
        w = layers[0].weight
        for layer in layers[1:]:
            w = layer.weight @ w
        return w

    def maps(self, gate_b: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(Omega_a, Omega_b); a gated Omega_b is cut from the graph."""
        omega_b = self.end_to_end(self.pathway_b)
        if gate_b:
            omega_b = omega_b.detach()
        return self.end_to_end(self.pathway_a), omega_b

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor, gate_b: bool = False
    ) -> torch.Tensor:
        """y_hat for x_a, x_b: (batch, width)."""
        omega_a, omega_b = self.maps(gate_b)
        return x_a @ omega_a.T + x_b @ omega_b.T


def _aligned_init(
    net: TwoPathwayLinearNet, k0: np.ndarray, gen: np.random.Generator
) -> None:
    """Balanced layers with random rotations between them.

    Layer l of pathway p is R_l diag(k0_p^(1/D)) R_{l-1}^T with random
    orthogonal R (R_0 = R_D = I), so Omega_p = diag(k0_p) exactly while
    no single layer is diagonal.
    """
    width, depth = k0.shape[0], net.depth
    for p, layers in enumerate((net.pathway_a, net.pathway_b)):
        diag = np.diag(k0[:, p] ** (1.0 / depth))
        frames = [np.eye(width)]
        for _ in range(depth - 1):
            q, _ = np.linalg.qr(gen.standard_normal((width, width)))
            frames.append(q)
        frames.append(np.eye(width))
        for i, layer in enumerate(layers):
            w = frames[i + 1] @ diag @ frames[i].T
            layer.weight.data = torch.tensor(w, dtype=layer.weight.dtype)


def train_gradient_descent(
    task: PathwayTask,
    run: PathwayRun,
    seed: int = 0,
    record_every: int = 10,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train a real two-pathway network by full-batch gradient descent.

    The loss is the population loss 1/2 E||y - y_hat||^2 written with the
    task's second moments (one coordinate per mode), in float64, SGD with
    learning rate ``run.dt``. Returns times (T,), the diagonal pathway
    singular values K (T, modes, 2) and the largest off-diagonal entry of
    Omega_a, Omega_b (T,), which stays 0 only if the modes stay decoupled.
    """
    if isinstance(device, str):
        device = resolve_device(device)
    torch.manual_seed(seed)
    gen = np.random.default_rng(seed)
    m = task.n_modes
    net = TwoPathwayLinearNet(m, run.depth).double()
    _aligned_init(net, np.full((m, 2), run.init_scale), gen)
    net.to(device)

    # block moments: x = [x_a; x_b], Sxx (2m, 2m), Syx (m, 2m)
    sxx = np.zeros((2 * m, 2 * m))
    for p in range(2):
        for q in range(2):
            sxx[p * m : (p + 1) * m, q * m : (q + 1) * m] = np.diag(
                task.cov_in[:, p, q]
            )
    syx = np.concatenate(
        [np.diag(task.cov_out[:, 0]), np.diag(task.cov_out[:, 1])], axis=1
    )
    sxx_t = torch.tensor(sxx, device=device)
    syx_t = torch.tensor(syx, device=device)
    var_y = float(task.var_out.sum())
    opt = torch.optim.SGD(net.parameters(), lr=run.dt)

    times, ks, leaks = [], [], []

    def record(step: int) -> None:
        omega_a, omega_b = net.maps()
        both = torch.stack([omega_a, omega_b]).detach()
        diag = torch.diagonal(both, dim1=1, dim2=2).T.cpu().numpy()
        off = both - torch.diag_embed(torch.diagonal(both, dim1=1, dim2=2))
        times.append(step * run.dt)
        ks.append(diag)
        leaks.append(float(off.abs().max()))

    record(0)
    for step in range(run.steps):
        gate = run.gated(step * run.dt)

        # population loss of y_hat = [Omega_a, Omega_b] x
        omega = torch.cat(net.maps(gate_b=gate), dim=1)
        loss = 0.5 * (
            var_y
            - 2 * torch.trace(omega @ syx_t.T)
            + torch.trace(omega @ sxx_t @ omega.T)
        )

        # one gradient step
        if not torch.isfinite(loss):
            raise ConfigError(
                f"gradient descent diverged at step {step} (init_scale = "
                f"{run.init_scale:g}, lr = {run.dt:g}): lower either"
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % record_every == 0 or step + 1 == run.steps:
            record(step + 1)
    return np.array(times), np.stack(ks), np.array(leaks)


def final_split(k_final: np.ndarray) -> np.ndarray:
    """Share of pathway b per mode, K_b / (K_a + K_b); k_final: (..., 2)."""
    return k_final[..., 1] / k_final.sum(axis=-1)


def random_initial_values(
    n_traces: int, n_modes: int, init_scale: float, spread: float, seed: int
) -> np.ndarray:
    """Log-normal initial K around ``init_scale``: (n_traces, modes, 2)."""
    check_int("n_traces", n_traces, minimum=1)
    check_int("n_modes", n_modes, minimum=1)
    check_float("init_scale", init_scale, minimum=0.0, strict=True)
    check_float("spread", spread, minimum=0.0)
    check_int("seed", seed, minimum=0)
    gen = np.random.default_rng(seed)
    noise = gen.standard_normal((n_traces, n_modes, 2))
    return init_scale * np.exp(spread * noise)
