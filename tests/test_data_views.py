"""Views: rendering from a record, and judging samples in the VM."""
import pytest

from cadmus.data.views import VIEWS, completion_answer, judge, render_views, run_checks


def gcd_record():
    program = "in a\nin b\nL0:\njz b L1\nmod c a b\nmov a b\nmov b c\njmp L0\nL1:\nout a"
    true_program = "mov a 48\nmov b 18\nL0:\njz b L1\nmod c a b\nmov a b\nmov b c\njmp L0\nL1:\nassert a 6"
    rec = {"description": "greatest common divisor of two numbers", "program": program,
           "true_program": true_program,
           "tests": [{"input": [48, 18], "output": [6]}, {"input": [7, 5], "output": [1]},
                     {"input": [9, 3], "output": [3]}],
           "challenge_tests": [{"input": [10, 4], "output": [2]}, {"input": [100, 75], "output": [25]}]}
    rec.update(render_views(rec))
    return rec


def test_render_views_formats():
    rec = gcd_record()
    assert rec["completion_prompt"].endswith("L1:\nassert a ") and rec["completion_target"] == "6"
    assert rec["completion_prompt"] + rec["completion_target"] == rec["true_program"]
    assert rec["synthesis_prompt"] == ("# greatest common divisor of two numbers\n# 48 18 -> 6\n"
                                       "# 7 5 -> 1\n# 9 3 -> 3\n")
    assert "10 4" not in rec["synthesis_prompt"]  # challenge tests stay out of prompts
    assert rec["synthesis_target"] == rec["program"]
    assert rec["execution_prompt"] == rec["program"] + "\n# input: 48 18\n# output: "
    assert rec["execution_target"] == "6"


def test_multi_output_completion_cut_at_last_assert():
    rec = gcd_record()
    rec["true_program"] = "mov a 1\nstore 0 a\nload p 0\nassert p 1\nload p 1\nassert p 0"
    views = render_views(rec)
    assert views["completion_prompt"].endswith("assert p 1\nload p 1\nassert p ")
    assert views["completion_target"] == "0"


def test_random_records_have_no_synthesis_view():
    rec = gcd_record()
    rec["description"] = ""
    views = render_views(rec)
    assert views["synthesis_prompt"] == views["synthesis_target"] == ""


def test_judge_passes_true_targets_and_fails_wrong_ones():
    rec = gcd_record()
    good = [judge(v, rec, rec[f"{v}_target"]) for v in VIEWS]
    bad = [judge("completion", rec, "7"), judge("synthesis", rec, "in a\nin b\nout a"),
           judge("execution", rec, "5"), judge("execution", rec, "six"), judge("completion", rec, "6 6"),
           judge("synthesis", rec, "in a\nin b\nmod c a b\nout b")]
    assert run_checks(good).tolist() == [True] * len(VIEWS)
    assert run_checks(bad).tolist() == [False] * len(bad)


def test_judge_cuts_one_line_samples_and_uses_challenge_tests():
    rec = gcd_record()
    assert judge("completion", rec, "6\nmov a 1").program == rec["true_program"]
    assert judge("execution", rec, "6\n# junk").cases == (([48, 18], (6,)),)
    synthesis = judge("synthesis", rec, rec["program"])
    assert len(synthesis.cases) == 5 and synthesis.n_visible == 3
    # a program that only fits the visible tests fails on the challenge tests
    cheat = "in a\nin b\nmov c 6\njeq a 48 L0\nmov c 1\njeq a 7 L0\nmov c 3\nL0:\nout c"
    assert run_checks([judge("synthesis", rec, cheat)]).tolist() == [False]
    with pytest.raises(ValueError, match="unknown view"):
        judge("translation", rec, "")


def test_completion_answer_must_be_an_integer_literal():
    """`assert p ` completed with a register (`assert p p`) always holds: it must not count."""
    rec = gcd_record()
    register = rec["completion_prompt"].rstrip().split()[-1]
    echo = judge("completion", rec, register)
    assert run_checks([echo]).tolist() == [False]
    for sample in (register, "", " 6", "6 # six", "0x6", "+6", "06", "-0"):
        assert completion_answer(sample) is None, sample
    assert completion_answer("-12\nmore") == "-12" and completion_answer("-12 \r\nmore") == "-12"
