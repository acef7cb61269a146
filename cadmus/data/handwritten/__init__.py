"""The hand-written task set shipped with Cadmus: integer tasks that no family template
produces, each with a free-English description, visible and challenge tests, and a reference
program in the DSL. An instruction-following test set (card: ``README.md`` next to it).

    cadmus data import cadmus/data/handwritten/tasks.jsonl --out data/handwritten
    cadmus eval --check-references --data data/handwritten --suite synthesis --split test

``tasks.jsonl`` is written by :mod:`cadmus.data.handwritten.source` (the tasks, with a Python
oracle for each that computes the expected outputs independently of the reference program).
"""
from pathlib import Path

TASKS_FILE = Path(__file__).resolve().with_name("tasks.jsonl")
CARD_FILE = Path(__file__).resolve().with_name("README.md")

__all__ = ["CARD_FILE", "TASKS_FILE"]
