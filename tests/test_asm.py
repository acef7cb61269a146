"""Assembler, disassembler and canonical form."""
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cadmus
from cadmus import progen
from cadmus.vm import parse_compiled

GCD = """# gcd
in a
in b
top:   # loop head
  jz b done
mod c a b
mov a b
mov b c
jmp top
done:
out a
"""

GCD_CANONICAL = "in a\nin b\nL0:\njz b L1\nmod c a b\nmov a b\nmov b c\njmp L0\nL1:\nout a"


def test_canonical_form():
    assert cadmus.disassemble(cadmus.assemble(GCD)) == GCD_CANONICAL
    assert cadmus.canonical(GCD_CANONICAL) == GCD_CANONICAL


def test_labels_renamed_in_order_of_first_appearance():
    text = "jmp end\nstart:\nnop\njmp start\nend:"
    assert cadmus.canonical(text) == "jmp L0\nL1:\nnop\njmp L1\nL0:"


def test_literals_and_encoding():
    prog = cadmus.assemble("add a b -9223372036854775808\nout 9223372036854775807\nout -0007")
    assert prog.code.tolist() == [10, 0, 1, 16, 4, 17, 0, 0, 4, 18, 0, 0]
    assert prog.consts.tolist() == [-(2 ** 63), 2 ** 63 - 1, -7]
    assert cadmus.canonical("out -0007") == "out -7"


@pytest.mark.parametrize("text, line, col, message", [
    ("ad a b c", 1, 1, "unknown mnemonic 'ad'"),
    ("nop\n  jmp L3", 2, 7, "label 'L3' is never defined"),
    ("mov a 9223372036854775808", 1, 7, "literal out of int64 range"),
    ("mov a -9223372036854775809", 1, 7, "literal out of int64 range"),
    ("add a b", 1, 1, "'add' takes 3 operands, got 2"),
    ("halt a", 1, 1, "'halt' takes 0 operands, got 1"),
    ("mov 5 a", 1, 5, "operand 1 of 'mov' must be a register a..p, got '5'"),
    ("mov a q", 1, 7, "must be a register a..p or an integer literal, got 'q'"),
    ("mov a, 5", 1, 5, "must be a register a..p, got 'a,'"),
    ("x:\nx:", 2, 1, "label 'x' defined twice (first on line 1)"),
    ("1x:", 1, 1, "bad label name '1x'"),
    ("L0: nop", 1, 5, "unexpected 'nop' after label 'L0'"),
    ("jmp 5", 1, 5, "must be a label name, got '5'"),
    ("ADD a b c", 1, 1, "unknown mnemonic 'ADD'"),
    ("mov a é", 1, 7, "got 'é'"),
    ("and\x00 b 90 -1", 1, 1, "unknown mnemonic 'and\x00'"),  # NUL must not pack like "and"
    ("mov\x00 a 1", 1, 1, "unknown mnemonic"),
])
def test_errors_name_the_problem_and_position(text, line, col, message):
    with pytest.raises(cadmus.AsmError) as info:
        cadmus.assemble(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.line, err.col) == (line, col)
    assert message in err.message
    assert parse_compiled(text) is None


def test_non_str_is_type_error():
    for bad in (b"nop", None, 3, ["nop"]):
        with pytest.raises(TypeError):
            cadmus.assemble(bad)


def test_empty_and_comment_only_programs():
    for text in ("", "\n\n", "# nothing\n   \t", "\r\n"):
        assert len(cadmus.assemble(text)) == 0
        assert cadmus.run(text).status == cadmus.Status.OK


def test_disassemble_rejects_invalid_bytecode():
    with pytest.raises(ValueError, match="instruction 0"):
        cadmus.disassemble(cadmus.Program(np.array([999, 0, 0, 0]), np.array([])))


def test_roundtrip_random_programs():
    rng = random.Random(3)
    for _ in range(300):
        text = progen.random_program(rng, rng.randint(0, 15), rng.randint(0, 4))
        prog = cadmus.assemble(text)
        canon = cadmus.disassemble(prog)
        assert cadmus.assemble(canon) == prog
        assert cadmus.canonical(canon) == canon
        assert parse_compiled(text) == prog


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcdmovjzLp0123456789-: \t\r\n#é\x00")), max_size=60))
def test_any_text_assembles_or_raises_asm_error_and_compiled_parser_agrees(text):
    try:
        ref = cadmus.assemble(text)
    except cadmus.AsmError as err:
        assert err.line >= 1 and err.col >= 1
        ref = None
    assert parse_compiled(text) == ref if ref is not None else parse_compiled(text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_unicode_never_crashes(text):
    try:
        cadmus.assemble(text)
        ok = True
    except cadmus.AsmError:
        ok = False
    assert (parse_compiled(text) is not None) == ok
