"""Edge cases of the families: the inputs a hidden test should try because a wrong program
tends to fail there (0, 1, -1, the bounds of the number range, both answers of a yes/no task,
one-element and longest arrays, ties, ...).

Each function takes the split's :class:`Params` (and the family's domain) and returns input
lists valid under them: values inside the recipe's range clipped to the family's domain,
arrays of an allowed length. Candidates outside are dropped, so a split whose range excludes
0 simply has no 0 case. Arrays start at length 1 (the do-while readers read one value before
they test the length), so there is no empty array.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

from .base import Params, clip

BIG = 10**9  # the widest value domain of the families


def values(params: Params, lo: int, hi: int, more: tuple = ()) -> list:
    """The range's bounds (clipped to [lo, hi]), 0, 1, -1 and ``more``: those inside, without repeats."""
    bounds = clip(params.numbers, lo, hi)
    if bounds is None:
        return []
    a, b = bounds
    return [v for v in dict.fromkeys((a, b, 0, 1, -1, *more)) if a <= v <= b]


def inside(cases: list, *domains: Optional[tuple]) -> list:
    """The cases whose every value lies in its position's (lo, hi) domain."""
    if any(d is None for d in domains):
        return []
    return [c for c in cases if all(lo <= v <= hi for v, (lo, hi) in zip(c, domains))]


