"""Task families: oracles on hand-written cases, and VM agreement on generated records."""
import random

import pytest

import cadmus
from cadmus.families import Params, get, names, registry
from cadmus.families.base import Draws
from cadmus.families.arith import evaluate
from cadmus.families.random_programs import Machine, render, run_oracle

REQUIRED = ["arith", "sum_range", "factorial", "fibonacci", "gcd", "lcm", "power", "digit_sum",
            "reverse_digits", "collatz_steps", "is_prime", "count_divisors", "isqrt", "max3", "abs_diff",
            "clamp", "sort", "reverse", "array_max", "array_sum", "count_value", "prefix_sum",
            "linear_search", "rotate_left", "fib_recursive", "gcd_recursive", "count_greater",
            "sum_multiples", "random"]

# (family, inputs, constants, expected outputs): written by hand, not computed
HAND = [
    ("sum_range", [3, 5], {}, [12]), ("sum_range", [7, 7], {}, [7]), ("sum_range", [-2, 3], {}, [3]),
    ("factorial", [0], {}, [1]), ("factorial", [5], {}, [120]), ("factorial", [20], {}, [2432902008176640000]),
    ("fibonacci", [0], {}, [0]), ("fibonacci", [1], {}, [1]), ("fibonacci", [10], {}, [55]),
    ("gcd", [48, 18], {}, [6]), ("gcd", [7, 5], {}, [1]), ("gcd", [12, 12], {}, [12]),
    ("lcm", [4, 6], {}, [12]), ("lcm", [1, 9], {}, [9]), ("lcm", [7, 5], {}, [35]),
    ("power", [2, 10], {}, [1024]), ("power", [5, 0], {}, [1]), ("power", [-3, 3], {}, [-27]),
    ("digit_sum", [1234], {}, [10]), ("digit_sum", [-905], {}, [14]), ("digit_sum", [0], {}, [0]),
    ("reverse_digits", [123], {}, [321]), ("reverse_digits", [120], {}, [21]), ("reverse_digits", [0], {}, [0]),
    ("collatz_steps", [1], {}, [0]), ("collatz_steps", [6], {}, [8]), ("collatz_steps", [27], {}, [111]),
    ("is_prime", [2], {}, [1]), ("is_prime", [1], {}, [0]), ("is_prime", [91], {}, [0]), ("is_prime", [97], {}, [1]),
    ("count_divisors", [1], {}, [1]), ("count_divisors", [12], {}, [6]), ("count_divisors", [49], {}, [3]),
    ("isqrt", [0], {}, [0]), ("isqrt", [15], {}, [3]), ("isqrt", [16], {}, [4]),
    ("max3", [1, 9, 4], {}, [9]), ("max3", [-1, -9, -4], {}, [-1]),
    ("abs_diff", [3, 10], {}, [7]), ("abs_diff", [10, 3], {}, [7]),
    ("clamp", [5, 1, 3], {}, [3]), ("clamp", [0, 1, 3], {}, [1]), ("clamp", [2, 1, 3], {}, [2]),
    ("sort", [4, 3, 1, 4, 2], {}, [1, 2, 3, 4]), ("sort", [1, 7], {}, [7]),
    ("reverse", [3, 1, 2, 3], {}, [3, 2, 1]),
    ("array_max", [3, 4, 9, 2], {}, [9]), ("array_sum", [3, 4, 9, 2], {}, [15]),
    ("count_value", [2, 5, 2, 1, 2, 2, 3], {}, [3]), ("count_value", [8, 2, 1, 2], {}, [0]),
    ("prefix_sum", [4, 1, 2, 3, 4], {}, [1, 3, 6, 10]),
    ("linear_search", [5, 4, 1, 5, 3, 5], {}, [1]), ("linear_search", [9, 2, 1, 2], {}, [-1]),
    ("rotate_left", [3, 1, 2, 3], {}, [2, 3, 1]), ("rotate_left", [1, 8], {}, [8]),
    ("fib_recursive", [7], {}, [13]), ("gcd_recursive", [48, 18], {}, [6]),
    ("count_greater", [4, 1, 5, 3, 7], {"K": 3}, [2]), ("count_greater", [2, 1, 2], {"K": 9}, [0]),
    ("sum_multiples", [10], {"K": 3}, [18]), ("sum_multiples", [2], {"K": 5}, [0]),
]


def test_every_required_family_is_registered():
    assert set(REQUIRED) <= set(names())
    with pytest.raises(KeyError, match="unknown task family"):
        get("no_such_family")


@pytest.mark.parametrize("name,inputs,consts,expected", HAND)
def test_oracle_on_hand_written_cases(name, inputs, consts, expected):
    assert get(name).oracle(inputs, consts) == expected


def test_arith_oracle_hand_written():
    # (x + 17) * y, then div 4: floor semantics like the VM
    steps = [("add", ("v", 0), 17), ("mul", ("v", 2), ("v", 1)), ("div", ("v", 3), 4)]
    assert evaluate(steps, [3, 2]) == 10
    assert evaluate([("sub", ("v", 0), 10), ("div", ("v", 1), 4)], [3]) == -2  # floor(-7 / 4)
    assert evaluate([("mod", ("v", 0), 4)], [-7]) == 1
    assert evaluate([("mul", ("v", 0), ("v", 1))], [2**62, 4]) == 0  # wraps like int64


