"""The names every layer shares: dataset splits, record views and evaluation suites.

Core layer: imports nothing from cadmus, so the VM, the judge, the builder, training and
evaluation can all take these from one place (a copy elsewhere could drift).
"""
from __future__ import annotations

# Dataset splits, in build order: a held-out split is kept new with respect to the earlier ones.
SPLITS = ("train", "valid", "test", "ood_numbers", "ood_length", "ood_family")
HELD_OUT_SPLITS = SPLITS[1:]

# The views a record renders (columns ``{view}_prompt`` / ``{view}_target``); see cadmus.data.views.
VIEWS = ("completion", "synthesis", "execution", "trace")

# What a model can be evaluated on; each is judged by cadmus.judge. ``input`` and ``repair``
# are built at evaluation time from a record's views (cadmus.eval.prompts).
SUITES = ("completion", "synthesis", "execution", "input", "repair", "trace")
