"""Compiled VM vs the pure-Python reference interpreter on random programs (a few thousand
here; `python tests/fuzz_vm.py --programs 100000` for the long run)."""
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cadmus
from cadmus import progen
from cadmus.reference import run_reference


def test_random_programs_agree_with_reference():
    rng = random.Random(12345)
    texts = [progen.random_program(rng, rng.randint(1, 24), rng.randint(0, 4)) for _ in range(3000)]
    inputs = [progen.random_inputs(rng) for _ in texts]
    batch = cadmus.run_batch(texts, inputs, fuel=400)
    seen = set()
    for i, (text, inp) in enumerate(zip(texts, inputs)):
        status, outputs, steps = run_reference(text, inp, fuel=400)
        seen.add(status)
        assert (batch[i].status, batch[i].outputs, batch[i].steps) == (status, outputs, steps), text
    # the generator must reach the interesting endings, or this test proves little
    assert {cadmus.Status.OK, cadmus.Status.OUT_OF_FUEL, cadmus.Status.DIV_BY_ZERO,
            cadmus.Status.BAD_ADDRESS, cadmus.Status.STACK_UNDERFLOW, cadmus.Status.BAD_ARGUMENT,
            cadmus.Status.ASSERT_FAILED} <= seen


def test_every_opcode_is_exercised_and_agrees():
    # one straight-line program per instruction with edge operands, checked register by register
    edge = [0, 1, -1, 63, 64, -(2 ** 63), 2 ** 63 - 1, 5, -7, 1023]
    for ins in cadmus.INSTRUCTIONS:
        if "L" in ins.operands or ins.mnemonic in ("ret", "halt", "in", "pop"):
            continue
        for x in edge:
            for y in edge[:6]:
                vals = iter([str(x), str(y)])
                ops = ["c" if k == "r" else next(vals) for k in ins.operands]
                text = f"mov c 3\n{ins.mnemonic} {' '.join(ops)}\nout c"
                want = run_reference(text)
                got = cadmus.run(text)
                assert (got.status, got.outputs, got.steps) == want, text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-(2 ** 63), 2 ** 63 - 1), min_size=4, max_size=40),
       st.lists(st.integers(-(2 ** 63), 2 ** 63 - 1), max_size=4))
def test_random_bytecode_agrees_with_reference(words, consts):
    words = words[: len(words) // 4 * 4]
    prog = cadmus.Program(np.array(words, np.int64), np.array(consts, np.int64))
    # bias toward valid instructions: small opcodes and operands
    small = cadmus.Program(np.array([w % 60 for w in words], np.int64), np.array(consts, np.int64))
    for p in (prog, small):
        got = cadmus.run(p, fuel=200)
        assert (got.status, got.outputs, got.steps) == run_reference(p, fuel=200)


@pytest.mark.slow
def test_long_differential_run():
    from tests.fuzz_vm import main
    assert main(["--programs", "100000", "--seed", "7"]) == 0
