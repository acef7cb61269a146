"""Scalar loops and branches: one to three integer inputs, one output.

Each family reads its inputs with ``in`` in the order of its name's arguments and writes one
value with ``out``. Domains are the recipe's number range clipped to where the task is
defined and fits in int64 (e.g. ``factorial`` n in 0..20), so a family whose domain lies
inside the training range takes no part in ``ood_numbers``.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from . import edges as E
from .base import Family, Template, clip

SCALAR_READ = {1: "in {x}", 2: "in {x}\nin {y}", 3: "in {x}\nin {y}\nin {z}"}


def scalar_layout(n_inputs: int):
    roles = "xyz"[:n_inputs]

    def layout(variant, regs):
        return tuple(("reg", regs[r]) for r in roles), ("regs", [regs["r"]])
    return layout


def uniform(lo: int, hi: int, n: int = 1, ordered: bool = False):
    """A case sampler drawing ``n`` values from the recipe's range clipped to [lo, hi]."""
    def sample(draws, params, count):
        bounds = clip(params.numbers, lo, hi)
        if bounds is None:
            return None
        values = draws.ints(*bounds, (count, n))
        return (np.sort(values, axis=1) if ordered else values).tolist()
    return sample


def scalar(name, doc, n_inputs, templates, descriptions, sample, oracle, edges) -> Family:
    """``edges``: params -> the family's edge cases (see ``edges``)."""
    tpl = [Template(v, SCALAR_READ[n_inputs], body, "out {r}") for v, body in templates]
    return Family(name, "scalar", doc, tpl, descriptions, sample, lambda c, k: [oracle(*c)],
                  scalar_layout(n_inputs), edges=edges)


# --- oracles: plain Python, written independently of the programs -------------------------
# The looping ones are memoized: a build asks them about the same small inputs again and again.

def sum_range(a, b):
    return sum(range(a, b + 1))


@lru_cache(maxsize=1 << 14)
def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def digit_sum(n):
    return sum(int(ch) for ch in str(abs(n)))


@lru_cache(maxsize=1 << 14)
def collatz_steps(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


def is_prime(n):
    return int(n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1)))


@lru_cache(maxsize=1 << 14)
def count_divisors(n):
    return sum(1 for d in range(1, n + 1) if n % d == 0)


def sample_power(draws, params, count):
    a_range = clip(params.numbers, -10**6, 10**6)
    if a_range is None:
        return None
    a = draws.ints(*a_range, count)
    # the largest exponent whose power fits comfortably in int64 (no wrap-around)
    big = np.maximum(np.abs(a), 2)
    b_max = np.where(np.abs(a) < 2, 12, np.minimum(12, (62 / np.log2(big)).astype(np.int64)))
    b = (draws.uniform(count) * (b_max + 1)).astype(np.int64)
    return np.stack([a, b], axis=1).tolist()


def sample_clamp(draws, params, count):
    r = clip(params.numbers, -10**9, 10**9)
    if r is None:
        return None
    x, lo, hi = draws.ints(*r, (3, count))
    return np.stack([x, np.minimum(lo, hi), np.maximum(lo, hi)], axis=1).tolist()


