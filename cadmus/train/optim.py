"""Optimizers and the learning-rate schedule of ``cadmus train``.

``optimizer: adamw`` is GPT-2's recipe: AdamW with weight decay on matrices only.
``optimizer: muon`` runs ``torch.optim.Muon`` (momentum, then a Newton-Schulz
orthogonalised update) on the matrices inside the transformer blocks, and AdamW on
everything else (embeddings, which are also the tied output layer, biases, layer norms),
as Muon's authors prescribe. Muon's ``match_rms_adamw`` scaling gives its updates the
size of AdamW's, so one ``learning_rate`` and ``weight_decay`` serve both. On the
quickstart task it reached in 400 steps what AdamW needed 800 for (recipe comments).
"""
from __future__ import annotations

import math

import torch  # this module is imported only by the trainer, which needs torch anyway

OPTIMIZERS = ("adamw", "muon")


def _is_block_matrix(name: str, param) -> bool:
    # GPT2LMHeadModel names its blocks transformer.h.<i>.*; wte/wpe are embeddings
    return param.dim() == 2 and ".h." in f".{name}"


def make_optimizer(model, targs):
    """The optimizer named by ``targs.optimizer`` over the trainable parameters of ``model``."""
    if targs.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {targs.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    betas = (targs.adam_beta1, targs.adam_beta2)
    if targs.optimizer == "adamw":
        return torch.optim.AdamW(_decay_groups([p for _, p in named], targs.weight_decay),
                                 lr=targs.learning_rate, betas=betas)
    matrices = [p for n, p in named if _is_block_matrix(n, p)]
    rest = [p for n, p in named if not _is_block_matrix(n, p)]
    muon = torch.optim.Muon(matrices, lr=targs.learning_rate, weight_decay=targs.weight_decay,
                            adjust_lr_fn="match_rms_adamw")
    adamw = torch.optim.AdamW(_decay_groups(rest, targs.weight_decay), lr=targs.learning_rate, betas=betas)
    return MuonWithAdamW(muon, adamw)


def _decay_groups(params, weight_decay: float) -> list:
    """Decay on matrices (weights, embeddings); none on biases and layer norms."""
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


class MuonWithAdamW(torch.optim.Optimizer):
    """A Muon and an AdamW stepped as one optimizer.

    It holds the inner optimizers' own param-group dicts, so a learning-rate scheduler (and
    accelerate) see one optimizer whose groups are the inner ones: setting a group's ``lr``
    sets it for the optimizer that owns the group. The state lives in the inner optimizers.
    """

    def __init__(self, muon, adamw):
        self.inner = (muon, adamw)
        # the same dicts, not copies: Optimizer.add_param_group appends the dict it is given
        super().__init__([*muon.param_groups, *adamw.param_groups], defaults={})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for opt in self.inner:
            opt.step()
        return loss

    def state_dict(self):
        return {"muon": self.inner[0].state_dict(), "adamw": self.inner[1].state_dict()}

    def load_state_dict(self, state_dict):
        self.inner[0].load_state_dict(state_dict["muon"])
        self.inner[1].load_state_dict(state_dict["adamw"])
        # torch's load_state_dict gives the inner optimizers new group dicts: hold those, or a
        # scheduler would set the learning rate on groups nobody steps (accelerate.prepare
        # reloads every optimizer's state once, so this happens in every run, not only resumes)
        self.param_groups = [*self.inner[0].param_groups, *self.inner[1].param_groups]


def make_scheduler(optimizer, targs):
    """Linear warmup to the peak, then cosine decay to ``min_lr_ratio`` of it at ``max_steps``."""
    warm, floor = targs.warmup_steps, targs.min_lr_ratio

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        total = targs.max_steps  # read at each step: a time budget (budget.py) may refit it
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
