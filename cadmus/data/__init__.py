"""True-program datasets: recipes, the parallel builder, views, the contamination audit, the card.

Typical use::

    from cadmus.data import load_dataset_dir, judge, run_checks
    dd = load_dataset_dir("data/cadmus")          # a DatasetDict (train, valid, test, ood_*)
    rec = dd["test"][0]
    check = judge("completion", rec, "126")       # what to run in the VM and what must hold
    run_checks([check])                           # -> array([ True])

Command line: ``cadmus data build RECIPE --out DIR``, ``cadmus data audit DIR``,
``cadmus data show DIR`` (see ``cadmus.data.cli``). Modules: ``recipe`` (YAML -> dataclasses),
``builder`` (generate, verify, deduplicate), ``views`` (render and judge the three views),
``audit``, ``card``, ``show``, ``io``. Nothing is imported from ``datasets`` until needed.
"""
from .io import DatasetDirError, load_dataset_dir
from .views import VIEWS, Check, judge, render_views, run_checks

__all__ = ["VIEWS", "Check", "DatasetDirError", "judge", "load_dataset_dir", "render_views", "run_checks"]
