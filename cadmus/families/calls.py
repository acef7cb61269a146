"""Calls: recursive functions with ``call``/``ret`` and the data stack.

``fib_recursive``: input n (0 <= n <= 15, recursion is exponential); output F(n).
``gcd_recursive``: input a, b (both >= 1); output gcd(a, b). Same oracles as ``fibonacci``
and ``gcd``. The function comes first (jumped over) so that the self-contained form still
ends with its ``assert``.
"""
from __future__ import annotations

import math

from .base import Family, Template
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


def recursive(name, doc, n_inputs, heads, call_label, descriptions, sample, oracle) -> Family:
    templates = [Template(v, SCALAR_READ[n_inputs], f"call {{{call_label}}}", "out {r}", head=h) for v, h in heads]
    return Family(name, "calls", doc, templates, descriptions, sample, lambda c, k: [oracle(*c)],
                  scalar_layout(n_inputs))


def families() -> list:
    return [
        recursive("fib_recursive", "input n (0 <= n <= 15); output F(n) with F(0) = 0, F(1) = 1 (recursive)", 1,
                  [("push_arg", FIB_PUSH_ARG), ("push_result", FIB_PUSH_RESULT)], "Lfib",
                  ["the n-th Fibonacci number, computed recursively", "recursive function fib(n) = fib(n-1) + fib(n-2), fib(0) = 0, fib(1) = 1; output fib(n)",
                   "read n and output Fibonacci number n using a recursive call"],
                  uniform(0, 15), fibonacci),
        recursive("gcd_recursive", "input a, b (both >= 1); output gcd(a, b) (recursive)", 2,
                  [("fallthrough", GCD_FALLTHROUGH), ("base_last", GCD_BASE_LAST)], "Lgcd",
                  ["greatest common divisor, computed recursively", "recursive gcd(a, b) = gcd(b, a mod b), gcd(a, 0) = a; output gcd of the inputs",
                   "read a and b and output their gcd using a recursive call"],
                  uniform(1, 10**6, 2), math.gcd),
    ]
