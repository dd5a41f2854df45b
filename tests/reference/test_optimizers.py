"""The reference's optimizers against closed forms: the first steps of each rule on the quadratic
C(θ) = ½θ², whose gradient is g = θ, worked by hand in each test's comments (no finite differences,
no other implementation). Parameters are one "layer" (W, b) = ([θ_W], [θ_b]) stepped by
reference.step with the gradient (θ_W, θ_b), so one test checks both arrays of a layer.

Tolerance 1e-15 relative: each closed form is a handful of float64 operations on numbers of order 1,
a few ulps apart at most from the rule's own order of operations.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

import reference
from conformance import CATALOGUE, Optimizer, Spec, make_problem
from reference.validation import check_optimizer

TOL = 1e-15


def run(optimizer, theta0, rates):
    """θ_t for t = 1..len(rates) under C = ½θ² (g = θ), for θ_W = theta0 and θ_b = −theta0."""
    hyper = check_optimizer(optimizer)
    params = [(np.array([theta0]), np.array([-theta0]))]
    state = reference.init_state(hyper, params)
    thetas = []
    for lr in rates:
        params, state = reference.step(hyper, params, params, state, lr)  # g = θ
        thetas.append((float(params[0][0][0]), float(params[0][1][0])))
    return thetas, state


def close(got, want):
    assert math.isclose(got, want, rel_tol=TOL, abs_tol=1e-300), f"{got!r} != {want!r}"


def test_sgd():
    # θ1 = θ0 − ηθ0 = 1 − 0.1 = 0.9; θ2 = 0.9 − 0.1·0.9 = 0.81
    (t1, t2), _ = run(Optimizer("sgd"), 1.0, [0.1, 0.1])
    close(t1[0], 0.9), close(t2[0], 0.81), close(t2[1], -0.81)


@pytest.mark.parametrize("form", ["buffer", "velocity"])
def test_momentum_forms_agree_at_a_constant_rate(form):
    # buffer: b1 = g = 1, θ1 = 1 − 0.1 = 0.9; b2 = 0.9·1 + 0.9 = 1.8, θ2 = 0.9 − 0.18 = 0.72
    # velocity: v1 = −0.1, θ1 = 0.9; v2 = 0.9·(−0.1) − 0.1·0.9 = −0.18, θ2 = 0.72
    (t1, t2), state = run(Optimizer("momentum", momentum=0.9, momentum_form=form), 1.0, [0.1, 0.1])
    close(t1[0], 0.9), close(t2[0], 0.72)
    assert set(state) == {"t", "b" if form == "buffer" else "v"} and state["t"] == 2


def test_momentum_forms_part_when_the_rate_drops():
    # η: 0.1 then 0.01. buffer: b2 = 1.8, θ2 = 0.9 − 0.01·1.8 = 0.882.
    # velocity: v2 = 0.9·(−0.1) − 0.01·0.9 = −0.099, θ2 = 0.9 − 0.099 = 0.801: η baked into v.
    (_, buffer), _ = run(Optimizer("momentum", momentum=0.9), 1.0, [0.1, 0.01])
    (_, velocity), _ = run(Optimizer("momentum", momentum=0.9, momentum_form="velocity"), 1.0, [0.1, 0.01])
    close(buffer[0], 0.882), close(velocity[0], 0.801)


def test_nesterov():
    # buffer: b1 = 1, Δ1 = −η(g + μb1) = −0.1·1.9, θ1 = 0.81;
    #         g2 = 0.81, b2 = 0.9 + 0.81 = 1.71, Δ2 = −0.1·(0.81 + 0.9·1.71) = −0.2349, θ2 = 0.5751
    # velocity: v1 = −0.1, Δ1 = μv1 − ηg = −0.09 − 0.1 = −0.19, θ1 = 0.81 (the same look-ahead);
    #         v2 = −0.09 − 0.081 = −0.171, Δ2 = 0.9·(−0.171) − 0.081 = −0.2349, θ2 = 0.5751
    for form in ("buffer", "velocity"):
        (t1, t2), _ = run(Optimizer("nesterov", momentum=0.9, momentum_form=form), 1.0, [0.1, 0.1])
        close(t1[0], 0.81), close(t2[0], 0.5751)


@pytest.mark.parametrize(("rho", "eps_in_sqrt"), [(0.99, False), (0.9, True)])
def test_rmsprop_first_step(rho, eps_in_sqrt):
    # s1 = (1 − ρ)g²; g/(√s1 + ε) = 1/(√(1−ρ) + ε) for g = 1: 1/(0.1 + ε) ≈ 10 at ρ = 0.99 (torch's
    # default), 1/√(0.1 + ε) ≈ 3.16 at ρ = 0.9 with ε inside (Optax's): the defaults' 10η vs 3.16η.
    eps = 1e-8
    (t1,), state = run(Optimizer("rmsprop", rho=rho, eps=eps, eps_in_sqrt=eps_in_sqrt), 1.0, [0.01])
    d = 1 / math.sqrt(1 - rho + eps) if eps_in_sqrt else 1 / (math.sqrt(1 - rho) + eps)
    close(t1[0], 1 - 0.01 * d), close(t1[1], -1 + 0.01 * d)
    close(float(state["s"][0][0][0]), 1 - rho)


def test_rmsprop_with_momentum_forms():
    # d1 = 1/(√0.1 + ε) =: d; buffer b1 = d, θ1 = 1 − ηd; velocity v1 = −ηd, θ1 the same.
    eps, lr = 1e-8, 0.01
    d = 1 / (math.sqrt(0.1) + eps)
    for form in ("buffer", "velocity"):
        optimizer = Optimizer("rmsprop", rho=0.9, eps=eps, momentum=0.5, momentum_form=form)
        (t1,), state = run(optimizer, 1.0, [lr])
        close(t1[0], 1 - lr * d)
        assert set(state) == {"t", "s", "b" if form == "buffer" else "v"}


def test_adam_first_two_steps():
    # t = 1: m = 0.1g, v = 0.001g², m̂ = g, v̂ = g²: Δ = −η g/(|g| + ε) = −η/(1 + ε) at g = 1.
    # t = 2: g = θ1; m = 0.9·0.1 + 0.1θ1, v = 0.999·0.001 + 0.001θ1²; m̂ = m/(1 − 0.81), v̂ = v/(1 − 0.998001)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.1
    (t1, t2), state = run(Optimizer("adam", beta1=b1, beta2=b2, eps=eps), 1.0, [lr, lr])
    theta1 = 1 - lr / (1 + eps)
    close(t1[0], theta1)
    m = b1 * (1 - b1) + (1 - b1) * theta1
    v = b2 * (1 - b2) + (1 - b2) * theta1**2
    close(t2[0], theta1 - lr * (m / (1 - b1**2)) / (math.sqrt(v / (1 - b2**2)) + eps))
    assert state["t"] == 2 and set(state) == {"t", "m", "v"}
    close(float(state["m"][0][0][0]), m)


def test_adam_eps_hat_is_epsilon_scaled_by_the_bias_correction():
    # ε̂ form, t = 1: Δ = −η √(1−β₂)/(1−β₁) · m/(√v + ε̂) = −η g/(|g| + ε̂/√(1−β₂)): the effective ε
    # of Algorithm 1 is ε̂/√(1−β₂) = 31.6 ε̂ at β₂ = 0.999 (316× torch's 1e-8 for Keras' ε̂ = 1e-7).
    b1, b2, eps, lr, g = 0.9, 0.999, 1e-3, 0.1, 1e-3  # ε comparable to g, so the form shows
    (t1,), _ = run(Optimizer("adam", beta1=b1, beta2=b2, eps=eps, eps_hat=True), g, [lr])
    close(t1[0], g - lr * g / (g + eps / math.sqrt(1 - b2)))
    (plain,), _ = run(Optimizer("adam", beta1=b1, beta2=b2, eps=eps), g, [lr])
    close(plain[0], g - lr * g / (g + eps))


def test_adamw_decays_weights_not_biases():
    # t = 1: Δ_W = −η/(1 + ε) − ηλ_d θ_W; the bias only gets Adam's step: Δ_b = +η/(1 + ε).
    lr, lam, eps = 0.1, 0.5, 1e-8
    (t1,), _ = run(Optimizer("adamw", beta1=0.9, beta2=0.999, eps=eps, decoupled_decay=lam), 1.0, [lr])
    close(t1[0], 1 - lr / (1 + eps) - lr * lam * 1.0)
    close(t1[1], -1 + lr / (1 + eps))


@pytest.mark.parametrize(
    ("eps_in_sqrt", "initial", "want"),
    [
        (False, 0.0, 1 - 0.1 / (1 + 1e-10)),  # torch: s1 = 0 + 1, Δ = −η/(1 + ε)
        (True, 0.1, 1 - 0.1 / math.sqrt(0.1 + 1 + 1e-7)),  # Optax: s1 = 0.1 + 1, Δ = −η/√(s1 + ε)
    ],
)
def test_adagrad_first_step(eps_in_sqrt, initial, want):
    eps = 1e-7 if eps_in_sqrt else 1e-10
    optimizer = Optimizer("adagrad", eps=eps, eps_in_sqrt=eps_in_sqrt, initial_accumulator=initial)
    (t1,), state = run(optimizer, 1.0, [0.1])
    close(t1[0], want)
    close(float(state["s"][0][0][0]), initial + 1)


def test_clip_norm_over_every_parameter_together():
    # g = (θ_W, θ_b) = (3, −4): ‖g‖ = 5 > c = 1, so g ← g/5 = (0.6, −0.8); SGD η = 1: θ1 = (2.4, −3.2).
    (t1,), _ = run(Optimizer("sgd", clip_norm=1.0), 3.0, [1.0])  # θ_b = −3: ‖g‖ = 3√2
    scale = 1 / (3 * math.sqrt(2))
    close(t1[0], 3 - 3 * scale), close(t1[1], -3 + 3 * scale)
    grads = reference.optimizers.clip([(np.array([3.0]), np.array([-4.0]))], None, 1.0, 0.0)
    close(float(grads[0][0][0]), 0.6), close(float(grads[0][1][0]), -0.8)
    # torch's clip_eps = 1e-6: g · c/(‖g‖ + 1e-6)
    eps_grads = reference.optimizers.clip([(np.array([3.0]), np.array([-4.0]))], None, 1.0, 1e-6)
    close(float(eps_grads[0][0][0]), 3 / (5 + 1e-6))


def test_clip_norm_below_the_threshold_leaves_g_exactly():
    g = [(np.array([0.3]), np.array([-0.4]))]  # ‖g‖ = 0.5 < 1
    ((dW, db),) = reference.optimizers.clip(g, None, 1.0, 0.0)
    assert dW[0] == 0.3 and db[0] == -0.4


def test_clip_value_elementwise():
    # g = (3, −3) clipped to [−0.5, 0.5]: SGD η = 1 gives θ1 = (2.5, −2.5)
    (t1,), _ = run(Optimizer("sgd", clip_value=0.5), 3.0, [1.0])
    assert t1 == (2.5, -2.5)


SPEC = Spec((3, 4, 2), "tanh", "sigmoid", "quadratic", 0.1)


def test_sgd_optimizer_is_plain_sgd_bit_for_bit():
    """Optimizer("sgd") at a constant rate is exactly the plain-SGD path (θ + (−ηg) = θ − ηg in IEEE)."""
    p = make_problem(SPEC, 7)
    plain = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches)
    sgd = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=Optimizer("sgd"))
    assert plain.losses == sgd.losses and plain.state is None and sgd.state == {"t": len(p.batches)}
    for (W, b), (W2, b2) in zip(plain.params, sgd.params):
        assert np.array_equal(W, W2) and np.array_equal(b, b2)


def test_a_schedule_is_one_rate_per_step():
    """lr = (η_1, ..., η_T) steps with η_t: the same as plain SGD calls chained one batch at a time."""
    p = make_problem(SPEC, 8, lr_drops=((4, 0.5),))
    run_ = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer)
    params = p.params
    for idx, lr in zip(p.batches, p.lr):
        params = reference.train(p.spec, params, p.x, p.y, lr=lr, batches=[idx]).params
    for (W, b), (W2, b2) in zip(run_.params, params):
        np.testing.assert_array_equal(W, W2), np.testing.assert_array_equal(b, b2)


def test_state_is_fresh_at_every_call_and_inputs_untouched():
    p = CATALOGUE["opt-adam-decay"]
    before = [(W.copy(), b.copy()) for W, b in p.params]
    one, two = (
        reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer)
        for _ in range(2)
    )
    assert one.losses == two.losses and one.state["t"] == two.state["t"] == len(p.batches)
    assert all(np.array_equal(W, W0) and np.array_equal(b, b0) for (W, b), (W0, b0) in zip(p.params, before))


def test_the_state_is_shaped_like_the_parameters():
    p = CATALOGUE["opt-conv-adam-clip-norm"]
    t = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer)
    for key in ("m", "v"):
        assert [(a.shape, c.shape) for a, c in t.state[key]] == [(W.shape, b.shape) for W, b in p.params]


def test_a_duck_typed_optimizer_takes_the_defaults():
    """Any object with a name: the attributes it leaves out are the contract's defaults."""
    p = CATALOGUE["opt-adam-decay"]
    mine = SimpleNamespace(name="adam")
    a = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=mine)
    b = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=Optimizer("adam"))
    assert a.losses == b.losses


