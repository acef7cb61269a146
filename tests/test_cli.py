"""The `cadmus` command line: run, fmt, isa, bench."""
import subprocess
import sys

import pytest

from cadmus.cli import main


def cadmus_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "cadmus.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=300)


def test_run_prints_outputs_and_status(repo_root):
    proc = cadmus_cli("run", str(repo_root / "examples" / "gcd.cad"), "--input", "48,18")
    assert proc.returncode == 0
    assert proc.stdout.split() == ["6"]
    assert "status: OK" in proc.stderr


def test_run_exit_code_nonzero_unless_ok(tmp_path):
    prog = tmp_path / "p.cad"
    prog.write_text("out 1\nassert 1 2")
    proc = cadmus_cli("run", str(prog))
    assert proc.returncode == 1 and "ASSERT_FAILED" in proc.stderr
    prog.write_text("mov a\n")
    proc = cadmus_cli("run", str(prog))
    assert proc.returncode == 1 and "line 1, col 1: 'mov' takes 2 operands, got 1" in proc.stderr


def test_run_trace_and_fuel(tmp_path, capsys):
    prog = tmp_path / "loop.cad"
    prog.write_text("L0:\ninc a\njmp L0")
    assert main(["run", str(prog), "--fuel", "5", "--trace"]) == 1
    out = capsys.readouterr()
    assert "OUT_OF_FUEL (5 steps)" in out.err
    assert len(out.out.strip().splitlines()) == 5 and "a=2" in out.out


def test_fmt_prints_canonical_form_and_locates_errors(tmp_path, capsys):
    prog = tmp_path / "p.cad"
    prog.write_text("start:  # top\n   add  a a 1\n jmp start\n")
    assert main(["fmt", str(prog)]) == 0
    assert capsys.readouterr().out == "L0:\nadd a a 1\njmp L0\n"
    prog.write_text("nop\nmov a 99999999999999999999\n")
    assert main(["fmt", str(prog)]) == 1
    assert f"{prog}:2:7: literal out of int64 range" in capsys.readouterr().err


def test_isa_prints_reference(capsys):
    assert main(["isa"]) == 0
    assert "`add r v v`" in capsys.readouterr().out


@pytest.mark.parametrize("command", [[], ["run"], ["fmt"], ["isa"], ["bench"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: cadmus" in capsys.readouterr().out
