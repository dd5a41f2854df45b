"""The reference (and the problem generator) against the checked-in golden vectors.

Tolerance 1e-12 normwise: the vectors were written by this code, so on the same machine the match
is exact; another CPU or BLAS may sum in another order, which moves float64 results of these
small nets by about 1e-15. Any change to a formula or to the PCG64 draws moves them by far more.
"""

import numpy as np
import pytest

from conformance.golden import GOLDEN_DIR, GOLDEN_OPTIMIZERS, arrays, pinned

GOLDEN_TOL = 1e-12


@pytest.mark.parametrize("problem", pinned(), ids=lambda p: p.name)
def test_reference_matches_golden_vectors(problem):
    stored = np.load(GOLDEN_DIR / f"{problem.name}.npz")
    fresh = arrays(problem)
    assert sorted(stored.files) == sorted(fresh), "golden file and generator disagree on contents"
    assert len(fresh["losses"]) == (32 if problem.optimizer else 20)
    for key in sorted(fresh):
        want, got = stored[key], fresh[key]
        assert got.shape == want.shape, f"{problem.name}: {key} shape {got.shape} != {want.shape}"
        err = np.linalg.norm(got - want) / max(np.linalg.norm(want), np.finfo(float).tiny)
        assert err <= GOLDEN_TOL, f"{problem.name}: {key} rel {err:.1e} > {GOLDEN_TOL:.0e}"


def test_conv_golden_files_name_kernels_k():
    """Conv blocks' weights are kernels: K1, dK1, final_K1 (and W only for the dense layers)."""
    stored = np.load(GOLDEN_DIR / "golden-conv-lenet.npz")
    assert {"K1", "dK1", "final_K1", "K2", "W3", "dW3"} <= set(stored.files)
    assert not {"W1", "W2"} & set(stored.files)
    assert stored["K1"].shape == (4, 1, 3, 3) and stored["delta1"].shape == (10, 4, 8, 8)


def test_recurrent_golden_files_hold_u_and_per_step_quantities():
    """A recurrent layer's W, U, b (and their gradients, final values); z, a, δ per example and step."""
    char, classify = (np.load(GOLDEN_DIR / f"golden-rnn-{name}.npz") for name in ("char", "classify"))
    assert {"W1", "U1", "b1", "dU1", "final_U1", "W2", "b2"} <= set(char.files)
    assert "U2" not in char.files  # the output layer is dense
    assert char["x"].shape == (10, 5, 4) and char["delta1"].shape == (10, 5, 6)
    assert char["delta2"].shape == (10, 5, 4)  # an output at every step
    assert classify["delta2"].shape == (10, 2)  # after the last step only


def test_optimizer_golden_files_hold_the_schedule_and_the_state():
    """Adam's m, v and t, the momentum velocity v, and the per-step η (the velocity problem's drop)."""
    adam, velocity = (np.load(GOLDEN_DIR / f"{name}.npz") for name in GOLDEN_OPTIMIZERS)
    assert {"state_m_W1", "state_v_b2", "state_t"} <= set(adam.files) and int(adam["state_t"]) == 32
    assert {"state_v_W1", "state_v_b2"} <= set(velocity.files) and "state_m_W1" not in velocity.files
    assert velocity["lr"][15] == 0.1 and velocity["lr"][16] == 0.1 * 0.1  # η × 0.1 from step 16 on
