"""Calls: recursive functions with ``call``/``ret`` and the data stack.

``fib_recursive``: input n (0 <= n <= 15, recursion is exponential); output F(n).
``gcd_recursive``: input a, b (both >= 1); output gcd(a, b). Same oracles as ``fibonacci``
and ``gcd``.
``binomial``: input n, k (0 <= k <= n <= 13); output C(n, k), by Pascal's rule (two calls per
level) or by C(n, k) = C(n-1, k-1) * n / k (one); ``math.comb`` is its oracle. No other family
computes it, so held out (``ood_family``) it asks for a program no train family's program is
(a test runs every train variant on its records); ``gcd_recursive`` is not that: train's
iterative ``gcd`` solves every one of its records.
The function comes first (jumped over) so that the self-contained form still ends with its
``assert``.
"""
from __future__ import annotations

import math

import numpy as np

from . import edges as E
from .base import Family, Template, clip
from .scalar import SCALAR_READ, fibonacci, scalar_layout, uniform

FIB_PUSH_ARG = """jmp {Lmain}
{Lfib}:
jgt {x} 1 {Lrec}
mov {r} {x}
ret
{Lrec}:
push {x}
dec {x}
call {Lfib}
pop {x}
push {r}
sub {x} {x} 2
call {Lfib}
pop {t}
add {r} {r} {t}
add {x} {x} 2
ret
{Lmain}:"""

FIB_PUSH_RESULT = """jmp {Lmain}
{Lfib}:
jlt {x} 2 {Lbase}
dec {x}
call {Lfib}
push {r}
dec {x}
call {Lfib}
pop {t}
add {r} {r} {t}
add {x} {x} 2
ret
{Lbase}:
mov {r} {x}
ret
{Lmain}:"""

GCD_FALLTHROUGH = """jmp {Lmain}
{Lgcd}:
jz {y} {Ldone}
mod {t} {x} {y}
mov {x} {y}
mov {y} {t}
call {Lgcd}
{Ldone}:
mov {r} {x}
ret
{Lmain}:"""

GCD_BASE_LAST = """jmp {Lmain}
{Lgcd}:
jne {y} 0 {Lrec}
mov {r} {x}
ret
{Lrec}:
mod {t} {x} {y}
mov {x} {y}
mov {y} {t}
call {Lgcd}
ret
{Lmain}:"""


# C(n, k) by Pascal's rule, n and k restored by the callee: dec/inc around the calls
BINOMIAL_RESTORE = """jmp {Lmain}
{Lbin}:
jz {y} {Lone}
jeq {y} {x} {Lone}
dec {x}
call {Lbin}
push {r}
dec {y}
call {Lbin}
pop {t}
add {r} {r} {t}
inc {y}
inc {x}
ret
{Lone}:
mov {r} 1
ret
{Lmain}:"""

# C(n, k) by Pascal's rule, n and k saved on the data stack by the caller
BINOMIAL_STACK = """jmp {Lmain}
{Lbin}:
jle {y} 0 {Lbase}
jge {y} {x} {Lbase}
push {x}
push {y}
dec {x}
call {Lbin}
pop {y}
pop {x}
push {r}
dec {x}
dec {y}
call {Lbin}
pop {t}
add {r} {r} {t}
ret
{Lbase}:
mov {r} 1
ret
{Lmain}:"""

# C(n, k) = C(n-1, k-1) * n / k: one recursive call per level (exact: k divides n * C(n-1, k-1))
BINOMIAL_LINEAR = """jmp {Lmain}
{Lbin}:
jnz {y} {Lrec}
mov {r} 1
ret
{Lrec}:
dec {x}
dec {y}
call {Lbin}
inc {x}
inc {y}
mul {r} {r} {x}
div {r} {r} {y}
ret
{Lmain}:"""

BINOMIAL_TOP = 13  # Pascal's recursion makes 2 C(n, k) - 1 calls: C(13, 6) = 1716, about 30k steps


def sample_binomial(draws, params, count):
    """``[n, k]``: n in the range clipped to 0..BINOMIAL_TOP, k from the range's bottom to n."""
    bounds = clip(params.numbers, 0, BINOMIAL_TOP)
    if bounds is None:
        return None
    n = draws.ints(*bounds, count)
    k = bounds[0] + (draws.uniform(count) * (n - bounds[0] + 1)).astype(np.int64)
    return np.stack([n, k], axis=1).tolist()


def recursive(name, doc, n_inputs, heads, call_label, descriptions, sample, oracle, edges) -> Family:
    templates = [Template(v, SCALAR_READ[n_inputs], f"call {{{call_label}}}", "out {r}", head=h) for v, h in heads]
    return Family(name, "calls", doc, templates, descriptions, sample, lambda c, k: [oracle(*c)],
                  scalar_layout(n_inputs), edges=edges)


def families() -> list:
    return [
        recursive("fib_recursive", "input n (0 <= n <= 15); output F(n) with F(0) = 0, F(1) = 1 (recursive)", 1,
                  [("push_arg", FIB_PUSH_ARG), ("push_result", FIB_PUSH_RESULT)], "Lfib",
                  ["the n-th Fibonacci number, computed recursively", "recursive function fib(n) = fib(n-1) + fib(n-2), fib(0) = 0, fib(1) = 1; output fib(n)",
                   "read n and output Fibonacci number n using a recursive call"],
                  uniform(0, 15), fibonacci, lambda p: E.single(p, 0, 15, (2,))),
        recursive("gcd_recursive", "input a, b (both >= 1); output gcd(a, b) (recursive)", 2,
                  [("fallthrough", GCD_FALLTHROUGH), ("base_last", GCD_BASE_LAST)], "Lgcd",
                  ["greatest common divisor, computed recursively", "recursive gcd(a, b) = gcd(b, a mod b), gcd(a, 0) = a; output gcd of the inputs",
                   "read a and b and output their gcd using a recursive call"],
                  uniform(1, 10**6, 2), math.gcd, lambda p: E.pairs(p, 1, 10**6)),
        recursive("binomial", f"input n, k (0 <= k <= n <= {BINOMIAL_TOP}); output C(n, k) (recursive)", 2,
                  [("pascal", BINOMIAL_RESTORE), ("pascal_stack", BINOMIAL_STACK), ("linear", BINOMIAL_LINEAR)], "Lbin",
                  ["the binomial coefficient C(n, k), computed recursively",
                   "recursive function C(n, k) = C(n-1, k-1) + C(n-1, k), C(n, 0) = C(n, n) = 1; output C(n, k)",
                   "read n and k and output the number of ways to choose k items out of n, using a recursive call"],
                  sample_binomial, math.comb, lambda p: E.binomial_cases(p, BINOMIAL_TOP)),
    ]