def families() -> list:
    return [
        scalar("sum_range", "input a, b (a <= b); output a + (a+1) + ... + b", 2, [
            ("loop_up", "mov {r} 0\n{Lloop}:\njgt {x} {y} {Ldone}\nadd {r} {r} {x}\ninc {x}\njmp {Lloop}\n{Ldone}:"),
            ("loop_down", "mov {r} 0\n{Lloop}:\njlt {y} {x} {Ldone}\nadd {r} {r} {y}\ndec {y}\njmp {Lloop}\n{Ldone}:"),
            ("formula", "sub {t} {y} {x}\ninc {t}\nadd {u} {x} {y}\nmul {r} {t} {u}\ndiv {r} {r} 2"),
        ], ["sum of the integers from a to b inclusive",
            "read a and b and output the sum a + (a+1) + ... + b",
            "add up every integer in the range a..b (both ends included)"],
            uniform(-10**4, 10**4, 2, ordered=True), sum_range,
            lambda p: E.ordered_pairs(p, -10**4, 10**4)),
        scalar("factorial", "input n (0 <= n <= 20); output n!", 1, [
            ("count_down", "mov {r} 1\n{Lloop}:\njle {x} 1 {Ldone}\nmul {r} {r} {x}\ndec {x}\njmp {Lloop}\n{Ldone}:"),
            ("count_up", "mov {r} 1\nmov {i} 1\n{Lloop}:\njgt {i} {x} {Ldone}\nmul {r} {r} {i}\ninc {i}\njmp {Lloop}\n{Ldone}:"),
        ], ["factorial of n", "read n and output n! = 1 * 2 * ... * n", "compute the product of the integers 1..n"],
            uniform(0, 20), math.factorial, lambda p: E.single(p, 0, 20, (2,))),
        scalar("fibonacci", "input n (0 <= n <= 92); output F(n) with F(0) = 0, F(1) = 1", 1, [
            ("temp", "mov {a} 0\nmov {r} 1\n{Lloop}:\njz {x} {Ldone}\nadd {t} {a} {r}\nmov {a} {r}\nmov {r} {t}\ndec {x}\njmp {Lloop}\n{Ldone}:\nmov {r} {a}"),
            ("difference", "mov {r} 0\nmov {b} 1\nmov {i} 0\n{Lloop}:\njge {i} {x} {Ldone}\nadd {b} {r} {b}\nsub {r} {b} {r}\ninc {i}\njmp {Lloop}\n{Ldone}:"),
        ], ["the n-th Fibonacci number (F(0) = 0, F(1) = 1)", "read n and output Fibonacci number n",
            "compute F(n) where F(0) = 0, F(1) = 1 and F(n) = F(n-1) + F(n-2)"],
            uniform(0, 92), fibonacci, lambda p: E.single(p, 0, 92, (2,))),
        scalar("gcd", "input a, b (both >= 1); output gcd(a, b)", 2, [
            ("euclid_mod", "{Lloop}:\njz {y} {Ldone}\nmod {t} {x} {y}\nmov {x} {y}\nmov {y} {t}\njmp {Lloop}\n{Ldone}:\nmov {r} {x}"),
            ("subtract", "{Lloop}:\njeq {x} {y} {Ldone}\njgt {x} {y} {Lbig}\nsub {y} {y} {x}\njmp {Lloop}\n{Lbig}:\nsub {x} {x} {y}\njmp {Lloop}\n{Ldone}:\nmov {r} {x}"),
        ], ["greatest common divisor of two numbers", "read a and b and output gcd(a, b)",
            "compute the largest integer dividing both inputs"],
            uniform(1, 10**4, 2), math.gcd, lambda p: E.pairs(p, 1, 10**4)),
        scalar("lcm", "input a, b (both >= 1); output lcm(a, b)", 2, [
            ("via_gcd", "mov {u} {x}\nmov {v} {y}\n{Lloop}:\njz {v} {Ldone}\nmod {t} {u} {v}\nmov {u} {v}\nmov {v} {t}\njmp {Lloop}\n{Ldone}:\ndiv {r} {x} {u}\nmul {r} {r} {y}"),
            ("multiples", "mov {r} {x}\n{Lloop}:\nmod {t} {r} {y}\njz {t} {Ldone}\nadd {r} {r} {x}\njmp {Lloop}\n{Ldone}:"),
        ], ["least common multiple of two numbers", "read a and b and output lcm(a, b)",
            "compute the smallest positive integer that is a multiple of both inputs"],
            uniform(1, 10**4, 2), lambda a, b: a * b // math.gcd(a, b), lambda p: E.pairs(p, 1, 10**4)),
        scalar("power", "input a, b (b >= 0, a**b fits in int64); output a**b", 2, [
            ("repeated_mul", "mov {r} 1\n{Lloop}:\njz {y} {Ldone}\nmul {r} {r} {x}\ndec {y}\njmp {Lloop}\n{Ldone}:"),
            ("square_multiply", "mov {r} 1\n{Lloop}:\njz {y} {Ldone}\nmod {t} {y} 2\njz {t} {Lskip}\nmul {r} {r} {x}\n{Lskip}:\nmul {x} {x} {x}\ndiv {y} {y} 2\njmp {Lloop}\n{Ldone}:"),
        ], ["a to the power b", "read a and b and output a**b", "raise the first input to the power of the second"],
            sample_power, lambda a, b: a ** b, E.power_cases),
        scalar("digit_sum", "input n; output the sum of the decimal digits of |n|", 1, [
            ("while", "abs {x} {x}\nmov {r} 0\n{Lloop}:\njz {x} {Ldone}\nmod {t} {x} 10\nadd {r} {r} {t}\ndiv {x} {x} 10\njmp {Lloop}\n{Ldone}:"),
            ("do_while", "abs {x} {x}\nmov {r} 0\n{Lloop}:\nmod {t} {x} 10\nadd {r} {r} {t}\ndiv {x} {x} 10\njnz {x} {Lloop}"),
        ], ["sum of the digits of |n|", "read n and output the sum of its decimal digits (sign ignored)",
            "add up the decimal digits of the absolute value of n"],
            uniform(-10**12, 10**12), digit_sum, lambda p: E.digit_cases(p, -10**12, 10**12)),
        scalar("reverse_digits", "input n (n >= 0); output the number with the digits of n reversed (120 -> 21)", 1, [
            ("while", "mov {r} 0\n{Lloop}:\njz {x} {Ldone}\nmul {r} {r} 10\nmod {t} {x} 10\nadd {r} {r} {t}\ndiv {x} {x} 10\njmp {Lloop}\n{Ldone}:"),
            ("do_while", "mov {r} 0\n{Lloop}:\nmod {t} {x} 10\nmul {r} {r} 10\nadd {r} {r} {t}\ndiv {x} {x} 10\njgt {x} 0 {Lloop}"),
        ], ["reverse the decimal digits of n", "read n and output its digits in reverse order as a number",
            "write the digits of n backwards (leading zeros dropped)"],
            uniform(0, 10**12), lambda n: int(str(n)[::-1]),
            lambda p: E.digit_cases(p, 0, 10**12)),
        scalar("collatz_steps", "input n (n >= 1); output the number of Collatz steps to reach 1", 1, [
            ("mod_div", "mov {r} 0\n{Lloop}:\njeq {x} 1 {Ldone}\nmod {t} {x} 2\njz {t} {Leven}\nmul {x} {x} 3\ninc {x}\njmp {Lnext}\n{Leven}:\ndiv {x} {x} 2\n{Lnext}:\ninc {r}\njmp {Lloop}\n{Ldone}:"),
            ("bits", "mov {r} 0\n{Lloop}:\njle {x} 1 {Ldone}\ninc {r}\nand {t} {x} 1\njnz {t} {Lodd}\nshr {x} {x} 1\njmp {Lloop}\n{Lodd}:\nmul {x} {x} 3\ninc {x}\njmp {Lloop}\n{Ldone}:"),
        ], ["number of Collatz steps from n to 1", "read n and count the steps n -> n/2 (even) or 3n+1 (odd) until it reaches 1",
            "how many Collatz steps does n take to reach 1"],
            uniform(1, 10**6), collatz_steps, lambda p: E.single(p, 1, 10**6, (2, 3, 27, 97))),
        scalar("is_prime", "input n; output 1 if n is prime else 0", 1, [
            ("early_exit", "mov {r} 0\njlt {x} 2 {Ldone}\nmov {r} 1\nmov {i} 2\n{Lloop}:\nmul {t} {i} {i}\njgt {t} {x} {Ldone}\nmod {t} {x} {i}\njz {t} {Lno}\ninc {i}\njmp {Lloop}\n{Lno}:\nmov {r} 0\n{Ldone}:"),
            ("flag", "gt {r} {x} 1\nmov {i} 2\n{Lloop}:\nmul {t} {i} {i}\njgt {t} {x} {Ldone}\njz {r} {Ldone}\nmod {t} {x} {i}\nne {r} {t} 0\ninc {i}\njmp {Lloop}\n{Ldone}:"),
        ], ["1 if n is a prime number, else 0", "read n and output 1 when it is prime and 0 otherwise",
            "primality test: is n prime (1) or not (0)"],
            uniform(-10**6, 10**6), is_prime, E.prime_cases),
        scalar("count_divisors", "input n (n >= 1); output the number of positive divisors of n", 1, [
            ("all", "mov {r} 0\nmov {i} 1\n{Lloop}:\njgt {i} {x} {Ldone}\nmod {t} {x} {i}\njnz {t} {Lnext}\ninc {r}\n{Lnext}:\ninc {i}\njmp {Lloop}\n{Ldone}:"),
            ("pairs", "mov {r} 0\nmov {i} 1\n{Lloop}:\nmul {t} {i} {i}\njge {t} {x} {Lend}\nmod {u} {x} {i}\njnz {u} {Lnext}\nadd {r} {r} 2\n{Lnext}:\ninc {i}\njmp {Lloop}\n{Lend}:\njne {t} {x} {Ldone}\ninc {r}\n{Ldone}:"),
        ], ["number of divisors of n", "read n and count the positive integers that divide it",
            "how many positive divisors does n have"],
            uniform(1, 10**4), count_divisors, E.divisor_cases),
        scalar("isqrt", "input n (n >= 0); output floor(sqrt(n))", 1, [
            ("linear", "mov {r} 0\n{Lloop}:\nadd {t} {r} 1\nmul {t} {t} {t}\njgt {t} {x} {Ldone}\ninc {r}\njmp {Lloop}\n{Ldone}:"),
            ("bisect", "mov {r} 0\nadd {h} {x} 1\n{Lloop}:\nsub {t} {h} {r}\njle {t} 1 {Ldone}\nadd {m} {r} {h}\ndiv {m} {m} 2\nmul {t} {m} {m}\njgt {t} {x} {Lhigh}\nmov {r} {m}\njmp {Lloop}\n{Lhigh}:\nmov {h} {m}\njmp {Lloop}\n{Ldone}:"),
        ], ["integer square root of n (rounded down)", "read n and output the largest r with r*r <= n",
            "floor of the square root of n"],
            uniform(0, 10**6), math.isqrt, E.isqrt_cases),
        scalar("max3", "input x, y, z; output the largest", 3, [
            ("minmax", "max {r} {x} {y}\nmax {r} {r} {z}"),
            ("branch", "mov {r} {x}\njge {r} {y} {Lskip}\nmov {r} {y}\n{Lskip}:\njge {r} {z} {Ldone}\nmov {r} {z}\n{Ldone}:"),
        ], ["the largest of three numbers", "read x, y and z and output the maximum", "maximum of the three inputs"],
            uniform(-10**9, 10**9, 3), max, lambda p: E.triples(p, -10**9, 10**9)),
        scalar("abs_diff", "input x, y; output |x - y|", 2, [
            ("abs", "sub {r} {x} {y}\nabs {r} {r}"),
            ("branch", "jlt {x} {y} {Lswap}\nsub {r} {x} {y}\njmp {Ldone}\n{Lswap}:\nsub {r} {y} {x}\n{Ldone}:"),
        ], ["absolute difference of two numbers", "read x and y and output |x - y|",
            "distance between the two inputs on the number line"],
            uniform(-10**9, 10**9, 2), lambda x, y: abs(x - y), lambda p: E.pairs(p, -10**9, 10**9)),
        scalar("clamp", "input x, lo, hi (lo <= hi); output x clamped to [lo, hi]", 3, [
            ("minmax", "max {r} {x} {y}\nmin {r} {r} {z}"),
            ("branch", "mov {r} {x}\njge {r} {y} {Llow}\nmov {r} {y}\n{Llow}:\njle {r} {z} {Ldone}\nmov {r} {z}\n{Ldone}:"),
        ], ["clamp x to the range lo..hi", "read x, lo and hi and output x limited to [lo, hi]",
            "the value of x forced into the interval from lo to hi"],
            sample_clamp, lambda x, lo, hi: min(max(x, lo), hi), E.clamp_cases),
    ]
