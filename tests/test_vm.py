"""VM semantics by known answers, edge cases, the batch API and trace."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cadmus
from cadmus import Status
from cadmus.reference import run_reference

MIN, MAX = -(2 ** 63), 2 ** 63 - 1


def out1(body: str, inputs=()):
    res = cadmus.run(body + "\nout a", inputs)
    assert res.status == Status.OK, (body, res)
    return res.outputs[0]


@pytest.mark.parametrize("body, expected", [
    ("add a 9223372036854775807 1", MIN),
    ("sub a -9223372036854775808 1", MAX),
    ("mul a 4611686018427387904 4", 0),
    ("div a 7 2", 3), ("div a -7 2", -4), ("div a 7 -2", -4), ("div a -7 -2", 3),
    ("mod a 7 2", 1), ("mod a -7 2", 1), ("mod a 7 -2", -1), ("mod a -7 -2", -1),
    ("div a -9223372036854775808 -1", MIN), ("mod a -9223372036854775808 -1", 0),
    ("neg a -9223372036854775808", MIN), ("abs a -9223372036854775808", MIN), ("abs a -5", 5),
    ("shl a 1 63", MIN), ("shl a 3 62", MIN + 2 ** 62), ("shr a -8 1", -4), ("shr a -1 63", -1),
    ("shr a 9223372036854775807 63", 0),
    ("pow a 3 4", 81), ("pow a 2 63", MIN), ("pow a 2 64", 0), ("pow a 0 0", 1), ("pow a -1 MAXEXP", -1),
    ("sign a -9", -1), ("sign a 0", 0), ("sign a 12", 1),
    ("and a 12 10", 8), ("or a 12 10", 14), ("xor a 12 10", 6), ("not a 0", -1),
    ("min a -3 2", -3), ("max a -3 2", 2),
    ("eq a 2 2", 1), ("ne a 2 2", 0), ("lt a 1 2", 1), ("le a 2 2", 1), ("gt a 1 2", 0), ("ge a 1 2", 0),
    ("mov b 5\ninc b\ndec b\ndec b\nmov a b", 4),
    ("mov a 1\nmov b 2\nswap a b", 2),
    ("store 1023 77\nload a 1023", 77), ("load a 5", 0),
    ("push 1\npush 2\npop a", 2),
    ("in b\nin a", 9),
])
def test_instruction_semantics(body, expected):
    body = body.replace("MAXEXP", str(MAX))
    assert out1(body, [3, 9]) == expected
    status, outputs, _ = run_reference(body + "\nout a", [3, 9])
    assert (status, outputs) == (Status.OK, [expected])


@pytest.mark.parametrize("text, inputs, status, steps", [
    ("div a 1 0", (), Status.DIV_BY_ZERO, 1),
    ("mod a 1 0", (), Status.DIV_BY_ZERO, 1),
    ("shl a 1 64", (), Status.BAD_ARGUMENT, 1),
    ("shr a 1 -1", (), Status.BAD_ARGUMENT, 1),
    ("pow a 2 -1", (), Status.BAD_ARGUMENT, 1),
    ("load a 1024", (), Status.BAD_ADDRESS, 1),
    ("store -1 3", (), Status.BAD_ADDRESS, 1),
    ("pop a", (), Status.STACK_UNDERFLOW, 1),
    ("ret", (), Status.STACK_UNDERFLOW, 1),
    ("in a\nin a", (5,), Status.INPUT_EXHAUSTED, 2),
    ("assert 1 2", (), Status.ASSERT_FAILED, 1),
    ("assert 2 2\nhalt\nout 1", (), Status.OK, 2),
    ("L0:\njmp L0", (), Status.OUT_OF_FUEL, 1000),
    ("L0:\npush 1\njmp L0", (), Status.STACK_OVERFLOW, 513),
    ("L0:\ncall L0", (), Status.STACK_OVERFLOW, 65),
    ("L0:\nout 1\njmp L0", (), Status.OUTPUT_OVERFLOW, 2049),
    ("jmp L0\nout 1\nL0:", (), Status.OK, 1),
    ("", (), Status.OK, 0),
])
def test_statuses_and_steps(text, inputs, status, steps):
    res = cadmus.run(text, inputs, fuel=1000 if "jmp L0" in text and "push" not in text and "out" not in text else 10_000)
    assert (res.status, res.steps) == (status, steps)
    ref = run_reference(text, inputs, fuel=1000 if res.status == Status.OUT_OF_FUEL else 10_000)
    assert (ref[0], ref[2]) == (status, steps)


def test_fuel_counts_executed_instructions_exactly():
    text = "nop\nnop\nnop"
    assert cadmus.run(text, fuel=3).status == Status.OK
    res = cadmus.run(text, fuel=2)
    assert (res.status, res.steps) == (Status.OUT_OF_FUEL, 2)
    assert cadmus.run(text, fuel=0).status == Status.OUT_OF_FUEL
    with pytest.raises(ValueError):
        cadmus.run(text, fuel=-1)


def test_outputs_before_an_error_are_kept():
    res = cadmus.run("out 1\nout 2\ndiv a 1 0\nout 3")
    assert (res.status, res.outputs) == (Status.DIV_BY_ZERO, [1, 2])


def test_parse_error_carries_the_message():
    res = cadmus.run("mov a 1\nad a b c")
    assert res.status == Status.PARSE_ERROR
    assert "line 2, col 1: unknown mnemonic 'ad'" in res.error


def test_bad_bytecode_is_bad_program_not_a_crash():
    cases = [
        ([0, 0, 0, 0], []),                 # opcode 0 is invalid
        ([1, 16, 0, 0], []),                # register 16
        ([1, 0, 16, 0], []),                # literal slot without a literal
        ([35, 2, 0, 0], []),                # jump past the end + 1
        ([46, 1, 0, 0], []),                # nonzero unused operand
        ([1, 0, 0], []),                    # not a multiple of 4 words
        ([1, -1, 0, 0], [5]),
        ([2 ** 62, 0, 0, 0], []),
    ]
    for code, consts in cases:
        prog = cadmus.Program(np.array(code, np.int64), np.array(consts, np.int64))
        assert cadmus.run(prog).status == Status.BAD_PROGRAM, code
        assert cadmus.validate(prog) is not None
    whole = [cadmus.Program(np.array(c, np.int64), np.array(k, np.int64)) for c, k in cases if len(c) % 4 == 0]
    batch = cadmus.run_batch(whole)
    assert set(batch.status.tolist()) == {int(Status.BAD_PROGRAM)}


EXAMPLES = [("gcd", [48, 18], [6]), ("factorial", [10], [3628800]),
            ("bubble_sort", [5, 3, 1, 4, 1, 5], [1, 1, 3, 4, 5]), ("fib_recursive", [15], [610])]


@pytest.mark.parametrize("name, inputs, outputs", EXAMPLES)
def test_examples(name, inputs, outputs, repo_root):
    text = (repo_root / "examples" / f"{name}.cad").read_text()
    res = cadmus.run(text, inputs)
    assert (res.status, res.outputs) == (Status.OK, outputs)
    ref = run_reference(text, inputs)
    assert ref == (Status.OK, outputs, res.steps)


def test_trace_records_state_before_each_step():
    tr = cadmus.trace("mov a 5\nadd b a 2\nout b")
    assert tr.pc.tolist() == [0, 1, 2]
    assert tr.mnemonics == ["mov", "add", "out"]
    assert tr.registers[:, :2].tolist() == [[0, 0], [5, 0], [5, 7]]
    assert tr.final_registers[:2].tolist() == [5, 7]
    assert tr.result.outputs == [7] and len(tr) == tr.result.steps == 3
    assert tr.rows()[1]["op"] == "add"
    bad = cadmus.trace("nonsense")
    assert bad.result.status == Status.PARSE_ERROR and len(bad) == 0


def test_batch_matches_single_runs_with_inputs():
    gcd = "in a\nin b\nL0:\njz b L1\nmod c a b\nmov a b\nmov b c\njmp L0\nL1:\nout a"
    pairs = [[48, 18], [7, 5], [0, 9], [12, 0], [2 ** 62, 6]]
    for programs in ([gcd] * 5, [cadmus.assemble(gcd)] * 5, cadmus.pack([gcd] * 5)):
        batch = cadmus.run_batch(programs, pairs)
        assert batch.outputs == [cadmus.run(gcd, p).outputs for p in pairs]
        assert batch.status.tolist() == [0] * 5 and len(batch) == 5
    assert cadmus.run_batch([gcd], [[1]]).counts() == {"INPUT_EXHAUSTED": 1}


def test_batch_output_region_overflow_is_rerun():
    # 100 programs with 300 outputs each overflow an 8-per-program region: rerun with full tapes
    text = "mov a 0\nL0:\nout a\ninc a\njlt a 300 L0"
    batch = cadmus.run_batch([text] * 100, outputs_per_program=2)
    assert all(o == list(range(300)) for o in batch.outputs)
    assert set(batch.status.tolist()) == {0}


def test_batch_parse_errors_with_messages():
    batch = cadmus.run_batch(["out 1", "bogus", "jmp nowhere"], messages=True)
    assert batch.status.tolist() == [0, Status.PARSE_ERROR, Status.PARSE_ERROR]
    assert batch.errors[0] is None
    assert "unknown mnemonic 'bogus'" in batch.errors[1]
    assert "label 'nowhere' is never defined" in batch.errors[2]
    assert batch[1].status == Status.PARSE_ERROR and batch[1].error == batch.errors[1]


def test_batch_rejects_mixed_and_wrong_types():
    with pytest.raises(TypeError):
        cadmus.run_batch(["nop", cadmus.assemble("nop")])
    with pytest.raises(TypeError):
        cadmus.run_batch([b"nop"])
    with pytest.raises(ValueError):
        cadmus.run_batch(["nop", "nop"], [[1]])


def test_batch_non_ascii_text_offsets():
    texts = ["# é comment\nout 1", "out 2 # ü", "out 3", "mov a é"]
    batch = cadmus.run_batch(texts)
    assert batch.outputs[:3] == [[1], [2], [3]]
    assert batch.status[3] == Status.PARSE_ERROR


def test_empty_batch():
    assert len(cadmus.run_batch([])) == 0


def test_program_index_runs_one_parsed_program_on_many_inputs():
    gcd = "in a\nin b\nL0:\njz b L1\nmod c a b\nmov a b\nmov b c\njmp L0\nL1:\nout a"
    texts = [gcd, "in a\nout a\nout a", "bogus"]
    index = [0, 0, 1, 2, 0, 1]
    inputs = [[48, 18], [7, 5], [3], [], [9, 6], []]
    for programs in (texts, cadmus.pack(texts[:2])):
        idx = index if isinstance(programs, list) else [i for i in index if i < 2]
        inp = inputs if isinstance(programs, list) else [x for x, i in zip(inputs, index) if i < 2]
        batch = cadmus.run_batch(programs, inp, program_index=idx, messages=True)
        expanded = cadmus.run_batch([texts[i] for i in idx], inp)
        assert batch.outputs == expanded.outputs and batch.status.tolist() == expanded.status.tolist()
    batch = cadmus.run_batch(texts, inputs, program_index=index, messages=True)
    assert batch.outputs[:3] == [[6], [1], [3, 3]] and batch.outputs[4] == [3]
    assert batch.status.tolist() == [0, 0, 0, Status.PARSE_ERROR, 0, Status.INPUT_EXHAUSTED]
    assert "unknown mnemonic 'bogus'" in batch.errors[3]
    # many runs of few programs go through the parallel path too
    big = cadmus.run_batch(texts[:2], [[i, 3] for i in range(500)], program_index=[0, 1] * 250)
    assert big.outputs[:4] == [[3], [1, 1], [1], [3, 3]] and len(big) == 500  # gcd(0, 3) = 3
    with pytest.raises(ValueError, match="program_index"):
        cadmus.run_batch(texts, [[1]], program_index=[3])
    with pytest.raises(ValueError):
        cadmus.run_batch(texts, [[1]], program_index=[0, 1])  # inputs per run, not per program


def test_flat_inputs_with_offsets_match_input_lists():
    texts = ["in a\nin b\nadd c a b\nout c", "in a\nout a\nout a"]
    inputs = [[1, 2], [7], [], [5, 6], [9, 9, 9]]
    index = [0, 1, 1, 0, 0]
    lists = cadmus.run_batch(texts, inputs, program_index=index)
    offsets = np.cumsum([0, *map(len, inputs)])
    flat = cadmus.run_batch(texts, np.array([v for x in inputs for v in x]), program_index=index,
                            input_offsets=offsets)
    assert flat.outputs == lists.outputs == [[3], [7, 7], [], [11], [18]]
    assert flat.status.tolist() == lists.status.tolist()
    # the kernel indexes the inputs with the offsets: every bad one is refused before it runs
    for bad in ([0, 2, 3, 3, 5, 9], [1, 2, 3, 3, 5, 8], [0, 2, 1, 3, 5, 8], [0, 2, 3, 5, 8]):
        with pytest.raises(ValueError, match="input_offsets"):
            cadmus.run_batch(texts, np.arange(8), program_index=index, input_offsets=bad)
    with pytest.raises(TypeError, match="input_offsets"):  # a float is the wrong type, not a bad value
        cadmus.run_batch(texts, np.arange(8), program_index=index, input_offsets=[0.0, 2, 3, 3, 5, 8])


def test_parallel_batch_keeps_torch_thread_count():
    # a fresh process: Numba's OpenMP pool resets the count only when it starts, and only once
    # torch has run a parallel op (the gelu) as a training step does
    code = ("import torch, cadmus\ntorch.set_num_threads(1)\ntorch.nn.functional.gelu(torch.ones(10240, 128))\n"
            "cadmus.run_batch(['mov a 1\\nout a'] * (cadmus.vm.SERIAL_BATCH + 100))\n"
            "print(torch.get_num_threads())")
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}  # a pool of 2 even on a 1-core machine
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-1] == "1"
