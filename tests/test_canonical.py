"""Canonical programs, views and questions, held against assemble/disassemble."""
import random

import numpy as np
import pytest

import cadmus
from cadmus.asm import AsmError, Program, assemble, disassemble
from cadmus.canonical import (canonical_program, canonical_programs, canonical_view, canonical_views,
                              question_key)
from cadmus.isa import BY_OPCODE, N_REGS, REG_NAMES, WORDS_PER_INSN
from cadmus.progen import random_program


def reference(text: str) -> str:
    """The definition, from bytecode: registers renumbered in order of first use (operands in
    instruction order), then the disassembler's text. Comments are not code."""
    code_only = "\n".join(line.split("#", 1)[0] for line in text.split("\n"))
    prog = assemble(code_only)
    code = prog.code.reshape(-1, WORDS_PER_INSN).copy()
    order = {}
    for row in code:
        for j, kind in enumerate(BY_OPCODE[int(row[0])].operands):
            if kind == "r" or (kind == "v" and row[1 + j] < N_REGS):
                row[1 + j] = order.setdefault(int(row[1 + j]), len(order))
    return disassemble(Program(code.ravel(), prog.consts))


def permuted(text: str, rng: random.Random) -> str:
    """``text`` with its registers renamed by a random permutation, its labels by random names,
    and its spacing and literals written in other valid ways."""
    perm = dict(zip(REG_NAMES, rng.sample(REG_NAMES, len(REG_NAMES))))
    names = {}
    lines = []
    for line in text.split("\n"):
        tokens = line.split(" ")
        if tokens[0].endswith(":"):
            name = names.setdefault(tokens[0][:-1], f"lab_{rng.randrange(10**6)}_{len(names)}")
            lines.append(f"{name}:")
            continue
        out = [tokens[0]]
        for tok in tokens[1:]:
            if tok in perm:
                tok = perm[tok]
            elif tok.startswith("L"):
                tok = names.setdefault(tok, f"lab_{rng.randrange(10**6)}_{len(names)}")
            elif tok.lstrip("-").isdigit() and rng.random() < 0.3:
                tok = ("-" if tok.startswith("-") else "") + "00" + tok.lstrip("-")
            out.append(tok)
        lines.append(rng.choice([" ", "  ", "\t", " \t "]).join(out) + rng.choice(["", " ", "\r"]))
    return "\n".join(lines)


def test_examples():
    assert canonical_program("mov n 72\nsub b n 4\nassert b 68") == "mov a 72\nsub b a 4\nassert b 68"
    assert canonical_program("mov a 72\nsub c a 4\nassert c 68") == "mov a 72\nsub b a 4\nassert b 68"
    # labels numbered by first appearance, one per target, unused ones dropped; literals as integers
    text = "top:\nalso:\n  jz  k  end\ndec k\njmp also\nunused:\nend:\nout -007"
    assert canonical_program(text) == "L0:\njz a L1\ndec a\njmp L0\nL1:\nout -7"
    # comment and blank lines stay where they are, a trailing comment stays on its line
    assert canonical_program("# add\n\nin k # first\nout k\n# input: 3") == "# add\n\nin a # first\nout a\n# input: 3"
    assert canonical_program("") == ""


def test_matches_the_bytecode_definition_on_random_programs():
    rng = random.Random(5)
    for _ in range(300):
        text = random_program(rng, length=rng.randint(0, 14), n_labels=rng.randint(0, 4))
        want = reference(text)
        assert canonical_program(text) == want, text
        assert canonical_program(permuted(text, rng)) == want, text
        assert canonical_program(want) == want  # idempotent


def test_generated_programs_take_the_fast_path_and_agree_with_the_general_one(monkeypatch):
    """Every family's texts are the disassembler's (the fast path); its result is the general path's."""
    import cadmus.canonical as canonical
    from cadmus.families import Draws, Params, registry

    texts = []
    for fam in registry().values():
        for task in fam.generate(Draws(3), Params(), 4, 12):
            texts += [task.program, task.true_program]
    assert all(canonical._is_disassembled(t) for t in texts)
    fast = canonical_programs(texts)
    assert fast == [canonical._general(t) for t in texts] == [reference(t) for t in texts]
    monkeypatch.setattr(canonical, "_is_disassembled", lambda text: False)
    assert canonical_programs(texts) == fast


def test_many_at_once_equals_one_by_one():
    rng = random.Random(8)
    texts = [random_program(rng, length=rng.randint(0, 10)) for _ in range(60)]
    texts += [permuted(t, rng) for t in texts[:20]] + ["", "# only a comment\n", "out 1\n"]
    assert canonical_programs(texts) == [canonical_program(t) for t in texts]


@pytest.mark.parametrize("bad", ["mov a", "jmp nowhere", "frob a", "out 99999999999999999999", "L0:\nL0:"])
def test_text_that_does_not_assemble_raises(bad):
    with pytest.raises(AsmError):
        canonical_program(bad)


def test_the_package_function_canonical_still_works_after_importing_the_module():
    import cadmus.canonical  # noqa: F401  (sets the package attribute to the module)

    assert cadmus.canonical("out  007") == "out 7"
    assert cadmus.canonical("mov k 1\nout k") == "mov k 1\nout k"  # registers are not renamed


def _record(program: str, true_program: str, first_input: list, variant="euclid"):
    from cadmus.data.views import render_views

    rec = {"family": "gcd", "variant": variant, "description": "gcd of a and b", "program": program,
           "true_program": true_program, "tests": [{"input": first_input, "output": [1]}] * 3, "challenge_tests": []}
    rec.update(render_views(rec))
    return rec


def test_views_and_questions_ignore_register_names():
    one = _record("in a\nin b\nmod c a b\nout c", "mov a 7\nmov b 3\nmod c a b\nassert c 1", [7, 3])
    other = _record("in k\nin d\nmod f k d\nout f", "mov k 7\nmov d 3\nmod f k d\nassert f 1", [7, 3])
    views = canonical_views(one)
    assert views == canonical_views(other)
    assert views["completion"] == "mov a 7\nmov b 3\nmod c a b\nassert c 1"
    assert views["synthesis"] == "# gcd of a and b\n" + "# 7 3 -> 1\n" * 3 + "in a\nin b\nmod c a b\nout c"
    assert views["execution"] == "in a\nin b\nmod c a b\nout c\n# input: 7 3\n# output: 1"
    assert views["execution"] == canonical_view(other["execution_prompt"], other["execution_target"])
    assert question_key(one) == question_key(other) == ("gcd", "euclid", "in a\nin b\nmod c a b\nout c", (7, 3))
    assert question_key(_record(one["program"], one["true_program"], [8, 3])) != question_key(one)
    assert question_key(_record(one["program"], one["true_program"], [7, 3], "sub")) != question_key(one)


def test_many_registers_and_labels():
    """All 16 registers, and more than ten labels (L10 is not L1 followed by 0)."""
    regs = list(REG_NAMES)
    rng = np.random.default_rng(0)
    rng.shuffle(regs)
    text = "\n".join(f"mov {r} {i}" for i, r in enumerate(regs))
    text += "\n" + "\n".join(f"jmp L{i}\nL{i}:" for i in range(12))
    assert canonical_program(text) == reference(text)
    assert canonical_program(text).split("\n")[15] == "mov p 15"
