"""The batch fast paths give the same answers as the plain ones: the text buffer viewed in
place, the implicit program index and inputs, validation fused with the copy."""
import gc

import numpy as np
import pytest

import cadmus
from cadmus import vm
from cadmus.isa import Status


def test_ascii_view_reads_the_text_in_place_and_keeps_it_alive():
    text = "".join(f"mov a {i}\nout a\n" for i in range(100_000))
    assert len(text) >= vm.ASCII_VIEW_MIN
    view = vm._ascii_view(text)
    assert view is not None and not view.flags.writeable and view.dtype == np.uint8
    expected = np.frombuffer(text.encode("ascii"), np.uint8)
    del text
    gc.collect()
    assert np.array_equal(view, expected)
    assert vm._ascii_view("out 1") is None  # short: encoded as before
    assert vm._ascii_view("é" * vm.ASCII_VIEW_MIN) is None  # not ASCII: its bytes are not its chars


def test_long_text_batch_gives_the_answers_of_encoded_texts(monkeypatch):
    texts = [f"mov a {i}\nmul b a a\nout b" if i % 7 else "out" for i in range(120_000)]
    viewed = cadmus.run_batch(texts)
    monkeypatch.setattr(vm, "ASCII_VIEW_MIN", 1 << 62)
    encoded = cadmus.run_batch(texts)
    assert viewed.counts() == encoded.counts() == {"OK": 102_857, "PARSE_ERROR": 17_143}
    for field in ("status", "steps", "out_start", "out_count"):
        assert np.array_equal(getattr(viewed, field), getattr(encoded, field))
    assert viewed.outputs_of(12) == [144]


@pytest.mark.parametrize("n", [5, 500])  # the serial and the parallel kernel
def test_implicit_index_and_inputs_match_explicit_ones(n):
    progs = [cadmus.assemble(f"mov a {i}\nadd a a 1\nout a") for i in range(n)]
    plain = cadmus.run_batch(progs)
    explicit = cadmus.run_batch(progs, [[] for _ in range(n)], program_index=np.arange(n))
    for field in ("status", "steps", "out_start", "out_count"):
        assert np.array_equal(getattr(plain, field), getattr(explicit, field))
    assert plain.outputs_of(n - 1) == [n]


def test_kernel_refuses_more_implicit_runs_than_programs():
    k = vm._kernel()
    kinds, mslots, mkeys = vm._tables()
    b = cadmus.pack(["out 1", "out 2"])
    status = np.full(3, 7, np.int64)
    steps, start, count = (np.zeros(3, np.int64) for _ in range(3))
    k.run_checked(0, 3, False, vm._NO_TEXT, np.zeros(1, np.int64), b.code, b.code_offsets, b.consts, b.const_offsets,
                  vm._NONE, np.zeros(0, np.int64), vm._NONE, 100, kinds, mslots, mkeys, 0, 8, status, steps, start,
                  count, np.zeros(8, np.int64))
    assert status.tolist() == [Status.BAD_ARGUMENT] * 3  # run 2 would be a third program
    status[:] = 7
    k.run_checked(0, 2, False, vm._NO_TEXT, np.zeros(1, np.int64), b.code, b.code_offsets, b.consts, b.const_offsets,
                  vm._NONE, np.zeros(0, np.int64), vm._NONE, 100, kinds, mslots, mkeys, 0, 8, status, steps, start,
                  count, np.zeros(8, np.int64))
    assert status.tolist()[:2] == [Status.OK, Status.OK]


def test_fused_validation_finds_what_validate_finds():
    rng = np.random.default_rng(0)
    good = cadmus.assemble("mov a 5\nL:\ndec a\njnz a L\nadd b a 7\nout b")
    for trial in range(300):
        code = good.code.copy()
        code[rng.integers(len(code))] = rng.choice([-1, 0, 1, 15, 16, 17, 6, 7, 47, 48, 1 << 40])
        prog = cadmus.Program(code, good.consts)
        via_batch = cadmus.run_batch([prog, prog] * 40)  # parallel kernel: fused copy and check
        expected = Status.BAD_PROGRAM if vm.validate(prog) else cadmus.run(prog).status
        assert set(via_batch.status.tolist()) == {int(expected)}, (trial, code)