def test_copy_outputs_the_named_input_through_a_moved_register():
    for task in get("copy").generate(Draws(4), Params(levels=(1, 2)), 5, 40):
        lines = task.true_program.splitlines()
        loads = [line.split() for line in lines[:-2]]
        _, dst, src = lines[-2].split()
        chosen = [r for _, r, _ in loads].index(src)  # the input whose register the move reads
        assert f"output {'xyz'[chosen]}" in task.description or f"print {'xyz'[chosen]}" in task.description
        assert task.outputs == [[case[chosen]] for case in task.cases] and len(task.cases[0]) == task.level + 1
        assert lines[-1] == f"assert {dst} {task.outputs[0][0]}"
        assert (dst in [r for _, r, _ in loads]) == (task.variant == "overwrite")
    assert get("copy").oracle([3, 8, 1], {"chosen": 1}) == [8]


def test_random_oracle_hand_written():
    body = [("bin", "add", "b", "a", 5), ("if", "<", "b", 10, [("un", "neg", "c", "b")], [("un", "mov", "c", 1)]),
            ("loop", "d", 3, [("bin", "add", "e", "e", "d")]), ("store", 4, "e"), ("load", "f", 4)]
    assert run_oracle(body, ["a"], [2], ["c", "e", "f", "d"]) == [-7, 6, 6, 0]
    assert run_oracle(body, ["a"], [7], ["c"]) == [1]
    assert render(body).splitlines()[1:4] == ["jge b 10 L0", "neg c b", "jmp L1"]
    assert Machine(2).value(3) == [3, 3]


def test_every_family_has_variants_descriptions_and_docs():
    for name, fam in registry().items():
        assert fam.doc, name
        if name in ("arith", "copy", "random"):
            continue  # generated programs: variants come from the generator
        assert len(fam.templates) >= 2, name
        assert len(fam.descriptions) >= 3, name


PARAMS = [Params(), Params(numbers=(100, 9999)), Params(lengths=(9, 16), ops=(13, 20)), Params(numbers=(-99, 99))]


@pytest.mark.parametrize("params", PARAMS, ids=["train", "ood_numbers", "ood_length", "negative"])
def test_generated_programs_agree_with_oracle_in_vm(params):
    """Bare program on every case == oracle; self-contained form runs OK; both canonical."""
    texts, inputs, expected, contained = [], [], [], []
    for name, fam in registry().items():
        if not fam.feasible(params):
            continue
        for task in fam.generate(Draws(len(texts)), params, 5, 40):
            assert len(task.cases) == 5 and task.family == name
            for case, out in zip(task.cases, task.outputs):
                texts.append(task.program)
                inputs.append(case)
                expected.append((name, out))
            contained.append(task.true_program)
    res = cadmus.run_batch(texts, inputs=inputs, outputs_per_program=16)
    for i, (name, out) in enumerate(expected):
        assert res.status[i] == cadmus.Status.OK and res.outputs_of(i) == out, (name, texts[i], inputs[i])
    res = cadmus.run_batch(contained)
    bad = [t for t, s in zip(contained, res.status) if s != cadmus.Status.OK]
    assert not bad, bad[0]
    for text in texts[::25] + contained[::5]:
        assert cadmus.canonical(text) == text
        assert all(32 <= ord(ch) <= 126 or ch == "\n" for ch in text)


def test_feasibility_follows_domains():
    ood = Params(numbers=(100, 9999))
    assert not get("factorial").feasible(ood)  # n! is only defined up to 20 in int64
    assert not get("fib_recursive").feasible(ood)
    assert get("gcd").feasible(ood) and get("arith").feasible(ood)


def test_generation_is_deterministic_and_layouts_vary():
    for name in ("gcd", "sort", "arith", "random"):
        fam = get(name)
        assert fam.generate(Draws(5), Params(), 5, 30) == fam.generate(Draws(5), Params(), 5, 30)
        programs = {task.program for task in fam.generate(Draws(6), Params(), 5, 50)}
        assert len(programs) > 10  # registers drawn per record, several variants


def test_cases_are_distinct_where_the_domain_allows():
    for task in get("factorial").generate(Draws(1), Params(), 5, 200):  # n in 0..20: repeats are common
        assert len({tuple(c) for c in task.cases}) == 5


def test_parametric_constant_in_description_and_program():
    task = get("count_greater").generate(Draws(3), Params(), 5, 1)[0]
    k = task.description.split()[-1]
    assert k.lstrip("-").isdigit() and f" {k} " in task.program.replace("\n", " ")


def test_ood_values_outside_training_range():
    fam = get("sort")
    for task in fam.generate(Draws(0), Params(numbers=(100, 9999)), 5, 20):
        assert all(100 <= v <= 9999 for c in task.cases for v in c[1:])


def test_arith_apply_table_matches_apply():
    from cadmus.families.arith import APPLY, LEVEL_OPS, apply

    rng = random.Random(0)
    assert set(APPLY) == set(LEVEL_OPS[3])
    for op in APPLY:
        for _ in range(500):
            a, b = rng.randint(-2**63, 2**63 - 1), rng.choice([rng.randint(-100, 100), rng.randint(-2**63, 2**63 - 1)]) or 1
            assert APPLY[op](a, b) == apply(op, a, b), (op, a, b)


def test_contained_format_renders_what_contained_does(monkeypatch):
    """Register-only templates render their self-contained form with one format string; the
    general path (``Template.render`` + ``layout`` + ``contained``) must give the same tasks."""
    from cadmus.families import Family

    fast = {name: fam.generate(Draws(9), Params(), 5, 30) for name, fam in registry().items()}
    monkeypatch.setattr(Family, "_contained_format", lambda self, template: None)
    for name, fam in registry().items():
        assert fam.generate(Draws(9), Params(), 5, 30) == fast[name], name
