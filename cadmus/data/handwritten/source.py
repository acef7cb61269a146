"""The source of ``tasks.jsonl``: every hand-written task with its reference program, a Python
oracle written independently of the reference, and how its test inputs are drawn.

    python -m cadmus.data.handwritten.source        # rewrites tasks.jsonl and README.md next to it

Each task gets 5 visible tests and 8 challenge tests: the challenge tests start with the task's
hand-picked edge cases, the rest of the inputs are drawn by a generator seeded from the task id
(no input repeats within a task). Visible inputs are kept small where that makes the examples
readable; the challenge inputs then come from a wider range (``wide``). Outputs always come from
the oracle; ``cadmus data import`` then checks that the reference agrees with them on every test.

Input conventions: scalars in the order the description names them; a list is given as its
length n, then its n values (as in the ``arrays`` families).
"""
from __future__ import annotations

import datetime
import json
import math
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

N_VISIBLE, N_CHALLENGE = 5, 8


@dataclass(frozen=True)
class Spec:
    id: str
    description: str
    reference: str
    oracle: Callable  # input list -> output list
    sample: Callable  # random.Random -> input list
    edges: list = field(default_factory=list)  # hand-picked challenge inputs
    level: int = 1
    wide: Optional[Callable] = None  # the challenge inputs' sampler when wider than the visible ones


def scalars(*ranges):
    return lambda rng: [rng.randint(lo, hi) for lo, hi in ranges]


def array(lengths=(1, 10), values=(-50, 50)):
    def draw(rng):
        n = rng.randint(*lengths)
        return [n] + [rng.randint(*values) for _ in range(n)]
    return draw


def items(inputs: list) -> list:
    """The list part of an array input ``[n, v1..vn]``."""
    return inputs[1:1 + inputs[0]]


def digits(n: int) -> list:
    return [int(c) for c in str(n)]


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % p for p in range(2, math.isqrt(n) + 1))


def leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def month_days(m: int, y: int) -> int:
    return [31, 29 if leap(y) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


def date_input(rng):
    y, m = rng.randint(1600, 2400), rng.randint(1, 12)
    return [y, m, rng.randint(1, month_days(m, y))]


def smallest_factor(n: int) -> int:
    return next(p for p in range(2, n + 1) if n % p == 0)


def factors(n: int) -> list:
    out = []
    while n > 1:
        p = smallest_factor(n)
        out.append(p)
        n //= p
    return out


def persistence(n: int) -> int:
    steps = 0
    while n >= 10:
        n = math.prod(digits(n))
        steps += 1
    return steps


def happy(n: int) -> int:
    seen = set()
    while n != 1 and n not in seen:
        seen.add(n)
        n = sum(d * d for d in digits(n))
    return int(n == 1)


def kind_of_triangle(a, b, c) -> int:
    if a + b <= c or a + c <= b or b + c <= a:
        return 0
    return 1 if a == b == c else 2 if len({a, b, c}) == 2 else 3


def collatz(n: int) -> list:
    seq = [n]
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        seq.append(n)
    return seq


def first_max_index(xs) -> int:
    return xs.index(max(xs))


def longest_run(xs) -> int:
    best = cur = 1
    for p, q in zip(xs, xs[1:]):
        cur = cur + 1 if p == q else 1
        best = max(best, cur)
    return best


def kadane(xs) -> int:
    best = cur = xs[0]
    for x in xs[1:]:
        cur = max(cur + x, x)
        best = max(best, cur)
    return best


def majority(xs) -> int:
    for x in set(xs):
        if 2 * xs.count(x) > len(xs):
            return x
    return -1


def balanced(xs) -> int:
    total = 0
    for x in xs:
        total += x
        if total < 0:
            return 0
    return int(total == 0)


def mode(xs) -> int:
    return min(set(xs), key=lambda x: (-xs.count(x), x))


def dedup_runs(xs) -> list:
    return [x for i, x in enumerate(xs) if i == 0 or xs[i - 1] != x]


def swap_pairs(xs) -> list:
    out = list(xs)
    for i in range(0, len(xs) - 1, 2):
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def fizz(k: int) -> int:
    return 0 if k % 15 == 0 else -3 if k % 3 == 0 else -5 if k % 5 == 0 else k


def two_lists(rng):
    a = sorted(rng.randint(-20, 20) for _ in range(rng.randint(1, 6)))
    b = sorted(rng.randint(-20, 20) for _ in range(rng.randint(1, 6)))
    return [len(a), *a, len(b), *b]


def merged(inputs) -> list:
    n = inputs[0]
    return sorted(inputs[1:1 + n] + inputs[2 + n:])


def brackets(rng):
    """1s and -1s; half of the time a balanced sequence."""
    if rng.random() < 0.5:
        n, depth, xs = 2 * rng.randint(1, 6), 0, []
        for i in range(n):
            up = depth == 0 or (depth < n - i and rng.random() < 0.5)
            depth += 1 if up else -1
            xs.append(1 if up else -1)
        return [n, *xs]
    n = rng.randint(1, 12)
    return [n] + [rng.choice((1, -1)) for _ in range(n)]


def palindrome_or_not(rng):
    s = str(rng.randint(1, 99999))
    return [int(s + s[::-1][rng.randint(0, 1):])] if rng.random() < 0.5 else [int(s)]


def sorted_or_not(rng):
    xs = items(array((1, 8), (0, 9))(rng))
    return [len(xs), *(sorted(xs) if rng.random() < 0.5 else xs)]


def right_or_not(rng):
    k = rng.randint(1, 9)
    if rng.random() < 0.5:
        return rng.sample([3 * k, 4 * k, 5 * k], 3)
    return [rng.randint(0, 30) for _ in range(3)]


def two_rectangles(rng):
    out = []
    for _ in range(2):
        x, y = rng.randint(-10, 10), rng.randint(-10, 10)
        out += [x, y, x + rng.randint(1, 20), y + rng.randint(1, 20)]
    return out


def base_digits(n: int, base: int) -> list:
    out = []
    while True:
        out.append(n % base)
        n //= base
        if n == 0:
            return out


def gray_decode(g: int) -> int:
    """Bit by bit from the top: each binary bit is the previous binary bit XOR the Gray bit."""
    n, bit = 0, 0
    for i in range(g.bit_length() - 1, -1, -1):
        bit ^= (g >> i) & 1
        n |= bit << i
    return n


def skewed_digits(rng):
    """A list of digits drawn mostly from two of them, so that a majority is common."""
    n = rng.randint(1, 12)
    pool = [rng.randint(0, 9) for _ in range(2)]
    return [n] + [rng.choice(pool) if rng.random() < 0.6 else rng.randint(0, 9) for _ in range(n)]


NUMBERS = [  # tasks on scalars
    Spec("leap_year", "Output 1 if the given year is a leap year in the Gregorian calendar, otherwise 0.", """
in a
mod b a 400
jz b yes
mod b a 100
jz b no
mod b a 4
jz b yes
no:
mov c 0
jmp end
yes:
mov c 1
end:
out c
""", lambda x: [int(leap(x[0]))], scalars((1, 3000)), [[1900], [2000], [2024], [2023], [4]]),
    Spec("popcount", "Count how many 1 bits there are in the binary form of a non-negative number.", """
in a
mov b 0
loop:
jz a done
and c a 1
add b b c
shr a a 1
jmp loop
done:
out b
""", lambda x: [bin(x[0]).count("1")], scalars((0, 300)), [[0], [1], [255], [1023], [2**40]], wide=scalars((0, 10**9))),
    Spec("digital_root", "Keep adding up the decimal digits of a non-negative number until a single digit is "
         "left, and output that digit.", """
in a
outer:
jlt a 10 done
mov b 0
inner:
mod c a 10
add b b c
div a a 10
jnz a inner
mov a b
jmp outer
done:
out a
""", lambda x: [0 if x[0] == 0 else 1 + (x[0] - 1) % 9], scalars((0, 9999)), [[0], [9], [10], [99999999999], [38]],
         wide=scalars((0, 10**12))),
    Spec("palindrome_number", "Output 1 if the decimal digits of a non-negative number read the same forwards "
         "and backwards, else 0.", """
in a
mov b a
mov c 0
loop:
jz b done
mod d b 10
mul c c 10
add c c d
div b b 10
jmp loop
done:
eq e c a
out e
""", lambda x: [int(str(x[0]) == str(x[0])[::-1])],
         palindrome_or_not, [[0], [7], [10], [1221], [12321], [12331]]),
    Spec("sum_of_squares", "Add up the squares of all whole numbers from 1 to n.", """
in a
mov b 0
loop:
jz a done
mul c a a
add b b c
dec a
jmp loop
done:
out b
""", lambda x: [sum(k * k for k in range(1, x[0] + 1))], scalars((0, 12)), [[0], [1], [2], [1000]],
         wide=scalars((0, 1000))),
    Spec("count_digits", "How many decimal digits does a non-negative number have? Zero counts as one digit.", """
in a
mov b 1
loop:
jlt a 10 done
div a a 10
inc b
jmp loop
done:
out b
""", lambda x: [len(str(x[0]))], lambda rng: [rng.randint(0, 10**rng.randint(1, 15))],
         [[0], [9], [10], [99], [100], [10**18]]),
    Spec("median_of_three", "Output the middle one of three numbers: the value that would come second if "
         "they were sorted.", """
in a
in b
in c
min d a b
max e a b
min f e c
max g d f
out g
""", lambda x: [sorted(x)[1]], scalars((-100, 100), (-100, 100), (-100, 100)),
         [[1, 1, 1], [3, 2, 1], [1, 3, 2], [5, 5, -5], [-7, 0, -7]]),
    Spec("days_in_month", "Given a month number from 1 to 12 and a year, output how many days that month has, "
         "taking leap years into account.", """
in a
in b
mov c 31
jeq a 4 thirty
jeq a 6 thirty
jeq a 9 thirty
jeq a 11 thirty
jne a 2 done
mov c 28
mod d b 400
jz d leapday
mod d b 100
jz d done
mod d b 4
jnz d done
leapday:
mov c 29
jmp done
thirty:
mov c 30
done:
out c
""", lambda x: [month_days(*x)], scalars((1, 12), (1600, 2400)),
         [[2, 1900], [2, 2000], [2, 2023], [2, 2024], [12, 1999]]),
    Spec("max_digit", "Output the largest decimal digit of a non-negative number.", """
in a
mov b 0
loop:
mod c a 10
max b b c
div a a 10
jnz a loop
out b
""", lambda x: [max(digits(x[0]))], scalars((0, 99999)), [[0], [5], [10], [909], [123456789]],
         wide=scalars((0, 10**9))),
    Spec("digit_product", "Multiply together all the decimal digits of a non-negative number.", """
in a
mov b 1
loop:
mod c a 10
mul b b c
div a a 10
jnz a loop
out b
""", lambda x: [math.prod(digits(x[0]))], scalars((0, 9999)), [[0], [7], [10], [999], [111111]],
         wide=scalars((0, 10**9))),
    Spec("factorial_trailing_zeros", "How many zeros are at the end of n factorial (n! written in decimal)?", """
in a
mov b 0
loop:
div a a 5
add b b a
jnz a loop
out b
""", lambda x: [sum(x[0] // 5**k for k in range(1, 30))], scalars((0, 200)), [[0], [4], [5], [25], [100]], 2,
         wide=scalars((0, 10**6))),
    Spec("smallest_prime_factor", "Output the smallest prime number that divides n, for n of at least 2.", """
in a
mov b 2
loop:
mul c b b
jgt c a prime
mod d a b
jz d found
inc b
jmp loop
prime:
mov b a
found:
out b
""", lambda x: [smallest_factor(x[0])], scalars((2, 200)), [[2], [3], [4], [97], [9409], [99991]], 2,
         wide=scalars((2, 10**5))),
    Spec("largest_prime_factor", "Output the largest prime factor of n, for n of at least 2.", """
in a
mov b 2
mov e 1
loop:
mul c b b
jgt c a rest
mod d a b
jnz d next
div a a b
mov e b
jmp loop
next:
inc b
jmp loop
rest:
max e e a
out e
""", lambda x: [max(factors(x[0]))], scalars((2, 500)), [[2], [8], [9], [97], [600851], [1024]], 2,
         wide=scalars((2, 10**6))),
    Spec("perfect_number", "Output 1 if n equals the sum of its divisors that are smaller than n itself "
         "(like 28 = 1 + 2 + 4 + 7 + 14), else 0.", """
in a
mov b 0
mov c 1
loop:
mul d c c
jgt d a done
mod e a c
jnz e next
jeq c a skip
add b b c
skip:
div f a c
jeq f c next
jeq f a next
add b b f
next:
inc c
jmp loop
done:
eq g b a
out g
""", lambda x: [int(sum(d for d in range(1, x[0]) if x[0] % d == 0) == x[0])],
         lambda rng: [rng.choice([6, 28, 496, 8128]) if rng.random() < 0.3 else rng.randint(1, 10000)],
         [[1], [6], [28], [496], [8128], [12]], 2),
    Spec("next_prime", "Output the smallest prime number that is greater than or equal to n.", """
in a
max a a 2
candidate:
mov b 2
test:
mul c b b
jgt c a found
mod d a b
jz d bump
inc b
jmp test
bump:
inc a
jmp candidate
found:
out a
""", lambda x: [next(p for p in range(max(x[0], 2), 2 * max(x[0], 2) + 2) if is_prime(p))], scalars((0, 200)),
         [[0], [1], [2], [14], [89], [90]], 2, wide=scalars((0, 10**5))),
    Spec("nth_prime", "Output the n-th prime number, counting 2 as the first one.", """
in a
mov b 1
mov e 0
next:
inc b
mov c 2
test:
mul d c c
jgt d b isprime
mod f b c
jz f next
inc c
jmp test
isprime:
inc e
jlt e a next
out b
""", lambda x: [[p for p in range(2, 1000) if is_prime(p)][x[0] - 1]], scalars((1, 15)), [[1], [2], [3], [25], [50]], 2,
         wide=scalars((1, 50))),
    Spec("prime_count", "Count the prime numbers that are less than or equal to n.", """
in a
mov b 1
mov e 0
next:
inc b
jgt b a done
mov c 2
test:
mul d c c
jgt d b isprime
mod f b c
jz f next
inc c
jmp test
isprime:
inc e
jmp next
done:
out e
""", lambda x: [sum(is_prime(k) for k in range(x[0] + 1))], scalars((0, 40)), [[0], [1], [2], [3], [100], [300]], 2,
         wide=scalars((0, 300))),
    Spec("euler_totient", "Count the numbers from 1 to n that share no factor greater than 1 with n.", """
in a
mov b 0
mov c 1
loop:
jgt c a done
mov d a
mov e c
gcd:
jz e gcddone
mod f d e
mov d e
mov e f
jmp gcd
gcddone:
jne d 1 skip
inc b
skip:
inc c
jmp loop
done:
out b
""", lambda x: [sum(math.gcd(k, x[0]) == 1 for k in range(1, x[0] + 1))], scalars((1, 60)),
         [[1], [2], [12], [97], [360]], 2, wide=scalars((1, 500))),
    Spec("multiplicative_persistence", "Count how many times you have to replace a non-negative number by the "
         "product of its decimal digits before a single digit is left.", """
in a
mov b 0
outer:
jlt a 10 done
mov c 1
inner:
mod d a 10
mul c c d
div a a 10
jnz a inner
mov a c
inc b
jmp outer
done:
out b
""", lambda x: [persistence(x[0])], scalars((0, 999)), [[0], [9], [10], [39], [277777788888899]], 2,
         wide=scalars((0, 10**12))),
    Spec("modular_power", "Compute a to the power b, then take the remainder modulo m; the input is a, b and m, "
         "with b at least 0 and m at least 1.", """
in a
in b
in c
mod a a c
mov d 1
mod d d c
loop:
jz b done
and e b 1
jz e square
mul d d a
mod d d c
square:
mul a a a
mod a a c
shr b b 1
jmp loop
done:
out d
""", lambda x: [pow(x[0], x[1], x[2])], scalars((0, 20), (0, 20), (1, 50)),
         [[2, 10, 1000], [5, 0, 7], [5, 3, 1], [0, 0, 13], [123456, 789, 1000000]], 2,
         wide=scalars((0, 10**6), (0, 10**9), (1, 10**6))),
    Spec("cube_root", "Output the integer cube root of a non-negative number, rounded down.", """
in a
mov b 0
loop:
add c b 1
mul d c c
mul d d c
jgt d a done
mov b c
jmp loop
done:
out b
""", lambda x: [next(r for r in range(2000) if (r + 1) ** 3 > x[0])], scalars((0, 2000)),
         [[0], [1], [7], [8], [26], [27], [10**9]], wide=scalars((0, 10**9))),
    Spec("is_power_of_two", "Output 1 if n is a power of two (1, 2, 4, 8, and so on), else 0.", """
in a
mov b 0
jle a 0 done
sub c a 1
and c c a
eq b c 0
done:
out b
""", lambda x: [int(x[0] > 0 and x[0] & (x[0] - 1) == 0)],
         lambda rng: [2 ** rng.randint(0, 40) + rng.choice((0, 0, 1, -1))], [[0], [1], [-8], [6], [2**62]]),
    Spec("highest_power_of_two", "Output the largest power of two that is not bigger than n, for n of at least 1.", """
in a
mov b 1
loop:
shl c b 1
jgt c a done
mov b c
jmp loop
done:
out b
""", lambda x: [1 << (x[0].bit_length() - 1)], scalars((1, 300)), [[1], [2], [3], [1024], [1023]],
         wide=scalars((1, 10**12))),
    Spec("seconds_to_clock", "Split a number of seconds into whole hours, then the minutes left, then the seconds "
         "left, and output the three numbers.", """
in a
div b a 3600
mod a a 3600
div c a 60
mod d a 60
out b
out c
out d
""", lambda x: [x[0] // 3600, x[0] % 3600 // 60, x[0] % 60], scalars((0, 20000)), [[0], [59], [60], [3600], [86399]],
         wide=scalars((0, 10**6))),
    Spec("sort_three", "Output three numbers in increasing order.", """
in a
in b
in c
min d a b
max e a b
min f e c
max g e c
min h d f
max i d f
out h
out i
out g
""", lambda x: sorted(x), scalars((-100, 100), (-100, 100), (-100, 100)),
         [[1, 1, 1], [3, 2, 1], [2, 3, 1], [0, -1, 0]]),
    Spec("steps_to_zero", "Start from n; while it is not zero, halve it if it is even or subtract one if it is "
         "odd. Output how many steps that takes.", """
in a
mov b 0
loop:
jz a done
and c a 1
jz c even
dec a
jmp count
even:
shr a a 1
count:
inc b
jmp loop
done:
out b
""", lambda x: [bin(x[0]).count("1") + x[0].bit_length() - 1 if x[0] else 0], scalars((0, 100)),
         [[0], [1], [2], [15], [1024]], wide=scalars((0, 10**9))),
    Spec("hamming_distance", "Count the bit positions at which the binary forms of two non-negative numbers "
         "differ.", """
in a
in b
xor c a b
mov d 0
loop:
jz c done
and e c 1
add d d e
shr c c 1
jmp loop
done:
out d
""", lambda x: [bin(x[0] ^ x[1]).count("1")], scalars((0, 63), (0, 63)), [[0, 0], [1, 4], [7, 7], [0, 1023]],
         wide=scalars((0, 10**6), (0, 10**6))),
    Spec("gray_decode", "The input is a number in reflected binary Gray code; output the ordinary number it "
         "encodes.", """
in a
mov b a
loop:
shr a a 1
jz a done
xor b b a
jmp loop
done:
out b
""", lambda x: [gray_decode(x[0])], scalars((0, 63)),
         [[0], [1], [2], [3], [2**19]], 2, wide=scalars((0, 2**20 - 1))),
    Spec("triangle_kind", "Given three side lengths, output 0 if they cannot form a proper triangle, 1 if all "
         "three sides are equal, 2 if exactly two are equal, and 3 if all differ.", """
in a
in b
in c
mov d 0
add e a b
jle e c done
add e a c
jle e b done
add e b c
jle e a done
mov d 1
jne a b notall
jeq b c done
notall:
mov d 2
jeq a b done
jeq b c done
jeq a c done
mov d 3
done:
out d
""", lambda x: [kind_of_triangle(*x)], scalars((1, 10), (1, 10), (1, 10)),
         [[3, 3, 3], [1, 2, 3], [2, 2, 3], [3, 4, 5], [5, 3, 3], [1, 1, 9]]),
    Spec("right_triangle", "Output 1 if the three numbers, taken in any order, are the side lengths of a "
         "right-angled triangle, else 0.", """
in a
in b
in c
min d a b
max e a b
min f e c
max g e c
min h d f
max i d f
mul j h h
mul k i i
add j j k
mul k g g
eq l j k
gt m h 0
and l l m
out l
""", lambda x: [int(sorted(x)[0] > 0 and sorted(x)[0] ** 2 + sorted(x)[1] ** 2 == sorted(x)[2] ** 2)],
         right_or_not,
         [[5, 4, 3], [0, 0, 0], [5, 12, 13], [6, 8, 11], [0, 5, 5]]),
    Spec("manhattan_distance", "Output the city-block distance between the points (x1, y1) and (x2, y2), given "
         "as x1, y1, x2, y2.", """
in a
in b
in c
in d
sub e a c
abs e e
sub f b d
abs f f
add e e f
out e
""", lambda x: [abs(x[0] - x[2]) + abs(x[1] - x[3])], scalars(*[(-1000, 1000)] * 4), [[0, 0, 0, 0], [1, 1, -1, -1]]),
    Spec("rectangle_overlap", "Two rectangles with sides parallel to the axes are given by their corners x1, y1, "
         "x2, y2 (with x1 < x2 and y1 < y2), one after the other. Output the area they have in common.", """
in a
in b
in c
in d
in e
in f
in g
in h
max i a e
min j c g
sub i j i
max i i 0
max k b f
min l d h
sub k l k
max k k 0
mul i i k
out i
""", lambda x: [max(0, min(x[2], x[6]) - max(x[0], x[4])) * max(0, min(x[3], x[7]) - max(x[1], x[5]))],
         two_rectangles,
         [[0, 0, 2, 2, 2, 0, 4, 2], [0, 0, 10, 10, 2, 2, 3, 3], [0, 0, 1, 1, 5, 5, 6, 6]], 2),
    Spec("digit_sum_in_base", "Write n in base b (b is between 2 and 10) and add up its digits; the input is n "
         "then b.", """
in a
in b
mov c 0
loop:
mod d a b
add c c d
div a a b
jnz a loop
out c
""", lambda x: [sum(base_digits(*x))],
         scalars((0, 10**9), (2, 10)), [[0, 2], [255, 2], [80, 3], [999, 10]]),
    Spec("tribonacci", "Tribonacci numbers start 0, 0, 1 and each later one is the sum of the three before it. "
         "Output the n-th one, counting from 0.", """
in a
mov b 0
mov c 0
mov d 1
loop:
jz a done
add e b c
add e e d
mov b c
mov c d
mov d e
dec a
jmp loop
done:
out b
""", lambda x: [_trib(x[0])], scalars((0, 12)), [[0], [1], [2], [3], [45]], wide=scalars((0, 45))),
    Spec("pell_number", "The Pell numbers start 0, 1 and each later one is twice the previous one plus the one "
         "before that. Output the n-th one, counting from 0.", """
in a
mov b 0
mov c 1
loop:
jz a done
mul d c 2
add d d b
mov b c
mov c d
dec a
jmp loop
done:
out b
""", lambda x: [_linear(x[0], 0, 1, 2, 1)], scalars((0, 12)), [[0], [1], [2], [40]], wide=scalars((0, 40))),
    Spec("catalan_number", "Output the n-th Catalan number, counting from 0 (they go 1, 1, 2, 5, 14, 42, ...).", """
in a
mov b 1
mov c 0
loop:
jge c a done
mul d c 4
add d d 2
mul b b d
add e c 2
div b b e
inc c
jmp loop
done:
out b
""", lambda x: [math.comb(2 * x[0], x[0]) // (x[0] + 1)], scalars((0, 10)), [[0], [1], [2], [30]],
         wide=scalars((0, 30))),
    Spec("happy_number", "A number is happy if repeatedly replacing it by the sum of the squares of its digits "
         "eventually gives 1. Output 1 if the positive number n is happy, else 0.", """
in a
loop:
jeq a 1 done
jeq a 4 done
mov b 0
digit:
mod c a 10
mul c c c
add b b c
div a a 10
jnz a digit
mov a b
jmp loop
done:
eq d a 1
out d
""", lambda x: [happy(x[0])], scalars((1, 100)), [[1], [4], [7], [19], [20]], 2, wide=scalars((1, 10**6))),
    Spec("armstrong_number", "Output 1 if n equals the sum of its decimal digits, each raised to the power of the "
         "number of digits (as 153 = 1^3 + 5^3 + 3^3), else 0.", """
in a
mov b a
mov c 0
count:
inc c
div b b 10
jnz b count
mov b a
mov d 0
sum:
mod e b 10
pow e e c
add d d e
div b b 10
jnz b sum
eq f d a
out f
""", lambda x: [int(sum(d ** len(str(x[0])) for d in digits(x[0])) == x[0])],
         lambda rng: [rng.choice([153, 370, 371, 407, 1634, 8208, 9474]) if rng.random() < 0.3
                      else rng.randint(0, 10**5)],
         [[0], [9], [10], [153], [154], [9474]], 2),
    Spec("square_of_sum_minus_sum_of_squares", "For the numbers 1 to n, output the square of their sum minus the "
         "sum of their squares.", """
in a
mov b 0
mov c 0
loop:
jz a done
add b b a
mul d a a
add c c d
dec a
jmp loop
done:
mul b b b
sub b b c
out b
""", lambda x: [sum(range(x[0] + 1)) ** 2 - sum(k * k for k in range(x[0] + 1))], scalars((0, 12)),
         [[0], [1], [2], [10]],
         wide=scalars((0, 1000))),
    Spec("last_digit_to_front", "Move the last decimal digit of a non-negative number to the front, so 1234 "
         "becomes 4123 (a leading zero is dropped: 120 becomes 12).", """
in a
mod b a 10
div c a 10
mov d 1
mov e c
loop:
jz e done
mul d d 10
div e e 10
jmp loop
done:
mul b b d
add b b c
out b
""", lambda x: [int(str(x[0])[-1] + str(x[0])[:-1])], scalars((0, 99999)), [[0], [5], [10], [120], [1234]],
         wide=scalars((0, 10**9))),
    Spec("alternating_digit_sum", "Add and subtract the decimal digits of a non-negative number alternately, "
         "starting by adding the last digit, then subtracting the one before it, and so on.", """
in a
mov b 0
mov c 1
loop:
mod d a 10
mul d d c
add b b d
neg c c
div a a 10
jnz a loop
out b
""", lambda x: [sum(d * (-1) ** i for i, d in enumerate(reversed(digits(x[0]))))], scalars((0, 99999)),
         [[0], [9], [10], [121], [909090]], wide=scalars((0, 10**9))),
    Spec("collatz_peak", "Follow the Collatz sequence from n (halve an even number, turn an odd number x into "
         "3x + 1) until it reaches 1, and output the largest number met on the way.", """
in a
mov b a
loop:
jeq a 1 done
and c a 1
jz c even
mul a a 3
inc a
max b b a
jmp loop
even:
div a a 2
jmp loop
done:
out b
""", lambda x: [max(collatz(x[0]))], scalars((1, 40)), [[1], [2], [3], [27], [8192]], 2, wide=scalars((1, 10000))),
    Spec("floor_log2", "Output the floor of the base-2 logarithm of a positive number, that is the position of "
         "its highest 1 bit counting from 0.", """
in a
mov b -1
loop:
jz a done
shr a a 1
inc b
jmp loop
done:
out b
""", lambda x: [x[0].bit_length() - 1], scalars((1, 1000)), [[1], [2], [3], [4], [2**62]], wide=scalars((1, 10**15))),
    Spec("even_fibonacci_sum", "Add up the even numbers of the Fibonacci sequence 1, 2, 3, 5, 8, ... that do not "
         "exceed n.", """
in a
mov b 1
mov c 2
mov d 0
loop:
jgt c a done
and e c 1
jnz e skip
add d d c
skip:
add f b c
mov b c
mov c f
jmp loop
done:
out d
""", lambda x: [sum(f for f in _fibs(x[0]) if f % 2 == 0)], scalars((0, 200)), [[0], [1], [2], [8], [34]],
         wide=scalars((0, 10**12))),
    Spec("reverse_byte", "Reverse the order of the eight bits of a number from 0 to 255 (the lowest bit becomes "
         "the highest) and output the result.", """
in a
mov b 0
mov c 8
loop:
shl b b 1
and d a 1
or b b d
shr a a 1
dec c
jnz c loop
out b
""", lambda x: [int(format(x[0], "08b")[::-1], 2)], scalars((0, 255)), [[0], [1], [128], [255], [6]]),
    Spec("count_digit", "Count how many times the digit d appears in the decimal form of the non-negative number "
         "n; the input is n then d.", """
in a
in b
mov c 0
loop:
mod d a 10
jne d b skip
inc c
skip:
div a a 10
jnz a loop
out c
""", lambda x: [str(x[0]).count(str(x[1]))], lambda rng: [int("".join(rng.choice("01237") for _ in range(
         rng.randint(1, 12)))), rng.choice([0, 1, 2, 3, 7, 9])], [[0, 0], [0, 5], [1000, 0], [777, 7]]),
    Spec("lcm_up_to_n", "Output the smallest positive number that every whole number from 1 to n divides.", """
in a
mov b 1
mov c 1
loop:
jgt c a done
mov d b
mov e c
gcd:
jz e gcddone
mod f d e
mov d e
mov e f
jmp gcd
gcddone:
div g b d
mul b g c
inc c
jmp loop
done:
out b
""", lambda x: [math.lcm(*range(1, x[0] + 1)) if x[0] else 1], scalars((1, 12)), [[1], [2], [10], [40]], 2,
         wide=scalars((1, 40))),
    Spec("perfect_square", "Output 1 if n is the square of a whole number, else 0.", """
in a
mov b 0
loop:
mul c b b
jge c a done
inc b
jmp loop
done:
eq d c a
out d
""", lambda x: [int(x[0] >= 0 and math.isqrt(x[0]) ** 2 == x[0])],
         lambda rng: [rng.randint(0, 999) ** 2 + rng.choice((0, 0, 1, -1))], [[0], [1], [2], [-4], [998001]]),
    Spec("sum_of_two_squares", "Output 1 if the non-negative number n can be written as a*a + b*b for whole "
         "numbers a and b (zero allowed), else 0.", """
in a
mov b 0
mov c 0
root:
add d c 1
mul d d d
jgt d a search
inc c
jmp root
search:
jgt b c no
mul d b b
mul e c c
add d d e
jeq d a yes
jlt d a up
dec c
jmp search
up:
inc b
jmp search
no:
mov f 0
jmp end
yes:
mov f 1
end:
out f
""", lambda x: [int(any(math.isqrt(x[0] - i * i) ** 2 == x[0] - i * i for i in range(math.isqrt(x[0]) + 1)))],
         scalars((0, 100)), [[0], [1], [3], [25], [99999], [50]], 2, wide=scalars((0, 10**5))),
    Spec("next_palindrome", "Output the smallest number larger than n whose decimal digits read the same "
         "forwards and backwards; n is at least 0.", """
in a
next:
inc a
mov b a
mov c 0
reverse:
mod d b 10
mul c c 10
add c c d
div b b 10
jnz b reverse
jne c a next
out a
""", lambda x: [next(k for k in range(x[0] + 1, 10 * x[0] + 12) if str(k) == str(k)[::-1])], scalars((0, 10**4)),
         [[0], [9], [10], [99], [808], [9999]], 2),
    Spec("staircase_rows", "You stack n coins into rows of 1, 2, 3, ... coins. Output how many complete rows you "
         "can build.", """
in a
mov b 0
loop:
add c b 1
jgt c a done
sub a a c
mov b c
jmp loop
done:
out b
""", lambda x: [(math.isqrt(8 * x[0] + 1) - 1) // 2], scalars((0, 30)), [[0], [1], [2], [3], [6], [10**6]],
         wide=scalars((0, 10**6))),
    Spec("clock_angle", "Given the hours (0 to 23) and minutes (0 to 59) of a time, output the smaller angle "
         "between the clock's hour and minute hands in degrees, rounded down.", """
in a
in b
mod a a 12
mul a a 60
mul c b 11
sub a a c
abs a a
sub d 720 a
min a a d
div a a 2
out a
""", lambda x: [min(abs(60 * (x[0] % 12) - 11 * x[1]), 720 - abs(60 * (x[0] % 12) - 11 * x[1])) // 2],
         scalars((0, 23), (0, 59)), [[0, 0], [12, 0], [6, 0], [3, 30], [23, 59]]),
    Spec("leap_years_between", "Count the leap years from year a to year b inclusive; the input is a then b.", """
in a
in b
mov c 0
loop:
jgt a b done
mod d a 400
jz d isleap
mod d a 100
jz d skip
mod d a 4
jnz d skip
isleap:
inc c
skip:
inc a
jmp loop
done:
out c
""", lambda x: [sum(leap(y) for y in range(x[0], x[1] + 1))],
         lambda rng: [a := rng.randint(1500, 2500), a + rng.randint(0, 500)],
         [[2000, 2000], [1900, 1900], [2001, 2003], [1600, 2400], [2020, 2019]], 2),
    Spec("day_of_week", "Given a date as year, month and day in the Gregorian calendar, output its day of the "
         "week, with 0 for Sunday, 1 for Monday and so on up to 6 for Saturday.", """
in a
in b
in c
store 1 0
store 2 3
store 3 2
store 4 5
store 5 0
store 6 3
store 7 5
store 8 1
store 9 4
store 10 6
store 11 2
store 12 4
jge b 3 march
dec a
march:
div d a 4
div e a 100
div f a 400
add g a d
sub g g e
add g g f
load h b
add g g h
add g g c
mod g g 7
out g
""", lambda x: [datetime.date(*x).isoweekday() % 7], date_input,
         [[2000, 1, 1], [2024, 2, 29], [1970, 1, 1], [2100, 12, 31]], 3),
    Spec("day_of_year", "Given a date as year, month and day in the Gregorian calendar, output which day of the "
         "year it is, counting January 1 as day 1.", """
in a
in b
in c
mov d c
mov e 1
loop:
jge e b done
mov f 31
jeq e 4 thirty
jeq e 6 thirty
jeq e 9 thirty
jeq e 11 thirty
jne e 2 plus
mov f 28
mod g a 400
jz g isleap
mod g a 100
jz g plus
mod g a 4
jnz g plus
isleap:
mov f 29
jmp plus
thirty:
mov f 30
plus:
add d d f
inc e
jmp loop
done:
out d
""", lambda x: [datetime.date(*x).timetuple().tm_yday], date_input,
         [[2000, 12, 31], [2023, 12, 31], [2024, 3, 1], [1900, 3, 1]], 3),
]

LISTS = [  # tasks that read a list (length first, then the values) and output a few numbers
    Spec("list_spread", "The input is a list, given as its length and then its values. Output the largest value "
         "minus the smallest value.", """
in a
in b
mov c b
mov d b
dec a
loop:
jz a done
in e
min c c e
max d d e
dec a
jmp loop
done:
sub f d c
out f
""", lambda x: [max(items(x)) - min(items(x))], array(), [[1, 5], [3, -1, -1, -1], [2, -50, 50]]),
    Spec("is_non_decreasing", "The input is a list (its length, then its values). Output 1 if no value is smaller "
         "than the one before it, else 0.", """
in a
in b
mov c 1
dec a
loop:
jz a done
in d
jge d b ok
mov c 0
ok:
mov b d
dec a
jmp loop
done:
out c
""", lambda x: [int(items(x) == sorted(items(x)))],
         sorted_or_not,
         [[1, 7], [3, 1, 1, 1], [4, 1, 2, 3, 2], [2, 5, 4]]),
    Spec("count_even", "The input is a list (its length, then its values). Count how many of the values are "
         "even.", """
in a
mov b 0
loop:
jz a done
in c
mod d c 2
jnz d skip
inc b
skip:
dec a
jmp loop
done:
out b
""", lambda x: [sum(v % 2 == 0 for v in items(x))], array(), [[1, 0], [3, -1, -3, 5], [4, -2, 2, 0, 8]]),
    Spec("max_subarray_sum", "The input is a list (its length, then its values). Output the largest sum of a "
         "non-empty stretch of consecutive values.", """
in a
in b
mov c b
mov d b
dec a
loop:
jz a done
in e
add d d e
max d d e
max c c d
dec a
jmp loop
done:
out c
""", lambda x: [kadane(items(x))], array((1, 12), (-20, 20)), [[1, -5], [3, -3, -1, -2], [5, 2, -1, 2, -9, 3]], 2),
    Spec("index_of_maximum", "The input is a list (its length, then its values). Output the position of the "
         "first occurrence of its largest value, counting positions from 0.", """
in a
in b
mov c 0
mov d 1
loop:
jge d a done
in e
jle e b skip
mov b e
mov c d
skip:
inc d
jmp loop
done:
out c
""", lambda x: [first_max_index(items(x))], array((1, 10), (-9, 9)), [[1, 4], [3, 2, 2, 2], [4, -1, 5, 5, -7]]),
    Spec("count_distinct", "The input is a list (its length, then its values). Count how many different values "
         "it contains.", """
in a
mov b 0
read:
jge b a counted
in c
store b c
inc b
jmp read
counted:
mov d 0
mov e 0
outer:
jge e a done
load f e
mov g 0
inner:
jge g e new
load h g
jeq h f seen
inc g
jmp inner
new:
inc d
seen:
inc e
jmp outer
done:
out d
""", lambda x: [len(set(items(x)))], array((1, 15), (0, 6)), [[1, 3], [4, 2, 2, 2, 2], [5, 1, 2, 3, 4, 5]], 2),
    Spec("longest_equal_run", "The input is a list (its length, then its values). Output the length of the "
         "longest stretch of neighbouring values that are all equal.", """
in a
in b
mov c 1
mov d 1
dec a
loop:
jz a done
in e
jeq e b same
mov d 0
same:
inc d
max c c d
mov b e
dec a
jmp loop
done:
out c
""", lambda x: [longest_run(items(x))], array((1, 12), (0, 2)), [[1, 9], [4, 1, 2, 3, 4], [5, 7, 7, 7, 7, 7]]),
    Spec("count_peaks", "The input is a list (its length, then its values). Count the values that are strictly "
         "larger than both of their neighbours; the first and the last value never count.", """
in a
mov d 0
jlt a 3 done
in b
in c
sub a a 2
loop:
jz a done
in e
jle c b next
jle c e next
inc d
next:
mov b c
mov c e
dec a
jmp loop
done:
out d
""", lambda x: [sum(p < q > r for p, q, r in zip(items(x), items(x)[1:], items(x)[2:]))], array((1, 12), (0, 9)),
         [[1, 5], [2, 1, 9], [3, 1, 9, 1], [5, 1, 3, 3, 1, 0]], 2),
    Spec("dot_product", "The input is a length n, then the n values of a first list, then the n values of a "
         "second list. Output the sum of the products of the values at the same positions.", """
in a
mov b 0
read:
jge b a second
in c
store b c
inc b
jmp read
second:
mov b 0
mov d 0
loop:
jge b a done
in c
load e b
mul c c e
add d d c
inc b
jmp loop
done:
out d
""", lambda x: [sum(p * q for p, q in zip(x[1:1 + x[0]], x[1 + x[0]:]))],
         lambda rng: [n := rng.randint(1, 8)] + [rng.randint(-20, 20) for _ in range(2 * n)],
         [[1, 3, -4], [2, 0, 0, 5, 5], [3, 1, 2, 3, 3, 2, 1]], 2),
    Spec("total_variation", "The input is a list (its length, then its values). Add up the absolute differences "
         "between each value and the next one.", """
in a
in b
mov c 0
dec a
loop:
jz a done
in d
sub e d b
abs e e
add c c e
mov b d
dec a
jmp loop
done:
out c
""", lambda x: [sum(abs(p - q) for p, q in zip(items(x), items(x)[1:]))], array(),
         [[1, 8], [3, 5, 5, 5], [3, -10, 10, -10]]),
    Spec("alternating_sum", "The input is a list (its length, then its values). Add the values at positions 0, 2, "
         "4, ... and subtract the values at positions 1, 3, 5, ...", """
in a
mov b 0
mov c 1
loop:
jz a done
in d
mul d d c
add b b d
neg c c
dec a
jmp loop
done:
out b
""", lambda x: [sum(v if i % 2 == 0 else -v for i, v in enumerate(items(x)))], array(),
         [[1, -3], [2, 5, 5], [4, 1, 2, 3, 4]]),
    Spec("majority_element", "The input is a list of values from 0 to 9 (its length, then its values). Output the "
         "value that fills more than half of the list, or -1 if there is none.", """
in a
mov b 0
read:
jge b a vote
in c
store b c
inc b
jmp read
vote:
mov d 0
mov e 0
mov b 0
vloop:
jge b a verify
load c b
jnz e compare
mov d c
compare:
jeq c d plus
dec e
jmp vnext
plus:
inc e
vnext:
inc b
jmp vloop
verify:
mov e 0
mov b 0
cloop:
jge b a check
load c b
jne c d cskip
inc e
cskip:
inc b
jmp cloop
check:
mul e e 2
jgt e a found
mov d -1
found:
out d
""", lambda x: [majority(items(x))], skewed_digits, [[1, 0], [2, 1, 2], [4, 3, 3, 4, 4], [5, 9, 1, 9, 2, 9]], 3),
    Spec("brackets_balanced", "The input is a list of 1s and -1s (its length, then its values), read as opening "
         "and closing brackets. Output 1 if the running total never drops below zero and ends at zero, else 0.", """
in a
mov b 0
mov c 1
loop:
jz a done
in d
add b b d
jge b 0 ok
mov c 0
ok:
dec a
jmp loop
done:
jz b end
mov c 0
end:
out c
""", lambda x: [balanced(items(x))], brackets, [[2, 1, -1], [2, -1, 1], [1, 1], [4, 1, 1, -1, -1]], 2),
    Spec("bracket_depth", "The input is a list of 1s and -1s (its length, then its values). Starting from zero, "
         "add the values one by one and output the highest total reached (at least 0).", """
in a
mov b 0
mov c 0
loop:
jz a done
in d
add b b d
max c c b
dec a
jmp loop
done:
out c
""", lambda x: [max(0, max(sum(items(x)[:k + 1]) for k in range(x[0])))], brackets,
         [[1, -1], [3, 1, 1, 1], [4, 1, -1, 1, -1]]),
    Spec("pairs_with_sum", "The input is a target t, then a list (its length, then its values). Count the pairs "
         "of positions i < j whose values add up to t.", """
in a
in b
mov c 0
read:
jge c b count
in d
store c d
inc c
jmp read
count:
mov e 0
mov f 0
outer:
jge f b done
load g f
add h f 1
inner:
jge h b onext
load i h
add j g i
jne j a inext
inc e
inext:
inc h
jmp inner
onext:
inc f
jmp outer
done:
out e
""", lambda x: [sum(x[2 + i] + x[2 + j] == x[0] for i in range(x[1]) for j in range(i + 1, x[1]))],
         lambda rng: [rng.randint(0, 10)] + array((1, 10), (0, 10))(rng),
         [[4, 1, 2], [4, 2, 2, 2], [0, 4, 0, 0, 0, 0]], 2),
    Spec("bits_to_number", "The input is a list of binary digits, most significant first (its length, then the "
         "digits). Output the number they spell.", """
in a
mov b 0
loop:
jz a done
in c
shl b b 1
or b b c
dec a
jmp loop
done:
out b
""", lambda x: [int("".join(map(str, items(x))), 2)], array((1, 30), (0, 1)),
         [[1, 0], [1, 1], [4, 0, 0, 1, 1], [8, 1, 1, 1, 1, 1, 1, 1, 1]]),
    Spec("evaluate_polynomial", "Evaluate a polynomial at x. The input is x, then the number of coefficients, then "
         "the coefficients from the highest power down to the constant term.", """
in a
in b
mov c 0
loop:
jz b done
in d
mul c c a
add c c d
dec b
jmp loop
done:
out c
""", lambda x: [sum(c * x[0] ** (x[1] - 1 - i) for i, c in enumerate(x[2:2 + x[1]]))],
         lambda rng: [rng.randint(-5, 5)] + array((1, 7), (-10, 10))(rng),
         [[0, 3, 1, 2, 3], [1, 1, -9], [-2, 4, 1, 0, 0, 0]], 2),
    Spec("best_trade", "The input is a list of daily prices (its length, then the prices). Output the largest "
         "profit from buying on one day and selling on a later day, or 0 if no trade makes a profit.", """
in a
in b
mov c 0
dec a
loop:
jz a done
in d
sub e d b
max c c e
min b b d
dec a
jmp loop
done:
out c
""", lambda x: [max([0] + [q - p for i, p in enumerate(items(x)) for q in items(x)[i + 1:]])], array((1, 10), (1, 50)),
         [[1, 10], [3, 9, 5, 1], [4, 1, 2, 3, 4]], 2),
    Spec("smaller_than_first", "The input is a list (its length, then its values). Count the values after the "
         "first one that are smaller than the first one.", """
in a
in b
mov c 0
dec a
loop:
jz a done
in d
jge d b skip
inc c
skip:
dec a
jmp loop
done:
out c
""", lambda x: [sum(v < x[1] for v in items(x)[1:])], array((1, 10), (0, 9)), [[1, 5], [3, 5, 5, 5], [4, 9, 1, 2, 3]]),
    Spec("count_inversions", "The input is a list (its length, then its values). Count the pairs of positions "
         "i < j where the value at i is larger than the value at j.", """
in a
mov b 0
read:
jge b a count
in c
store b c
inc b
jmp read
count:
mov d 0
mov e 0
outer:
jge e a done
load f e
add g e 1
inner:
jge g a onext
load h g
jle f h inext
inc d
inext:
inc g
jmp inner
onext:
inc e
jmp outer
done:
out d
""", lambda x: [sum(p > q for i, p in enumerate(items(x)) for q in items(x)[i + 1:])], array((1, 15), (0, 20)),
         [[1, 1], [4, 1, 2, 3, 4], [4, 4, 3, 2, 1], [3, 2, 2, 2]], 2),
    Spec("most_frequent", "The input is a list (its length, then its values). Output the value that occurs most "
         "often; if several values tie, output the smallest of them.", """
in a
mov b 0
read:
jge b a scan
in c
store b c
inc b
jmp read
scan:
mov d 0
mov e 0
mov f 0
outer:
jge f a done
load g f
mov h 0
mov i 0
inner:
jge i a counted
load j i
jne j g inext
inc h
inext:
inc i
jmp inner
counted:
jgt h e take
jlt h e onext
jge g d onext
take:
mov d g
mov e h
onext:
inc f
jmp outer
done:
out d
""", lambda x: [mode(items(x))], array((1, 12), (-3, 3)), [[1, -2], [4, 3, 1, 3, 1], [3, 5, 4, 6]], 3),
    Spec("fixed_points", "The input is a list (its length, then its values). Count the positions, numbered from "
         "1, that hold their own number.", """
in a
mov b 0
mov c 1
loop:
jgt c a done
in d
jne d c skip
inc b
skip:
inc c
jmp loop
done:
out b
""", lambda x: [sum(v == i + 1 for i, v in enumerate(items(x)))], array((1, 10), (1, 6)),
         [[1, 1], [3, 1, 2, 3], [3, 3, 2, 1]]),
    Spec("second_largest", "The input is a list of at least two values (its length, then its values). Output the "
         "second largest value, counting repeats (for 5, 5, 3 it is 5).", """
in a
in b
in c
max d b c
min e b c
sub a a 2
loop:
jz a done
in f
jle f e skip
jle f d middle
mov e d
mov d f
jmp skip
middle:
mov e f
skip:
dec a
jmp loop
done:
out e
""", lambda x: [sorted(items(x))[-2]], array((2, 10), (-9, 9)),
         [[2, 1, 2], [3, 5, 5, 3], [3, 3, 5, 5], [4, -1, -2, -3, -4]], 2),
]

LIST_OUTPUTS = [  # tasks whose output is a list (no completion view: their outputs come from a loop)
    Spec("running_maximum", "The input is a list (its length, then its values). For each position, output the "
         "largest value seen up to and including it.", """
in a
in b
out b
dec a
loop:
jz a done
in c
max b b c
out b
dec a
jmp loop
done:
""", lambda x: [max(items(x)[:k + 1]) for k in range(x[0])], array(), [[1, 4], [3, 3, 2, 1], [3, -1, 0, 1]]),
    Spec("neighbour_differences", "The input is a list of at least two values (its length, then its values). "
         "Output each value minus the value before it, from the second value on.", """
in a
in b
dec a
loop:
jz a done
in c
sub d c b
out d
mov b c
dec a
jmp loop
done:
""", lambda x: [q - p for p, q in zip(items(x), items(x)[1:])], array((2, 10)), [[2, 0, 0], [3, 1, 4, 9]]),
    Spec("squeeze_repeats", "The input is a list (its length, then its values). Output the list with every run of "
         "equal neighbouring values shortened to one value.", """
in a
in b
out b
dec a
loop:
jz a done
in c
jeq c b same
out c
mov b c
same:
dec a
jmp loop
done:
""", lambda x: dedup_runs(items(x)), array((1, 12), (0, 3)), [[1, 7], [4, 2, 2, 2, 2], [5, 1, 2, 1, 2, 1]]),
    Spec("swap_neighbours", "The input is a list (its length, then its values). Swap the first value with the "
         "second, the third with the fourth, and so on, and output the list; a last value without a partner "
         "stays where it is.", """
in a
loop:
jz a done
in b
jeq a 1 last
in c
out c
out b
sub a a 2
jmp loop
last:
out b
done:
""", lambda x: swap_pairs(items(x)), array(), [[1, 5], [2, 1, 2], [5, 1, 2, 3, 4, 5]]),
    Spec("binary_digits", "Output the binary digits of a positive number, most significant digit first.", """
in a
mov b 0
split:
and c a 1
push c
inc b
shr a a 1
jnz a split
emit:
pop c
out c
dec b
jnz b emit
""", lambda x: [int(c) for c in bin(x[0])[2:]], scalars((1, 100)), [[1], [2], [255], [256]], wide=scalars((1, 10**6))),
    Spec("divisors", "Output every positive divisor of n in increasing order, for n of at least 1.", """
in a
mov b 1
loop:
jgt b a done
mod c a b
jnz c next
out b
next:
inc b
jmp loop
done:
""", lambda x: [d for d in range(1, x[0] + 1) if x[0] % d == 0], scalars((1, 60)), [[1], [2], [12], [997], [720]], 2,
         wide=scalars((1, 2000))),
    Spec("fizz_buzz_numbers", "For every number k from 1 to n, output 0 if k is divisible by 15, -3 if it is "
         "divisible by 3 only, -5 if it is divisible by 5 only, and k itself otherwise.", """
in a
mov b 1
loop:
jgt b a done
mov c b
mod d b 3
jnz d five
mov c -3
five:
mod d b 5
jnz d fifteen
mov c -5
fifteen:
mod d b 15
jnz d emit
mov c 0
emit:
out c
inc b
jmp loop
done:
""", lambda x: [fizz(k) for k in range(1, x[0] + 1)], scalars((1, 40)), [[1], [3], [5], [15], [30]], 2),
    Spec("collatz_sequence", "Output the Collatz sequence that starts at n (a positive number): halve an even "
         "number, turn an odd number x into 3x + 1, and stop after printing 1.", """
in a
loop:
out a
jeq a 1 done
and b a 1
jz b even
mul a a 3
inc a
jmp loop
even:
div a a 2
jmp loop
done:
""", lambda x: collatz(x[0]), scalars((1, 30)), [[1], [2], [3], [27], [128]], 2),
    Spec("prime_factors", "Output the prime factors of n (at least 2) in increasing order, each repeated as many "
         "times as it divides n.", """
in a
mov b 2
loop:
mul c b b
jgt c a last
mod d a b
jnz d next
out b
div a a b
jmp loop
next:
inc b
jmp loop
last:
jeq a 1 done
out a
done:
""", lambda x: factors(x[0]), scalars((2, 300)), [[2], [4], [97], [1024], [360], [999983]], 2,
         wide=scalars((2, 10**6))),
    Spec("merge_sorted", "The input is two lists sorted in increasing order, each given as its length and then its "
         "values, one after the other. Output all their values merged into one increasing list.", """
in a
mov b 0
first:
jge b a readsecond
in c
store b c
inc b
jmp first
readsecond:
in d
add d d a
second:
jge b d merge
in c
store b c
inc b
jmp second
merge:
mov e 0
mov f a
pick:
jge e a takesecond
jge f d takefirst
load g e
load h f
jle g h takefirst
takesecond:
jge f d done
load h f
out h
inc f
jmp pick
takefirst:
load g e
out g
inc e
jmp pick
done:
""", merged, two_lists, [[1, 1, 1, 1], [1, 5, 3, 1, 2, 3], [2, -1, 0, 2, -1, 0]], 3),
]

SPECS = NUMBERS + LISTS + LIST_OUTPUTS


def _trib(n: int) -> int:
    a, b, c = 0, 0, 1
    for _ in range(n):
        a, b, c = b, c, a + b + c
    return a


def _linear(n: int, x0: int, x1: int, p: int, q: int) -> int:
    """The n-th term of x(k) = p x(k-1) + q x(k-2)."""
    a, b = x0, x1
    for _ in range(n):
        a, b = b, p * b + q * a
    return a


def _fibs(limit: int) -> list:
    out, a, b = [], 1, 2
    while a <= limit:
        out.append(a)
        a, b = b, a + b
    return out


def draw_inputs(spec: Spec) -> tuple:
    """(visible inputs, challenge inputs): edge cases first among the challenge tests, no repeats."""
    rng = random.Random(zlib.crc32(spec.id.encode()))
    seen = {tuple(e) for e in spec.edges}
    visible = []
    while len(visible) < N_VISIBLE:
        x = spec.sample(rng)
        if tuple(x) not in seen:
            seen.add(tuple(x))
            visible.append(x)
    challenge = [list(e) for e in spec.edges]
    while len(challenge) < N_CHALLENGE:
        x = (spec.wide or spec.sample)(rng)
        if tuple(x) not in seen:
            seen.add(tuple(x))
            challenge.append(x)
    return visible, challenge


def task(spec: Spec) -> dict:
    visible, challenge = draw_inputs(spec)
    case = lambda x: {"input": x, "output": spec.oracle(x)}  # noqa: E731
    return {"id": spec.id, "description": spec.description, "level": spec.level,
            "tests": [case(x) for x in visible], "challenge_tests": [case(x) for x in challenge],
            "reference": spec.reference.strip("\n")}


def render() -> str:
    return "".join(json.dumps(task(s)) + "\n" for s in SPECS)


CARD = """# Cadmus hand-written tasks

An instruction-following test set for Cadmus models: {n} integer tasks written by hand, none of
which a task family of `cadmus.families` produces (a test compares every reference's instruction
sequence with the families' programs). Each task has a free-English description, {visible}
visible tests, {challenge} challenge (hidden) tests and a reference program in the DSL.

    cadmus data import cadmus/data/handwritten/tasks.jsonl --out data/handwritten
    cadmus eval MODEL --data data/handwritten --suite synthesis --split test
    cadmus eval --check-references --data data/handwritten --suite synthesis --split test   # 100%

## What is in it

* {scalar} tasks on numbers (number theory, digits, bits, dates, geometry), each input a scalar;
* {lists} tasks that read a list and output one or a few numbers;
* {outlists} tasks whose output is a list (no completion view: their outputs come from a loop).

Inputs follow the families' convention: scalars in the order the description names them, a list
as its length n and then its n values. Levels (1-3) are the author's rough difficulty.

## How the tests were made

`source.py` holds, for every task, the description, the reference program, a Python oracle written
independently of the reference, and a sampler of inputs. The challenge tests start with hand-picked
edge cases (zero, one, powers of two, leap centuries, ties, runs, ...); the remaining inputs are
drawn by a generator seeded from the task id, with no input repeated within a task. Every output
comes from the oracle, and `cadmus data import` verifies the reference in the VM on every visible
and challenge test (the two implementations agree on all {tests} tests).

## Views

* synthesis: all {n} tasks (description and visible tests; the target is the reference);
* execution and input: all {n} tasks;
* completion: {completion} tasks, from a self-contained form of the reference for the first visible
  test (see `cadmus.data.importer`).

## Limits

One author wrote the descriptions and references, so their wording and programming style are
narrow; descriptions are meant to be read by a model that has learnt the DSL, not to be
unambiguous to every reader (the visible tests settle the details). The tasks fit the default
fuel of 100,000 instructions on every test. License: MIT, as the rest of Cadmus.

## Tasks

| id | level | description |
|---|---:|---|
{rows}
"""


def render_card(completion: int) -> str:
    """The card; ``completion``: how many tasks have a completion view (the importer decides)."""
    rows = "\n".join(f"| `{s.id}` | {s.level} | {s.description} |" for s in SPECS)
    return CARD.format(n=len(SPECS), visible=N_VISIBLE, challenge=N_CHALLENGE, scalar=len(NUMBERS),
                       lists=len(LISTS), outlists=len(LIST_OUTPUTS), tests=len(SPECS) * (N_VISIBLE + N_CHALLENGE),
                       completion=completion, rows=rows)


def completion_count(path) -> int:
    """How many tasks of the file get a completion view (imports them: references verified)."""
    from ..importer import read_tasks, task_record

    return sum(bool(task_record(t, "test")["completion_prompt"]) for t in read_tasks(path))


def main() -> None:
    from . import CARD_FILE, TASKS_FILE

    TASKS_FILE.write_text(render())
    CARD_FILE.write_text(render_card(completion_count(TASKS_FILE)))
    print(f"wrote {TASKS_FILE}: {len(SPECS)} tasks, and {CARD_FILE}")


if __name__ == "__main__":
    main()
