"""Fuzzing: hostile text and bytecode never crash the process, hang, or give an unknown status.

The fuzz target runs in a subprocess so that a segfault in compiled code shows as a failed
exit status instead of taking the test runner down with it.
"""
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import cadmus

FUZZ = Path(__file__).with_name("fuzz_vm.py")
STATUSES = {int(s) for s in cadmus.Status}


def test_fuzz_target_in_subprocess():
    proc = subprocess.run([sys.executable, str(FUZZ), "--programs", "3000", "--seed", "11"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 mismatches" in proc.stdout


def test_fuzz_target_can_fail(monkeypatch):
    """Break the reference on purpose: the fuzz target must notice."""
    import tests.fuzz_vm as fuzz

    monkeypatch.setattr(fuzz, "run_reference", lambda prog, inputs=(), fuel=0: (cadmus.Status.OK, [], 0))
    assert fuzz.main(["--programs", "50", "--texts", "0", "--bytecode", "0"]) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=50), min_size=1, max_size=8))
def test_batch_of_arbitrary_text_ends_in_a_status(texts):
    batch = cadmus.run_batch(texts, fuel=1000, messages=True)
    assert set(batch.status.tolist()) <= STATUSES
    for i, text in enumerate(texts):
        parse_error = batch.status[i] == cadmus.Status.PARSE_ERROR
        assert (batch.errors[i] is not None) == parse_error
        assert batch.steps[i] <= 1000
