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


def test_data_build_refuses_a_folder_that_is_not_a_dataset_and_leaves_it_intact(tmp_path, capsys):
    from cadmus.data.cli import DataBuildError, build_dataset

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    assert main(["data", "build", "tiny", "--out", str(folder), "--overwrite", "--limit", "5"]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    with pytest.raises(DataBuildError, match="exists and is not empty"):
        build_dataset("tiny", folder, limit=5)
    with pytest.raises(DataBuildError, match="no_such_recipe"):
        build_dataset("no_such_recipe", tmp_path / "new", limit=5)
    assert (folder / "mine.txt").read_text() == "keep me" and not (tmp_path / "new").exists()


def test_eval_options_are_the_parser_defaults_and_reject_unknown_names(tmp_path):
    from cadmus.eval.cli import eval_options

    args = eval_options(tmp_path / "m", tmp_path / "d", suite="execution", limit=7, out=tmp_path / "o")
    assert (args.model, args.data, args.suite, args.limit, args.out) == (
        str(tmp_path / "m"), str(tmp_path / "d"), "execution", 7, str(tmp_path / "o"))
    assert args.n == 1 and args.split == "test"  # the command's defaults
    with pytest.raises(TypeError, match="no_such_option"):
        eval_options(tmp_path / "m", tmp_path / "d", no_such_option=1)
