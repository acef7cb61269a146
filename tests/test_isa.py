"""The ISA table is the single source: the contract's instruction set, and generated files in sync."""
import subprocess
import sys

from cadmus import isa
from cadmus.commands.vm import ISA_DOC, KERNEL_FILE

# The DSL v1 minimum instruction set: mnemonic -> operand kinds.
CONTRACT = {
    "mov": "rv", "swap": "rr", "in": "r", "out": "v", "push": "v", "pop": "r", "load": "rv",
    "store": "vv", "nop": "", "add": "rvv", "sub": "rvv", "mul": "rvv", "div": "rvv", "mod": "rvv",
    "neg": "rv", "abs": "rv", "inc": "r", "dec": "r", "min": "rvv", "max": "rvv", "pow": "rvv",
    "sign": "rv", "and": "rvv", "or": "rvv", "xor": "rvv", "not": "rv", "shl": "rvv", "shr": "rvv",
    "eq": "rvv", "ne": "rvv", "lt": "rvv", "le": "rvv", "gt": "rvv", "ge": "rvv", "jmp": "L",
    "jz": "vL", "jnz": "vL", "jeq": "vvL", "jne": "vvL", "jlt": "vvL", "jle": "vvL", "jgt": "vvL",
    "jge": "vvL", "call": "L", "ret": "", "halt": "", "assert": "vv",
}


def test_table_covers_the_contract():
    table = {ins.mnemonic: ins.operands for ins in isa.INSTRUCTIONS}
    assert {m: table.get(m) for m in CONTRACT} == CONTRACT
    assert len(table) <= 65


def test_opcodes_unique_and_nonzero():
    codes = [ins.opcode for ins in isa.INSTRUCTIONS]
    assert len(set(codes)) == len(codes) and min(codes) == 1


def test_status_names():
    assert [s.name for s in isa.Status] == [
        "OK", "ASSERT_FAILED", "OUT_OF_FUEL", "DIV_BY_ZERO", "BAD_ADDRESS", "STACK_OVERFLOW",
        "STACK_UNDERFLOW", "INPUT_EXHAUSTED", "OUTPUT_OVERFLOW", "BAD_ARGUMENT", "BAD_PROGRAM",
        "PARSE_ERROR"]


def test_every_instruction_has_semantics():
    for ins in isa.INSTRUCTIONS:
        special = ins.fn is None and ins.cond is None
        if special:
            from cadmus.reference import _Machine
            assert hasattr(_Machine, "op_" + ins.mnemonic), ins.mnemonic


def test_kernel_constants_match_table():
    """vm_kernel.py carries the table's numbers literally (for Numba's cache): regenerate
    with `cadmus isa --write` when this fails."""
    text = KERNEL_FILE.read_text()
    assert isa.opcode_constant_block() in text


def test_isa_doc_is_fresh():
    assert ISA_DOC.read_text() == isa.render_markdown(), "docs/ISA.md is stale: run `cadmus isa --write`"
    for ins in isa.INSTRUCTIONS:
        assert f"`{ins.signature}`" in ISA_DOC.read_text()


def test_import_compiles_nothing():
    code = "import sys, cadmus; print('numba' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
