"""Guidance's two passes on two threads: same velocity as one batch, truly concurrent, tidy."""

import threading

import pytest
import torch

from kinema.diffusion.branches import BranchPair, branches_pay
from kinema.diffusion.sample import guided_velocity, sample, timestep_schedule
from kinema.models.dit import DiT, DiTConfig, TextContext


@pytest.fixture()
def two_threads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI sets it: where "auto" picks threads
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _model() -> DiT:
    torch.manual_seed(0)
    model = DiT(DiTConfig(latent_channels=2, width=32, depth=2, heads=2)).eval()
    for p in model.parameters():
        if p.abs().sum() == 0:  # adaLN-Zero starts as the identity: give it something to compute
            p.data.normal_(0, 0.1)
    return model


def _text(length: int, valid: int) -> TextContext:
    mask = torch.zeros(1, length, dtype=torch.bool)
    mask[:, :valid] = True
    return TextContext(torch.randn(1, length, 384), mask, torch.randn(1, 384))


def test_threads_give_the_batched_velocity(two_threads) -> None:
    model = _model()
    cond, empty = _text(7, 5), _text(3, 2)  # padding in both, and different lengths
    x, t = torch.randn(1, 2, 3, 4, 4), torch.tensor([[0.0, 0.4, 0.9]])  # per-frame times
    with torch.no_grad():
        batched = guided_velocity(model, cond, empty, 4.0, branches="batch")(x, t)
        threaded = guided_velocity(model, cond, empty, 4.0, branches="threads")(x, t)
        auto = guided_velocity(model, cond, empty, 4.0)(x, t)
    assert torch.allclose(threaded, batched, atol=1e-5)
    assert torch.allclose(auto, batched, atol=1e-5)
    assert torch.get_num_threads() == 2  # the caller's count is restored
    with torch.no_grad():  # a whole sample too
        noise = torch.randn(1, 2, 3, 4, 4)
        a = sample(guided_velocity(model, cond, empty, 4.0, branches="batch"), noise, timestep_schedule(4))
        b = sample(guided_velocity(model, cond, empty, 4.0, branches="threads"), noise, timestep_schedule(4))
    assert torch.allclose(a, b, atol=1e-4)


def test_the_two_branches_run_at_the_same_time(two_threads) -> None:
    """Each call waits at a barrier for the other: run one after the other, they would time out."""
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, tuple[int, int, bool, bool]] = {}

    def branch(name: str):
        def run() -> str:
            barrier.wait()
            seen[name] = (threading.get_ident(), torch.get_num_threads(), torch.is_grad_enabled(),
                          torch.is_autocast_enabled("cpu"))
            return name
        return run

    pair = BranchPair()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert pair(branch("first"), branch("second")) == ("first", "second")
    assert seen["first"][0] == threading.get_ident() != seen["second"][0]
    assert seen["first"][1] == seen["second"][1] == 1  # half the caller's 2 threads each
    assert not seen["second"][2] and seen["second"][3]  # the caller's no_grad and autocast reached the worker
    assert torch.get_num_threads() == 2
    pair.close()


def test_a_failing_branch_raises_after_both_finished(two_threads) -> None:
    finished = threading.Event()

    def slow() -> None:
        finished.wait(0.2)
        finished.set()

    def fail() -> None:
        raise RuntimeError("first branch failed")

    pair = BranchPair()
    with pytest.raises(RuntimeError, match="first branch failed"):
        pair(fail, slow)
    assert finished.is_set() and torch.get_num_threads() == 2
    with pytest.raises(ZeroDivisionError):
        pair(lambda: 1, lambda: 1 / 0)
    pair.close()


def test_when_threads_pay(two_threads, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    assert branches_pay(model)
    for policy in ("ACTIVE", ""):  # spinning OpenMP threads: the batch of 2 is as fast
        monkeypatch.setenv("OMP_WAIT_POLICY", policy)
        assert not branches_pay(model)
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    assert branches_pay(model)
    assert not branches_pay(model.to(torch.bfloat16))
    torch.set_num_threads(1)
    assert not branches_pay(_model())


def test_gradients_on_run_the_branches_in_turn(two_threads) -> None:
    model = _model()
    x, t = torch.randn(1, 2, 1, 4, 4, requires_grad=True), torch.full((1, 1), 0.5)
    v = guided_velocity(model, _text(4, 4), _text(2, 2), 3.0, branches="threads")(x, t)
    v.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_branch_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="branches 'both' is not supported; use one of: auto, batch, threads"):
        guided_velocity(_model(), _text(2, 2), _text(2, 2), 3.0, branches="both")
