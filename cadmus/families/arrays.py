"""Arrays in memory: the input is the length n (>= 1) then the n values, stored at addresses
0..n-1; ``count_value`` and ``linear_search`` first read the value to look for.

Array outputs (``sort``, ``reverse``, ``prefix_sum``, ``rotate_left``) are written with one
``out`` per value, in order; the others write one value. Every variant computes in its body:
``reverse/backward`` and ``rotate_left/from_one`` build the result at n..2n-1 and write it from
there (a writer that read the input in another order would leave the body empty and the
self-contained form's answer a copy of a ``store`` in its prologue). In the self-contained form the
array is stored with ``store`` and array outputs are checked with ``load p ADDR`` /
``assert p VALUE`` pairs (``p`` is never used by the programs themselves).
"""
from __future__ import annotations

import itertools

import numpy as np

from . import edges as E
from .base import Family, Template, clip, digits

READ_WHILE = "in {n}\nmov {i} 0\n{Lread}:\njge {i} {n} {Lreaddone}\nin {t}\nstore {i} {t}\ninc {i}\njmp {Lread}\n{Lreaddone}:"
READ_DO = "in {n}\nmov {i} 0\n{Lread}:\nin {t}\nstore {i} {t}\ninc {i}\njlt {i} {n} {Lread}"
WRITE_ARRAY = "mov {i} 0\n{Lwrite}:\njge {i} {n} {Lwritedone}\nload {t} {i}\nout {t}\ninc {i}\njmp {Lwrite}\n{Lwritedone}:"
# the n values at n..2n-1: a body that builds its result in a second region (the input stays at 0..n-1)
WRITE_SECOND = "mov {i} {n}\nadd {e} {n} {n}\n{Lwrite}:\njge {i} {e} {Lwritedone}\nload {t} {i}\nout {t}\ninc {i}\njmp {Lwrite}\n{Lwritedone}:"

ADDRESSES = {  # where the self-contained form finds each output value, by write part
    WRITE_ARRAY: lambda inputs, outputs: range(len(outputs)),
    WRITE_SECOND: lambda inputs, outputs: range(len(outputs), 2 * len(outputs)),
}


def sample_arrays(draws, params, count: int, pooled: bool = False):
    """``count`` cases ``[n, v1..vn]``; ``pooled``: values from a pool of 1..4 per case, so that
    counts and matches are not almost always 0 / -1."""
    values = clip(params.numbers, -10**9, 10**9)
    lengths = clip(params.lengths, 1, 500)
    if values is None or lengths is None:
        return None
    n = draws.ints(*lengths, count).tolist()
    width = lengths[1]
    if pooled:
        pool = draws.ints(*values, (count, 4))
        size = draws.ints(1, 4, (count, 1))
        pick = (draws.uniform((count, width)) * size).astype(np.int64)
        rows = np.take_along_axis(pool, pick, axis=1).tolist()
    else:
        rows = draws.ints(*values, (count, width)).tolist()
    return [[k, *row[:k]] for k, row in zip(n, rows)]


def sample_keyed(draws, params, count):
    """``[x, n, v1..vn]``: x one of the values (70%) or any value of the range."""
    arrays = sample_arrays(draws, params, count, pooled=True)
    if arrays is None:
        return None
    values = clip(params.numbers, -10**9, 10**9)
    from_array = (draws.uniform(count) < 0.7).tolist()
    position = draws.uniform(count).tolist()
    other = draws.ints(*values, count).tolist()
    return [[arr[1 + int(p * arr[0])] if hit else x, *arr]
            for arr, hit, p, x in zip(arrays, from_array, position, other)]


