"""The VM benchmark's limit (the minimal switch loop) and its goal rows: the minimal loop runs
the benchmark's own programs to the VM's answers, so the ratio compares the same work."""
import importlib.util
import random

import numpy as np
import pytest

import cadmus
from cadmus.isa import BY_MNEMONIC
from cadmus.resources import checkout_root

ROOT = checkout_root()
pytestmark = pytest.mark.skipif(ROOT is None, reason="benchmarks/ is in the source checkout only")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_vm_under_test", ROOT / "benchmarks" / "bench_vm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_minimal_loop_opcodes_are_the_isa_s():
    from cadmus.vm_kernel import MINIMAL_OPCODES

    names = ["mov", "out", "add", "sub", "mul", "div", "mod", "inc", "max", "xor", "jlt", "assert"]
    assert MINIMAL_OPCODES == tuple(BY_MNEMONIC[m].opcode for m in names)


def test_minimal_loop_gives_the_vm_s_answers(bench):
    prog = cadmus.assemble(bench.LOOP.format(n=1000))
    assert bench.minimal_run(prog.code, prog.consts) == (0, cadmus.run(prog).outputs[0])
    rng = random.Random(1)
    texts = [bench.make_program(rng)[0] for _ in range(50)]
    wrong = [t.rsplit(" ", 1)[0] + " 12345678901" for t in texts]  # the asserted value changed
    batch = bench.tiled_batch(cadmus.pack(texts + wrong), 3)
    status = np.full(len(batch), 7, np.int64)
    bench.run_minimal_batch(batch, status)
    assert status.tolist() == cadmus.run_batch(batch).status.tolist() == ([0] * 50 + [1] * 50) * 3
    halt = cadmus.assemble("halt")
    assert bench.minimal_run(halt.code, halt.consts) == (10, 0)  # an opcode it lacks stops it


def test_goal_says_met_or_by_how_much_it_is_missed(bench):
    assert bench.goal("ratio", "<=", 1.15, 1.10) == {"goal": "<= 1.15x: met", "goal_met": True}
    missed = bench.goal("ratio", ">=", 0.6, 0.45)
    assert missed["goal_met"] is False and missed["goal"] == ">= 0.60x: MISSED by 0.15x (needs 1.33x faster)"
    text = bench.goal("prog/s", ">=", 4e6, 2e6)["goal"]
    assert text == ">= 4.00M prog/s: MISSED by 2.00M prog/s (needs 2.00x faster)"
    assert bench.goal("s", "<=", 0.8, 1.0)["goal"] == "<= 0.80 s: MISSED by 0.20 s (needs 1.25x faster)"


def test_table_puts_ratios_before_values(bench):
    rows = [bench.row("loop", "compiled VM", 2.2, "ns", ratio=1.1, ratio_text="1.10x the minimal loop's time",
                      **bench.goal("ratio", "<=", 1.15, 1.1)),
            bench.row("loop", "reference interpreter", 990.0, "ns", 450.0)]
    lines = bench.format_table(rows).splitlines()
    assert lines[0] == "| measurement | implementation | ratio | value | goal |"
    assert lines[2] == "| loop | compiled VM | 1.10x the minimal loop's time | 2.20 ns | <= 1.15x: met |"
    assert lines[3] == "| loop | reference interpreter | compiled VM 450x faster | 990 ns |  |"


def test_readmes_vm_table_is_the_generated_one():
    """The README shows docs/benchmarks/vm.md's table as written by the benchmark, not a hand copy."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    generated = (root / "docs" / "benchmarks" / "vm.md").read_text().split("\n\n")[2].strip()
    readme = (root / "README.md").read_text()
    shown = readme.split("<!-- the table of docs/benchmarks/vm.md -->\n")[1].split("\n<!-- end of the table -->")[0]
    assert generated.startswith("| measurement |") and shown.strip() == generated
