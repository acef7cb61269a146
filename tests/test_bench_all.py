"""``cadmus bench all``: every benchmark script is covered, its quick options parse, the
headline table is built from each script's JSON, and failures are reported, not hidden."""
import argparse
import importlib.util
import json
import sys

import pytest

from cadmus.cli import main
from cadmus.commands.vm import ALL_BENCHMARKS, BENCHMARKS, REPO_ROOT, merge_results

# The shapes each script writes (values made up; a real run of one script is checked below).
FIXTURES = {
    "vm": {"meta": {"quick": True}, "rows": [
        {"measurement": "ns / instruction", "implementation": "compiled VM", "value": 3.5, "unit": "ns",
         "vm_speedup": None},
        {"measurement": "ns / instruction", "implementation": "reference interpreter", "value": 2100.0,
         "unit": "ns", "vm_speedup": 600.0}]},
    "data": {"records": 400, "workers": 1, "seconds": 1.0, "records_per_s": 400, "generate_us_per_record": 10.0,
             "verify_us_per_record": 20.0, "vm_us_per_record": 5.0, "pack_us_per_record": 6.0,
             "parent_us_per_record": 4.0, "vm_share": 0.125,
             "baseline": {"rev": "abc1234", "generate_us_per_record": 20.0, "verify_us_per_record": 40.0,
                          "pack_us_per_record": 12.0, "parent_us_per_record": 8.0}},
    "train": {"args": {}, "results": [{"preset": "tiny", "cadmus_tokens_per_s": 9872, "raw_tokens_per_s": 9697,
                                       "ratio": 1.018, "non_pad_share": 1.0}]},
    "eval": {"args": {}, "results": [{"suite": "completion", "n": 2, "samples_per_s": 52.9, "vm_share": 0.0008,
                                      "past_answer_share": 0.0}]},
}


def load_script(name: str):
    """``benchmarks/bench_NAME.py`` imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", REPO_ROOT / "benchmarks" / f"bench_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_script_is_run_by_bench_all():
    assert set(BENCHMARKS) == set(ALL_BENCHMARKS)


@pytest.mark.parametrize("name", sorted(ALL_BENCHMARKS))
def test_quick_options_are_accepted_by_the_script(name, monkeypatch):
    """Parse the quick options with the script's own parser (stopped before it runs anything)."""
    class Parsed(Exception):
        pass

    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise Parsed(parse(self, args, namespace))

    script = REPO_ROOT / "benchmarks" / f"bench_{name}.py"
    module = load_script(name)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [str(script), *ALL_BENCHMARKS[name][1], "--json", "out.json"])
    with pytest.raises(Parsed) as parsed:
        module.main()
    assert parsed.value.args[0].json == "out.json"


def test_headline_table_from_fixture_json():
    table, rows = merge_results({**FIXTURES, "broken": 3})
    lines = table.splitlines()
    assert lines[0] == "| benchmark | metric | value | vs baseline |"
    assert "| vm | compiled VM: ns / instruction | 3.50 ns |  |" in lines
    assert "| vm | reference interpreter: ns / instruction | 2,100 ns | compiled VM 600x faster |" in lines
    assert "| data | CPU per record, all processes | 40.00 us | 2.00x less than abc1234 |" in lines
    assert "| train | training throughput, preset tiny | 9,872 tok/s | 1.02x the raw PyTorch loop |" in lines
    assert "| eval | eval samples (completion, n=2) | 52.90 samples/s |  |" in lines
    assert "| eval | eval VM share of wall time (completion, n=2) | 0.08% |  |" in lines
    assert "| data | records built and verified (400 records, 1 worker) | 400 rec/s |  |" in lines
    assert lines[-1] == "| broken | FAILED (exit code 3) |  |  |"
    assert len(lines) == 2 + len(rows) and [r["benchmark"] for r in rows].count("eval") == 3


def test_a_real_benchmark_run_merges_into_the_table(tmp_path):
    """The data benchmark run for real at a tiny size, its JSON as the script writes it (results
    are git-ignored, so a test that read benchmarks/results/ would check nothing on a clean clone)."""
    out = tmp_path / ALL_BENCHMARKS["data"][0]
    assert load_script("data").main(["--records", "60", "--workers", "1", "--json", str(out)]) == 0
    written = json.loads(out.read_text())
    table, rows = merge_results({"data": written})
    assert [r["benchmark"] for r in rows] == ["data"] * 3 and all(isinstance(r["value"], (int, float)) for r in rows)
    assert rows[0]["metric"] == "records built and verified (60 records, 1 worker)"
    assert rows[0]["value"] == written["records_per_s"] > 0 and 0 < written["vm_share"] < 1
    line = next(x for x in table.splitlines() if "records built and verified" in x)
    assert line.startswith("| data | records built and verified (60 records, 1 worker) | ") and " rec/s |" in line


def test_bench_all_runs_each_script_and_writes_one_table(tmp_path, monkeypatch, capsys):
    """The orchestration, with each benchmark process replaced by one that writes fixture JSON."""
    import subprocess

    calls = []

    def fake_run(cmd, cwd=None):
        name = cmd[1].rsplit("bench_", 1)[1][:-3]
        calls.append((name, cmd[2:]))
        if name == "train":
            return subprocess.CompletedProcess(cmd, 1)
        out = cmd[cmd.index("--json") + 1]
        with open(out, "w") as f:
            json.dump(FIXTURES[name], f)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert main(["bench", "all", "--quick", "--out", str(tmp_path)]) == 1  # one benchmark failed
    assert [c[0] for c in calls] == list(ALL_BENCHMARKS)
    for name, args in calls:
        assert args == [*ALL_BENCHMARKS[name][1], "--json", str(tmp_path / ALL_BENCHMARKS[name][0])]
    md = (tmp_path / "all.md").read_text()
    assert md.startswith("# Cadmus benchmarks (--quick)") and "| train | FAILED (exit code 1) |" in md
    assert "| vm | reference interpreter: ns / instruction | 2,100 ns | compiled VM 600x faster |" in md
    summary = json.loads((tmp_path / "all.json").read_text())
    assert summary["quick"] is True and set(summary["seconds"]) == set(ALL_BENCHMARKS)
    assert md.split("\n\n", 2)[2] in capsys.readouterr().out  # the table is printed too
    calls.clear()
    assert main(["bench", "all", "--out", str(tmp_path), "--only", "vm,eval"]) == 0
    assert calls == [("vm", ["--json", str(tmp_path / "vm.json")]), ("eval", ["--json", str(tmp_path / "bench_eval.json")])]


@pytest.mark.slow
def test_bench_all_quick_end_to_end(tmp_path):
    """Every benchmark really runs at its quick size (minutes on a loaded 2-core machine)."""
    assert main(["bench", "all", "--quick", "--out", str(tmp_path)]) == 0
    rows = json.loads((tmp_path / "all.json").read_text())["rows"]
    assert {r["benchmark"] for r in rows} == set(ALL_BENCHMARKS)
    assert all(r["value"] is not None for r in rows)
