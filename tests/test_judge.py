"""The one judge: a table of tricky samples gets the same verdict through every entry point
(the builder's checks, ``score_samples`` for eval/score, the in-training accuracy, the
pipeline, the repair loop), and no sample text makes any of them raise."""
import string

import pytest

from cadmus import judge
from cadmus.data import views
from cadmus.eval.repair import run_repair
from cadmus.train.evaluation import verify_completions

HIDDEN_MARK = 31337  # a hidden test's value that must never reach a prompt


def identity_record(first=30):
    """``in a / mov b a / out b`` with ``first`` as the first visible input: every line suite's
    right answer is ``first``."""
    program = "in a\nmov b a\nout b"
    visible = [first, 7, -4]
    hidden = [HIDDEN_MARK, 0, 1, -1, 99, 2**63 - 1, -2**63, 12, 1000, -77, 5]
    hidden = [v for v in hidden if v not in visible][:10]
    rec = {"description": "the input", "program": program, "true_program": f"mov a {first}\nmov b a\nassert b {first}",
           "tests": [{"input": [v], "output": [v]} for v in visible],
           "challenge_tests": [{"input": [v], "output": [v]} for v in hidden]}
    rec.update(views.render_views(rec))
    return rec


RIGHT = "in a\nmov b a\nout b"
LOOKUP = "in a\njne a 30 L0\nout 30\nhalt\nL0:\njne a 7 L1\nout 7\nhalt\nL1:\nout -4"
HUGE_LITERAL = "in a\nmov b " + "9" * 5000 + "\nout b"

# sample, then whether it passes as a completion, execution, input and synthesis answer, and
# as a trace answer (a sixth column; a row without one is no trace answer: False)
T, F = True, False
TRACE = "a=30\nb=30\nout 30\n# output: 30"  # the VM's trace of the identity program on 30
TABLE = [
    ("30", T, T, T, F),
    ("30 ", T, T, T, F),  # trailing spaces, tabs and \r are the DSL's separators
    ("30\r", T, T, T, F),
    ("30\t", T, T, T, F),
    ("30 \r\n", T, T, T, F),
    ("30\n junk", T, T, T, F),  # a line answer is the first line
    (" 30", F, F, F, F),  # leading whitespace: the prompt already ends in a space
    ("030", F, F, F, F),  # one canonical form per value
    ("-0", F, F, F, F),
    ("+30", F, F, F, F),
    ("+5", F, F, F, F),
    ("-30", F, F, F, F),
    ("30 30", F, F, T, F),  # input: a second value the program never reads
    ("30  ", T, T, T, F),
    ("", F, F, F, F),
    ("\n30", F, F, F, F),
    ("\r", F, F, F, F),
    ("9" * 5000, F, F, F, F),  # a huge integer is a wrong answer, never converted
    ("9223372036854775808", F, F, F, F),
    ("-" + "9" * 19, F, F, F, F),
    ("1" * 10**6, F, F, F, F),  # longer than MAX_ANSWER_CHARS: rejected unread
    ("30" + " " * judge.MAX_ANSWER_CHARS, F, F, F, F),
    ("30\x00", F, F, F, F),
    ("\x00", F, F, F, F),
    ("３０", F, F, F, F),  # fullwidth digits: ASCII only
    ("٣٠", F, F, F, F),
    ("30\u00a0", F, F, F, F),
    ("\ud800", F, F, F, F),
    ("3e1", F, F, F, F),
    ("0x1e", F, F, F, F),
    ("30.0", F, F, F, F),
    ("b", F, F, F, F),  # `assert b b` always holds
    ("b b", F, F, F, F),
    ("assert b b", F, F, F, F),
    (RIGHT, F, F, F, T),
    (RIGHT.replace("\n", "\r\n"), F, F, F, T),
    (RIGHT + "\n# done\n", F, F, F, T),
    (LOOKUP, F, F, F, F),  # passes the visible tests only
    ("out 30", F, F, F, F),
    ("in a\nout 30", F, F, F, F),
    (RIGHT + "\nout b", F, F, F, F),
    (HUGE_LITERAL, F, F, F, F),
    (RIGHT + "\n\x00", F, F, F, F),
    ("in a\nmov b a\nout b # é", F, F, F, T),
    ("L0:\njmp L0", F, F, F, F),
    ("# only a comment\nL0:", F, F, F, F),
    ("\n\n\n", F, F, F, F),
    (TRACE, F, F, F, F, T),
    (TRACE + "\n", F, F, F, F, T),
    (TRACE + "\n\nin a junk", F, F, F, F, T),  # a trace answer ends with its output line
    (TRACE.replace("\n", " \r\n") + "\t", F, F, F, F, T),  # trailing separators on each line
    (TRACE[:-2] + "31", F, F, F, F, F),  # right trace, wrong outputs
    (TRACE[:-3], F, F, F, F, F),  # right trace, no outputs
    (TRACE.replace("b=30", "b=31"), F, F, F, F, F),  # a wrong value
    (TRACE.replace("b=30\n", ""), F, F, F, F, F),  # a missing line
    (TRACE.replace("out 30\n", "out 30\nout 30\n"), F, F, F, F, F),  # an extra line
    (TRACE.replace("b=30", "c=30"), F, F, F, F, F),  # the wrong register
    (TRACE.replace("b=30", "b=030"), F, F, F, F, F),  # one canonical form per value
    (TRACE.replace("b=30", "b = 30"), F, F, F, F, F),
    (TRACE.replace("b=30", "q=30"), F, F, F, F, F),  # not a register
    (TRACE.replace("b=30", "b=" + "9" * 5000), F, F, F, F, F),
    (" " + TRACE, F, F, F, F, F),
    (TRACE.replace("# output: ", "# output:"), F, F, F, F, F),
    (TRACE.replace("# output: ", "#output: "), F, F, F, F, F),
    (TRACE + " 30", F, F, F, F, F),
    (TRACE.rsplit("\n", 1)[0], F, F, F, F, F),  # no output line
    ("# output: 30", F, F, F, F, F),  # the outputs without the trace
]
# the same questions when the answer is 0
ZERO_TABLE = [
    ("0", T, T, T, F),
    ("0 \r", T, T, T, F),
    ("-0", F, F, F, F),
    ("00", F, F, F, F),
    ("+0", F, F, F, F),
    ("0" * 5000, F, F, F, F),
    (" 0", F, F, F, F),
    ("O", F, F, F, F),
    (RIGHT, F, F, F, T),
    (TRACE.replace("30", "0"), F, F, F, F, T),
    (TRACE.replace("30", "-0"), F, F, F, F, F),
    (TRACE.replace("30", "00"), F, F, F, F, F),
    (TRACE.replace("b=30", "b=-0").replace("30", "0"), F, F, F, F, F),
]
TABLES = {30: TABLE, 0: ZERO_TABLE}
SAMPLES = [row[0] for row in TABLE]
COLUMNS = {"completion": 1, "execution": 2, "input": 3, "synthesis": 4, "repair": 4, "trace": 5}