def array_family(name, doc, keyed, templates, descriptions, oracle) -> Family:
    """``templates``: (variant, read, body, write); write is an array writer or 'out {r}'."""
    tpls = [Template(v, read, body, write) for v, read, body, write in templates]
    writes_of = {t.variant: w for t, (_, _, _, w) in zip(tpls, templates)}

    def layout(variant, regs):
        reads = (("reg", regs["x"]),) if keyed else ()
        reads += (("array", regs["n"], 0),)
        write = writes_of[variant]
        if write in ADDRESSES:
            return reads, ("mem", ADDRESSES[write])
        return reads, ("regs", [regs["r"]])

    def run_oracle(case, consts):
        if keyed:
            return oracle(case[0], case[2:])
        return oracle(case[1:])

    def level_size(cases, consts, program):
        """level = digits of the largest |value|, size = the longest array among the cases."""
        return digits(max(map(abs, itertools.chain.from_iterable(cases)))), max(map(len, cases)) - 1 - keyed

    return Family(name, "arrays", doc, tpls, descriptions, sample_keyed if keyed else sample_arrays,
                  run_oracle, layout, level_size=level_size, has_length=True,
                  edges=E.keyed_arrays if keyed else E.arrays)


def linear_search(x, values):
    for i, v in enumerate(values):
        if v == x:
            return [i]
    return [-1]


def rotate_left(values):
    return values[1:] + values[:1]


def prefix_sum(values):
    out, s = [], 0
    for v in values:
        s += v
        out.append(s)
    return out


OUT = "out {r}"


