"""Fuzzing: hostile text, bytecode and arguments never crash the process, hang, or give an
unknown status or a wrong result.

The fuzz targets run in a subprocess so that a segfault in compiled code shows as a failed
exit status instead of taking the test runner down with it; the API fuzz logs the recipe of
the running case, so a crash is reported with its reproducer.
"""
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
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


def api_fuzz(tmp_path, cases: int, seed: int, timeout: int, setup: str = "") -> tuple:
    """Run ``cases`` API fuzz cases in a child; (exit code, last recipe, output, cases run)."""
    log = tmp_path / f"api-case-{seed}.txt"
    code = textwrap.dedent(f"""
        import sys
        import tests.fuzz_vm as fuzz
        {setup}
        count = fuzz.run_api({cases}, {seed}, {str(log)!r})
        print(f"api: {{count}} cases")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          cwd=FUZZ.parents[1])
    found = re.search(r"api: (\d+) cases", proc.stdout)
    last = log.read_text() if log.exists() else ""
    return proc.returncode, last, proc.stdout + proc.stderr, int(found.group(1)) if found else 0


def require_clean(rc: int, last: str, output: str) -> None:
    if rc != 0:
        how = f"killed by signal {-rc}" if rc < 0 else "a check failed"
        pytest.fail(f"API fuzz child exited {rc} ({how}); last case:\n{last}\nreproduce: "
                    f"python tests/fuzz_vm.py --replay {last!r}\n{output[-4000:]}")


def test_api_fuzz_in_subprocess(tmp_path):
    rc, last, output, count = api_fuzz(tmp_path, 300, seed=0, timeout=300)
    require_clean(rc, last, output)
    assert count == 300


@pytest.mark.slow
def test_api_fuzz_100k_cases(tmp_path):
    """100,000 cases in 20 children of 5,000 (each its own seed): ~15 minutes on one core.
    Every child runs, then the first failure is reported (all of them are printed)."""
    total, failed = 0, []
    for seed in range(1, 21):
        rc, last, output, count = api_fuzz(tmp_path, 5000, seed=seed, timeout=3600)
        total += count
        if rc != 0:
            failed.append((rc, last, output))
            print(f"seed {seed}: exit {rc}, last case {last}")
    print(f"API fuzz: {total:,} cases, {len(failed)} failing children")
    for rc, last, output in failed:
        require_clean(rc, last, output)
    assert total >= 100_000


def test_api_fuzz_reports_a_crash_with_its_reproducer(tmp_path):
    crash = ("import os, signal, cadmus\n"
             "def boom(*args, **kwargs):\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
             "cadmus.run_batch = boom")
    rc, last, output, _ = api_fuzz(tmp_path, 200, seed=0, timeout=300, setup=crash.replace("\n", "\n        "))
    assert rc == -11 and last.startswith("('run_batch'"), (rc, last, output[-2000:])
    with pytest.raises(pytest.fail.Exception, match=re.escape(f"killed by signal 11); last case:\n{last}")):
        require_clean(rc, last, output)


def test_api_fuzz_notices_a_wrong_result(tmp_path):
    wrong = ("import cadmus\nreal = cadmus.run\n"
             "def off_by_one(*args, **kwargs):\n    res = real(*args, **kwargs)\n    res.steps += 1\n    return res\n"
             "cadmus.run = off_by_one")
    rc, last, output, _ = api_fuzz(tmp_path, 200, seed=0, timeout=300, setup=wrong.replace("\n", "\n        "))
    assert rc == 1 and "AssertionError: run: VM Result(" in output, output[-2000:]
