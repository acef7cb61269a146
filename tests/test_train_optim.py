"""Optimizers: which parameters Muon gets, one schedule for both halves, exact state round trip."""
import copy
from types import SimpleNamespace

import pytest
import torch

from cadmus.models import build_model, make_config
from cadmus.train.optim import MuonWithAdamW, make_optimizer, make_scheduler


def targs(**kw):
    base = dict(optimizer="muon", learning_rate=1e-2, weight_decay=0.1, adam_beta1=0.9, adam_beta2=0.95,
                warmup_steps=2, min_lr_ratio=0.1, max_steps=10)
    return SimpleNamespace(**{**base, **kw})


def small_model(seed=0):
    torch.manual_seed(seed)
    return build_model(make_config("tiny", 20, 16, n_layer=2, n_head=2, n_embd=16))


def step(model, opt, sched=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 20, (4, 12), generator=g)
    model(input_ids=x, labels=x).loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    opt.zero_grad(set_to_none=True)


def test_muon_gets_the_block_matrices_and_adamw_the_rest():
    model = small_model()
    opt = make_optimizer(model, targs())
    assert isinstance(opt, MuonWithAdamW)
    muon, adamw = opt.inner
    names = {id(p): n for n, p in model.named_parameters()}
    in_muon = {names[id(p)] for g in muon.param_groups for p in g["params"]}
    in_adamw = {names[id(p)] for g in adamw.param_groups for p in g["params"]}
    assert in_muon == {n for n, p in model.named_parameters() if p.dim() == 2 and n.startswith("transformer.h.")}
    assert "transformer.wte.weight" in in_adamw and "transformer.wpe.weight" in in_adamw
    assert not in_muon & in_adamw and in_muon | in_adamw == set(names.values())


@pytest.mark.parametrize("reloaded", [False, True])
def test_the_schedule_drives_both_halves(reloaded):
    model = small_model()
    opt = make_optimizer(model, targs())
    sched = make_scheduler(opt, targs())
    if reloaded:  # what accelerate.prepare does to every optimizer
        opt.load_state_dict(opt.state_dict())
    for k in range(5):
        step(model, opt, sched, seed=k)
    inner_lrs = {g["lr"] for o in opt.inner for g in o.param_groups}
    assert inner_lrs == {sched.get_last_lr()[0]} and 1e-3 < sched.get_last_lr()[0] < 1e-2


def test_every_parameter_moves():
    model = small_model()
    before = copy.deepcopy(model)
    opt = make_optimizer(model, targs(weight_decay=0.0))
    step(model, opt)
    for (name, p), q in zip(model.named_parameters(), before.parameters()):
        assert not torch.equal(p, q), name


def test_state_dict_round_trip_is_exact():
    a = small_model()
    opt_a = make_optimizer(a, targs())
    for k in range(3):
        step(a, opt_a, seed=k)
    b = copy.deepcopy(a)
    opt_b = make_optimizer(b, targs())
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))
    step(a, opt_a, seed=9)
    step(b, opt_b, seed=9)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    # without the momentum state the next step differs: the round trip carried something
    c = copy.deepcopy(b)
    fresh = make_optimizer(c, targs())
    step(b, opt_b, seed=10)
    step(c, fresh, seed=10)
    assert any(not torch.equal(p, q) for p, q in zip(b.parameters(), c.parameters()))


def test_adamw_is_plain_adamw():
    opt = make_optimizer(small_model(), targs(optimizer="adamw"))
    assert type(opt) is torch.optim.AdamW
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        make_optimizer(small_model(), targs(optimizer="sgd"))