@pytest.mark.parametrize(
    ("optimizer", "error", "message"),
    [
        (SimpleNamespace(name="adamax"), ValueError, "optimizer.name: unknown optimizer 'adamax'"),
        (SimpleNamespace(nom="adam"), TypeError, "optimizer: expected an object with a name"),
        (SimpleNamespace(name="adam", beta1=1.0), ValueError, "optimizer.beta1: expected a finite real"),
        (SimpleNamespace(name="adam", beta2=-0.1), ValueError, "optimizer.beta2"),
        (SimpleNamespace(name="adam", eps=0.0), ValueError, "optimizer.eps"),
        (SimpleNamespace(name="adam", eps=math.nan), ValueError, "optimizer.eps"),
        (SimpleNamespace(name="rmsprop", rho=1.5), ValueError, "optimizer.rho"),
        (
            SimpleNamespace(name="momentum"),
            ValueError,
            "optimizer.momentum: expected a finite real number in (0",
        ),
        (
            SimpleNamespace(name="momentum", momentum=0.9, momentum_form="nesterov"),
            ValueError,
            "optimizer.momentum_form",
        ),
        (SimpleNamespace(name="sgd", beta1=0.5), ValueError, "optimizer.beta1: sgd does not use it"),
        (
            SimpleNamespace(name="adam", decoupled_decay=0.1),
            ValueError,
            "optimizer.decoupled_decay: adam does not",
        ),
        (SimpleNamespace(name="adamw", decoupled_decay=-1.0), ValueError, "optimizer.decoupled_decay"),
        (SimpleNamespace(name="sgd", clip_norm=0.0), ValueError, "optimizer.clip_norm"),
        (SimpleNamespace(name="sgd", clip_value=-1.0), ValueError, "optimizer.clip_value"),
        (SimpleNamespace(name="sgd", clip_value=math.inf), ValueError, "optimizer.clip_value"),
        (SimpleNamespace(name="sgd", clip_value=1.0, clip_norm=1.0), ValueError, "optimizer.clip_norm: set"),
        (SimpleNamespace(name="sgd", clip_eps=1e-6), ValueError, "optimizer.clip_eps: only clip_norm"),
        (SimpleNamespace(name="adam", eps_hat=1), TypeError, "optimizer.eps_hat: expected True or False"),
        (
            SimpleNamespace(name="adagrad", initial_accumulator=-0.1),
            ValueError,
            "optimizer.initial_accumulator",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_optimizer(optimizer, error, message):
    p = make_problem(SPEC, 9)
    with pytest.raises(error, match=None) as info:
        reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=optimizer)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize(
    ("lr", "error", "message"),
    [
        ((0.1,) * 3, ValueError, "lr: expected one learning rate per step"),
        ("0.1", TypeError, "lr: expected a float or a sequence"),
        (None, TypeError, "lr: expected a float or a sequence"),
        (lambda n: [0.1] * (n - 1) + [0.0], ValueError, "lr["),
        (lambda n: [0.1] * (n - 1) + [math.inf], ValueError, "lr["),
        (lambda n: [-0.1] + [0.1] * (n - 1), ValueError, "lr[0]: expected a finite learning rate > 0"),
        (lambda n: [True] * n, ValueError, "lr[0]"),
    ],
)
def test_bad_schedule(lr, error, message):
    p = make_problem(SPEC, 9)
    rate = lr(len(p.batches)) if callable(lr) else lr
    with pytest.raises(error) as info:
        reference.train(p.spec, p.params, p.x, p.y, lr=rate, batches=p.batches, optimizer=Optimizer("adam"))
    assert str(info.value).startswith(message), str(info.value)


def test_optimizer_problems_need_the_opt_in():
    """A plain-SGD implementation (no supports_optimizer) is never handed an optimizer problem."""
    from conformance.calls import supports

    class Plain:
        def gradients(self, *a): ...

        def train(self, *a, **k): ...

    class Declines(Plain):
        def supports_optimizer(self, optimizer):
            return optimizer.name != "adam"

    adam = CATALOGUE["opt-adam-decay"]
    assert not supports(Plain(), adam.spec, adam.optimizer) and supports(Plain(), adam.spec)
    assert not supports(Declines(), adam.spec, adam.optimizer)
    assert supports(Declines(), adam.spec, CATALOGUE["opt-sgd-lr-drop"].optimizer)
