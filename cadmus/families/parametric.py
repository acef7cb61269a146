"""Parametric families: a constant K of the task appears in the description and the program,
so one family yields many distinct programs.

``count_greater``: input n, v1..vn (stored at 0..n-1); output how many vi > K.
``sum_multiples``: input n (n >= 1); output the sum of the multiples of K (K >= 1) in 1..n.
K is drawn from the recipe's number range (clipped to the family's domain).
"""
from __future__ import annotations

import itertools

from . import edges as E
from .arrays import READ_DO, READ_WHILE, sample_arrays
from .base import Family, Template, clip, digits
from .scalar import scalar_layout, uniform


def count_greater() -> Family:
    templates = [
        Template("branch", READ_WHILE, "mov {r} 0\nmov {i} 0\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\njle {t} {K} {Lnext}\ninc {r}\n{Lnext}:\ninc {i}\njmp {Lloop}\n{Ldone}:", "out {r}"),
        Template("compare_add", READ_DO, "mov {r} 0\nmov {i} {n}\n{Lloop}:\ndec {i}\nload {t} {i}\ngt {u} {t} {K}\nadd {r} {r} {u}\njgt {i} 0 {Lloop}", "out {r}"),
    ]

    def consts(draws, params, count):
        values = clip(params.numbers, -10**9, 10**9)
        return None if values is None else [{"K": k} for k in draws.ints(*values, count).tolist()]

    def layout(variant, regs):
        return (("array", regs["n"], 0),), ("regs", [regs["r"]])

    def level_size(cases, consts, program):
        return digits(max(map(abs, itertools.chain.from_iterable(cases)))), max(map(len, cases)) - 1

    return Family("count_greater", "parametric", "input n, v1..vn; output how many vi are greater than K",
                  templates, ["count the values greater than {K}", "read n values and output how many of them exceed {K}",
                              "number of elements of the list that are > {K}"],
                  sample_arrays, lambda c, k: [sum(v > k["K"] for v in c[1:])],
                  layout, level_size=level_size, consts=consts, has_length=True, edges=E.arrays,
                  const_edges=E.greater_cases)


def sum_multiples() -> Family:
    templates = [
        Template("test_each", "in {x}", "mov {r} 0\nmov {i} 1\n{Lloop}:\njgt {i} {x} {Ldone}\nmod {t} {i} {K}\njnz {t} {Lnext}\nadd {r} {r} {i}\n{Lnext}:\ninc {i}\njmp {Lloop}\n{Ldone}:", "out {r}"),
        Template("step", "in {x}", "mov {r} 0\nmov {m} {K}\n{Lloop}:\njgt {m} {x} {Ldone}\nadd {r} {r} {m}\nadd {m} {m} {K}\njmp {Lloop}\n{Ldone}:", "out {r}"),
        Template("formula", "in {x}", "div {q} {x} {K}\nadd {t} {q} 1\nmul {r} {q} {t}\ndiv {r} {r} 2\nmul {r} {r} {K}", "out {r}"),
    ]

    def consts(draws, params, count):
        values = clip(params.numbers, 1, 10**4)
        return None if values is None else [{"K": k} for k in draws.ints(*values, count).tolist()]

    return Family("sum_multiples", "parametric", "input n (n >= 1); output the sum of the multiples of K in 1..n",
                  templates, ["sum of the multiples of {K} from 1 to n", "read n and add up every multiple of {K} between 1 and n",
                              "total of the numbers in 1..n divisible by {K}"],
                  uniform(1, 10**4), lambda c, k: [sum(range(k["K"], c[0] + 1, k["K"]))], scalar_layout(1), consts=consts,
                  edges=lambda p: E.single(p, 1, 10**4), const_edges=E.multiple_cases)


def families() -> list:
    return [count_greater(), sum_multiples()]