def families() -> list:
    return [
        array_family("sort", "input n, v1..vn; output the n values in ascending order", False, [
            ("bubble", READ_WHILE, "mov {a} 0\nsub {e} {n} 1\n{Lpass}:\njge {a} {n} {Lsorted}\nmov {k} 0\n{Linner}:\njge {k} {e} {Lpassdone}\nload {u} {k}\nadd {w} {k} 1\nload {v} {w}\njle {u} {v} {Lkeep}\nstore {k} {v}\nstore {w} {u}\n{Lkeep}:\ninc {k}\njmp {Linner}\n{Lpassdone}:\ninc {a}\njmp {Lpass}\n{Lsorted}:", WRITE_ARRAY),
            ("selection", READ_DO, "mov {a} 0\n{Louter}:\njge {a} {n} {Lsorted}\nmov {m} {a}\nadd {k} {a} 1\n{Linner}:\njge {k} {n} {Lswap}\nload {u} {k}\nload {v} {m}\njge {u} {v} {Lkeep}\nmov {m} {k}\n{Lkeep}:\ninc {k}\njmp {Linner}\n{Lswap}:\nload {u} {a}\nload {v} {m}\nstore {a} {v}\nstore {m} {u}\ninc {a}\njmp {Louter}\n{Lsorted}:", WRITE_ARRAY),
        ], ["sort the array in ascending order", "read n values and output them sorted from smallest to largest",
            "output the input list sorted (ascending)"], sorted),
        array_family("reverse", "input n, v1..vn; output vn..v1", False, [
            ("swap", READ_WHILE, "mov {a} 0\nsub {b} {n} 1\n{Lloop}:\njge {a} {b} {Ldone}\nload {u} {a}\nload {v} {b}\nstore {a} {v}\nstore {b} {u}\ninc {a}\ndec {b}\njmp {Lloop}\n{Ldone}:", WRITE_ARRAY),
            ("backward", READ_DO, "sub {i} {n} 1\nmov {j} {n}\n{Lloop}:\njlt {i} 0 {Ldone}\nload {t} {i}\nstore {j} {t}\ninc {j}\ndec {i}\njmp {Lloop}\n{Ldone}:", WRITE_SECOND),
        ], ["reverse the array", "read n values and output them in reverse order", "output the list backwards"],
            lambda values: values[::-1]),
        array_family("array_max", "input n, v1..vn; output the largest value", False, [
            ("max", READ_WHILE, "load {r} 0\nmov {i} 1\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\nmax {r} {r} {t}\ninc {i}\njmp {Lloop}\n{Ldone}:", OUT),
            ("branch_down", READ_DO, "load {r} 0\nmov {i} {n}\n{Lloop}:\ndec {i}\njlt {i} 0 {Ldone}\nload {t} {i}\njle {t} {r} {Lloop}\nmov {r} {t}\njmp {Lloop}\n{Ldone}:", OUT),
        ], ["maximum of an array", "read n values and output the largest one", "the biggest element of the list"],
            lambda values: [max(values)]),
        array_family("array_sum", "input n, v1..vn; output v1 + ... + vn", False, [
            ("forward", READ_WHILE, "mov {r} 0\nmov {i} 0\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\nadd {r} {r} {t}\ninc {i}\njmp {Lloop}\n{Ldone}:", OUT),
            ("backward", READ_DO, "mov {r} 0\nmov {i} {n}\n{Lloop}:\ndec {i}\nload {t} {i}\nadd {r} {r} {t}\njgt {i} 0 {Lloop}", OUT),
        ], ["sum of an array", "read n values and output their total", "add up all the elements of the list"],
            lambda values: [sum(values)]),
        array_family("count_value", "input x, n, v1..vn; output how many vi equal x", True, [
            ("eq_add", "in {x}\n" + READ_WHILE, "mov {r} 0\nmov {i} 0\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\neq {u} {t} {x}\nadd {r} {r} {u}\ninc {i}\njmp {Lloop}\n{Ldone}:", OUT),
            ("branch", "in {x}\n" + READ_DO, "mov {r} 0\nmov {i} 0\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\njne {t} {x} {Lnext}\ninc {r}\n{Lnext}:\ninc {i}\njmp {Lloop}\n{Ldone}:", OUT),
        ], ["count how many times x occurs in the array", "read x, then n values, and output the number of values equal to x",
            "number of occurrences of the first input in the list that follows"],
            lambda x, values: [values.count(x)]),
        array_family("prefix_sum", "input n, v1..vn; output the n running totals v1, v1+v2, ...", False, [
            ("previous", READ_WHILE, "mov {i} 1\n{Lloop}:\njge {i} {n} {Ldone}\nsub {j} {i} 1\nload {u} {j}\nload {v} {i}\nadd {v} {v} {u}\nstore {i} {v}\ninc {i}\njmp {Lloop}\n{Ldone}:", WRITE_ARRAY),
            ("running", READ_DO, "mov {s} 0\nmov {i} 0\n{Lloop}:\njge {i} {n} {Ldone}\nload {u} {i}\nadd {s} {s} {u}\nstore {i} {s}\ninc {i}\njmp {Lloop}\n{Ldone}:", WRITE_ARRAY),
        ], ["prefix sums of an array", "read n values and output the running total after each one",
            "replace each element by the sum of itself and all elements before it"], prefix_sum),
        array_family("linear_search", "input x, n, v1..vn; output the first index i (0-based) with vi = x, or -1", True, [
            ("forward", "in {x}\n" + READ_WHILE, "mov {r} -1\nmov {i} 0\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\njeq {t} {x} {Lfound}\ninc {i}\njmp {Lloop}\n{Lfound}:\nmov {r} {i}\n{Ldone}:", OUT),
            ("backward", "in {x}\n" + READ_DO, "mov {r} -1\nmov {i} {n}\n{Lloop}:\ndec {i}\njlt {i} 0 {Ldone}\nload {t} {i}\njne {t} {x} {Lloop}\nmov {r} {i}\njmp {Lloop}\n{Ldone}:", OUT),
        ], ["index of the first occurrence of x in the array, or -1", "read x, then n values, and output the 0-based position of the first value equal to x (-1 if absent)",
            "find x in the list: first index or -1"], linear_search),
        array_family("rotate_left", "input n, v1..vn; output v2..vn, v1", False, [
            ("shift", READ_WHILE, "load {f} 0\nsub {e} {n} 1\nmov {i} 0\n{Lloop}:\njge {i} {e} {Ldone}\nadd {j} {i} 1\nload {u} {j}\nstore {i} {u}\ninc {i}\njmp {Lloop}\n{Ldone}:\nstore {e} {f}", WRITE_ARRAY),
            ("from_one", READ_DO, "mov {i} 1\nmov {j} {n}\n{Lloop}:\njge {i} {n} {Ldone}\nload {t} {i}\nstore {j} {t}\ninc {i}\ninc {j}\njmp {Lloop}\n{Ldone}:\nload {t} 0\nstore {j} {t}", WRITE_SECOND),
        ], ["rotate the array left by one", "read n values and output them with the first one moved to the end",
            "cyclic left shift of the list by one position"], rotate_left),
    ]