def samples(first=30):
    return [row[0] for row in TABLES[first]]


def expected(suite, first=30):
    return [row[COLUMNS[suite]] if COLUMNS[suite] < len(row) else False for row in TABLES[first]]


def _printable(text):
    return all(c in string.printable and c not in "\n\r\t\x0b\x0c" for c in text)


@pytest.mark.parametrize("first", TABLES)
@pytest.mark.parametrize("suite", ["completion", "execution", "input", "synthesis", "repair", "trace"])
def test_score_samples_verdicts_follow_the_table(suite, first):
    rec = identity_record(first)
    verdicts = judge.score_samples(suite, [(rec, s) for s in samples(first)])
    assert [v["passed"] for v in verdicts] == expected(suite, first)
    for sample, v in zip(samples(first), verdicts):
        assert set(v) == {"passed", "passed_visible", "status", "reason"}
        assert v["reason"].startswith(("passed", "failed: ", "rejected: ")) and _printable(v["reason"]), v
        assert (v["status"] == "OK") == v["passed"]
        assert len(v["reason"]) < 400
        if suite in ("synthesis", "repair"):
            assert v["passed_visible"] is (v["passed"] or sample == LOOKUP)
        else:
            assert v["passed_visible"] is None


@pytest.mark.parametrize("first", TABLES)
@pytest.mark.parametrize("view", views.VIEWS)
def test_the_builders_checks_agree(view, first):
    rec = identity_record(first)
    passed = views.run_checks([views.judge(view, rec, s) for s in samples(first)])
    assert passed.tolist() == expected(view, first)


@pytest.mark.parametrize("first", TABLES)
def test_in_training_accuracy_agrees(first):
    rec = identity_record(first)
    passed = verify_completions([rec["completion_prompt"]] * len(samples(first)), samples(first))
    assert passed.tolist() == expected("completion", first)


@pytest.mark.parametrize("first", TABLES)
def test_pipeline_agrees(first):
    pipeline = pytest.importorskip("cadmus.pipeline")
    prefix = identity_record(first)["completion_prompt"]
    rows = [{"completion": s, "program": prefix + s} for s in samples(first)]
    pipeline._run_in_vm(rows, [prefix] * len(rows), judge.DEFAULT_FUEL)
    assert [r["status"] == "OK" for r in rows] == expected("completion", first)
    for r in rows:
        assert r["status"] in ("REJECTED", "OK", "ASSERT_FAILED"), r["status"]
        if r["status"] == "OK":
            assert r["program"] == f"{prefix}{first}"  # what was run: the prefix and the answer