def in_range(params: Params, lo: int, hi: int, width: int, cases: Callable) -> list:
    """``cases(a, b, m)`` for the range's bounds a, b (clipped to [lo, hi]) and their middle m:
    the cases of ``width`` values whose every value lies in [a, b]."""
    d = clip(params.numbers, lo, hi)
    if d is None:
        return []
    a, b = d
    return inside(cases(a, b, (a + b) // 2), *[d] * width)


def single(params: Params, lo: int, hi: int, more: tuple = ()) -> list:
    return [[v] for v in values(params, lo, hi, more)]


def pairs(params: Params, lo: int, hi: int) -> list:
    """Two inputs from one domain: equal pairs at both bounds, the bounds both ways, -1 and 1,
    consecutive values (coprime) and a value with its double (one divides the other)."""
    return in_range(params, lo, hi, 2, lambda a, b, m: [[a, a], [b, b], [a, b], [b, a], [0, 0], [-1, 1], [1, b],
                                                        [b, b - 1], [b // 2, 2 * (b // 2)]])


def ordered_pairs(params: Params, lo: int, hi: int) -> list:
    return in_range(params, lo, hi, 2, lambda a, b, m: [[a, a], [b, b], [a, b], [0, 0], [-1, 1], [1, b], [a, -1], [0, 1]])


def triples(params: Params, lo: int, hi: int) -> list:
    """Three inputs: all equal, the largest in each position, ties of the largest, negatives."""
    return in_range(params, lo, hi, 3, lambda a, b, m: [[a, a, a], [b, b, b], [b, a, a], [a, b, a], [a, a, b], [b, b, a],
                                                        [a, b, b], [-3, -2, -1]])


def clamp_cases(params: Params) -> list:
    """x below, inside, above [lo, hi], on either end, and lo == hi."""
    return in_range(params, -BIG, BIG, 3, lambda a, b, m: [[a, m, b], [b, a, m], [m, a, b], [a, a, b], [b, a, b], [m, m, m],
                                                            [a, b, b]])


def power_cases(params: Params) -> list:
    """Exponents 0 and 1, 0**0, odd and even powers of -1, and the largest power of 2 and of the
    range's bound that the sampler allows (``sample_power``'s exponent limit)."""
    d = clip(params.numbers, -10**6, 10**6)
    if d is None:
        return []
    a, b = d
    return [[x, e] for x, e in [[0, 0], [0, 1], [1, 12], [-1, 3], [-1, 2], [2, max_exponent(2)],
                                [b, max_exponent(b)], [a, 1], [b, 0], [a, max_exponent(a)]]
            if a <= x <= b and e <= max_exponent(x)]


def max_exponent(a: int) -> int:
    """``sample_power``'s largest exponent for base ``a`` (a**b stays well inside int64)."""
    return 12 if abs(a) < 2 else min(12, int(62 / math.log2(abs(a))))


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def prime_at_most(n: int) -> Optional[int]:
    while n >= 2:
        if is_prime(n):
            return n
        n -= 1
    return None


def prime_at_least(n: int, limit: int) -> Optional[int]:
    n = max(n, 2)
    while n <= limit:
        if is_prime(n):
            return n
        n += 1
    return None


def prime_cases(params: Params) -> list:
    """Both answers, in at most 8 cases (all of them lead the hidden tests): the range's bounds,
    0, 1, 2, the largest prime in range, the square of a prime (no factor below its root) and a
    negative prime's value."""
    d = clip(params.numbers, -10**6, 10**6)
    if d is None:
        return []
    a, b = d
    p = prime_at_most(math.isqrt(max(b, 0)))
    found = [a, b, 0, 1, 2, prime_at_most(b) or prime_at_least(a, b), p * p if p else None, -7]
    return [[v] for v in dict.fromkeys(found) if v is not None and a <= v <= b]


def divisor_cases(params: Params) -> list:
    """1, a prime, a perfect square (an odd count), numbers with many divisors."""
    d = clip(params.numbers, 1, 10**4)
    if d is None:
        return []
    b = d[1]
    more = (2, 12, 60, prime_at_most(b), math.isqrt(b) ** 2)
    return single(params, 1, 10**4, tuple(v for v in more if v is not None))


def isqrt_cases(params: Params) -> list:
    """Perfect squares and their neighbours, near 0 and near the range's top."""
    d = clip(params.numbers, 0, 10**6)
    if d is None:
        return []
    k = math.isqrt(d[1])
    return single(params, 0, 10**6, (2, 3, 4, k * k, k * k - 1))


def digit_cases(params: Params, lo: int, hi: int) -> list:
    """Nines and powers of ten (carries, trailing zeros) and the range's top rounded to tens."""
    d = clip(params.numbers, lo, hi)
    if d is None:
        return []
    return single(params, lo, hi, (9, 10, 100, d[1] // 10 * 10, -9, -10))


def arrays(params: Params) -> list:
    """``[n, v1..vn]``: one element (each bound), two elements both orders, and at the longest
    allowed length all equal, ascending, descending and alternating bounds."""
    lengths, d = clip(params.lengths, 1, 500), clip(params.numbers, -BIG, BIG)
    if lengths is None or d is None:
        return []
    (la, lb), (a, b) = lengths, d
    rising = spread(a, b, lb)
    found = [[a], [b], [b, a], [a, b], [b] * lb, rising, rising[::-1], alternate(a, b, lb), [a] * la]
    return [[len(v), *v] for v in found if la <= len(v) <= lb]


def keyed_arrays(params: Params) -> list:
    """``[x, n, v1..vn]``: x everywhere, nowhere, first, last, at odd positions only, and the
    one-element arrays that hold x or not."""
    lengths, d = clip(params.lengths, 1, 500), clip(params.numbers, -BIG, BIG)
    if lengths is None or d is None:
        return []
    (la, lb), (a, b) = lengths, d
    rising = spread(a, b, lb)
    found = [(b, [b] * lb), (a, [b] * lb), (a, [a]), (b, [a]), (a, rising), (b, rising),
             (b, alternate(a, b, lb)), (a, [b] * la)]
    return [[x, len(v), *v] for x, v in found if la <= len(v) <= lb]


def spread(a: int, b: int, n: int) -> list:
    """``n`` values rising evenly from ``a`` to ``b``."""
    return [a + (b - a) * i // max(n - 1, 1) for i in range(n)]


def alternate(a: int, b: int, n: int) -> list:
    return [(a, b)[i % 2] for i in range(n)]


def greater_cases(params: Params, consts: dict) -> list:
    """``count_greater``: values equal to K (not greater) and K + 1, one and many of them.
    Called per record (K differs): plain loops, no generators."""
    lengths, d = clip(params.lengths, 1, 500), clip(params.numbers, -BIG, BIG)
    if lengths is None or d is None:
        return []
    (la, lb), (a, b), k = lengths, d, consts["K"]
    out = []
    for v in (k, k + 1):
        if a <= v <= b:
            out.append([lb, *[v] * lb])
            if la == 1:
                out.append([1, v])
    if a <= k and k + 1 <= b and lb >= 2 and la <= lb // 2 * 2:
        out.append([lb // 2 * 2, *[k, k + 1] * (lb // 2)])
    return out


def multiple_cases(params: Params, consts: dict) -> list:
    """``sum_multiples``: n just below, at and above K and at 2K (called per record)."""
    d = clip(params.numbers, 1, 10**4)
    if d is None:
        return []
    lo, hi = d
    k = consts["K"]
    return [[v] for v in (k - 1, k, k + 1, 2 * k) if lo <= v <= hi]


def binomial_cases(params: Params, top: int) -> list:
    """C(n, k): k = 0 and k = n (1), k = 1 and n - 1 (n), the middle (the largest), n = 0 and 1."""
    d = clip(params.numbers, 0, top)
    if d is None:
        return []
    a, b = d
    cases = [[0, 0], [1, 0], [1, 1], [b, 0], [b, b], [b, 1], [b, b - 1], [b, b // 2], [b, a]]
    return [[n, k] for n, k in cases if a <= n <= b and a <= k <= n]


def inputs3(params: Params) -> list:
    """arith, random, copy: 3-value cases (a record reads 1..3 of them) of equal values (0, 1,
    -1, each bound) and of the bounds mixed."""
    return in_range(params, -BIG, BIG, 3, lambda a, b, m: [[0, 0, 0], [1, 1, 1], [-1, -1, -1], [a, a, a], [b, b, b],
                                                            [a, b, m], [b, a, m], [m, b, a]])


def distinct3(params: Params) -> list:
    """copy: the bounds and the middle in each order (each position's value differs from the others)."""
    return in_range(params, -BIG, BIG, 3, lambda a, b, m: [[a, b, m], [b, m, a], [m, a, b], [0, 1, 2], [b, a, m]])