def test_repair_loop_judges_the_same_and_never_shows_hidden_tests():
    rec = identity_record()
    first = [[{"id": str(i), "split": "test", "sample_index": 0, "sample": "halt", "passed": False,
               "reason": "failed: wrong output"}] for i in range(len(SAMPLES))]
    seen = []

    def generate(texts):
        seen.extend(texts)
        if len(seen) == len(texts):  # round 1: the table; round 2: the right program
            return list(SAMPLES)
        return [RIGHT] * len(texts)

    rows = run_repair(["# the input\n"] * len(SAMPLES), [rec] * len(SAMPLES), first, 2, generate)
    round1 = [r for r in rows if r["round"] == 1]
    assert [r["passed"] for r in round1] == expected("repair")
    assert all(r["passed"] for r in rows if r["round"] == 2)
    feedback = seen[len(SAMPLES):]  # round 2 prompts: the round-1 sample and its verdict
    assert len(feedback) == expected("repair").count(False)
    failed = [r for r in round1 if not r["passed"]]
    for text, row in zip(feedback, failed):
        assert f"\n# vm: {row['reason']}\n# fixed program:\n" in text
        assert str(HIDDEN_MARK) not in text
    lookup = next(r for r in round1 if r["sample"] == LOOKUP)
    assert lookup["passed_visible"] and lookup["reason"] == "failed: 10 of 10 hidden tests (WRONG_OUTPUT)"


def test_lookup_table_and_constant_pass_visible_but_not_the_headline():
    """A look-up table of the three visible tests, and a constant program on a record whose
    visible outputs happen to agree, pass ``passed_visible`` and fail the headline."""
    rec = identity_record()
    negative = {"tests": [{"input": [v], "output": [0]} for v in (4, 6, 9)],
                "challenge_tests": [{"input": [v], "output": [int(v < 0)]} for v in (-1, 0, -50, 3, -7, 8, 2, -2, 5, 11)]}
    verdicts = judge.score_samples("synthesis", [(rec, LOOKUP), (rec, RIGHT), (negative, "out 0"),
                                                 (negative, "in a\nlt b a 0\nout b")])
    assert [(v["passed_visible"], v["passed"]) for v in verdicts] == [(T, F), (T, T), (T, F), (T, T)]
    assert verdicts[2]["status"] == "WRONG_OUTPUT" and verdicts[2]["reason"] == "failed: 4 of 10 hidden tests (WRONG_OUTPUT)"
    assert views.run_checks([views.judge("synthesis", rec, LOOKUP), views.judge("synthesis", negative, "out 0")]).tolist() \
        == [False, False]


def test_any_sample_object_is_a_verdict():
    rec = identity_record()
    for suite in judge.SUITES:
        v = judge.score_samples(suite, [(rec, None), (rec, b"30"), (rec, 30)])
        assert [x["status"] for x in v] == ["TOO_LONG", "REJECTED", "REJECTED"]
        assert not any(x["passed"] for x in v)
    with pytest.raises(ValueError, match="unknown suite"):
        judge.score_samples("translation", [(rec, "30")])


def test_reasons_name_the_failing_visible_test():
    rec = identity_record()
    v = judge.score_samples("synthesis", [(rec, "in a\nout 30"), (rec, "mov a\nout a"), (rec, "L0:\njmp L0")])
    assert v[0]["reason"] == "failed: wrong output on input [7]: expected [7], got [30]"
    assert v[1]["status"] == "PARSE_ERROR" and v[1]["reason"].startswith("failed: PARSE_ERROR on input [30]: line 1")
    assert v[2]["status"] == "OUT_OF_FUEL" and v[2]["reason"] == "failed: OUT_OF_FUEL on input [30]"
    # execution: the program's output is the truth, the answer the claim
    v = judge.score_samples("execution", [(rec, "31"), (rec, "031")])
    assert v[0]["reason"] == "failed: wrong output on input [30]: expected [30], got [31]"
    assert v[1]["reason"] == "rejected: not a canonical integer: 031 (no sign +, leading zero or -0)"
    v = judge.score_samples("completion", [(rec, "31"), (rec, "9" * 5000), (rec, "x" * (judge.MAX_ANSWER_CHARS + 1))])
    assert [x["reason"] for x in v] == ["failed: ASSERT_FAILED running the program", "rejected: integer outside int64",
                                        f"rejected: longer than {judge.MAX_ANSWER_CHARS} characters"]


def test_identical_samples_of_a_record_are_judged_once():
    rec = identity_record()
    judged = []
    real = judge.execute

    def spy(checks, *args, **kwargs):
        judged.append(len(checks))
        return real(checks, *args, **kwargs)

    judge.execute = spy
    try:
        v = judge.score_samples("synthesis", [(rec, RIGHT)] * 5 + [(rec, LOOKUP)] * 3)
    finally:
        judge.execute = real
    assert judged == [2] and [x["passed"] for x in v] == [True] * 5 + [False] * 3
