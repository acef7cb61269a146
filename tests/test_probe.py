"""`cadmus probe`: the closed-form ridge against the normal equations, logistic regression on
separable data, layer verdicts on a synthetic inspection whose layers encode the answer in
known ways, and the command end to end on a tiny model's inspection."""
import json

import numpy as np
import pytest

from cadmus.instruments import probe
from tests.test_inspect import inspection  # noqa: F401  (fixture)


def test_ridge_path_solves_the_normal_equations():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(60, 1))
    (w, b), (w0, b0) = probe.ridge_path(x, y, [2.5, 1e-10])
    xa = np.hstack([x, np.ones((60, 1))])
    # ridge with an unpenalised intercept: penalise only the weight rows of the augmented system
    pen = np.diag([2.5] * 5 + [0.0])
    wa = np.linalg.solve(xa.T @ xa + pen, xa.T @ y)
    np.testing.assert_allclose(np.vstack([w, b]), wa, atol=1e-9)
    np.testing.assert_allclose(np.vstack([w0, b0]), np.linalg.lstsq(xa, y, rcond=None)[0], atol=1e-6)


def test_logistic_regression_separates_clusters():
    rng = np.random.default_rng(1)
    centers = np.array([[4, 0, 0], [0, 4, 0], [0, 0, 4]], float)
    y = rng.integers(0, 3, 300)
    x = centers[y] + rng.normal(scale=0.5, size=(300, 3))
    w, b = probe.fit_logistic(x, y, 3, 1e-3)
    assert (probe.LogisticProbe(w, b).predict(x) == y).mean() > 0.98


def test_r2_of_known_predictions():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert probe.r2(y, y) == 1.0
    assert probe.r2(y, np.full(4, 2.5)) == 0.0
    assert probe.r2(y, y[::-1]) == pytest.approx(-3.0)


# ---------------------------------------------------------------- a synthetic inspection

def synthetic_split(rng, split: str, n_prompts: int, answers: tuple, d: int = 8):
    """Prompts of 3 register tokens + a last token. Layer 0 is noise; layer 1 holds each
    register's sign and the answer clipped to 0..99 (right on IID numbers, wrong beyond);
    layer 2 holds the answer linearly."""
    from datasets import Dataset

    from cadmus.instruments.inspect import token_features

    features = token_features(3, d)
    cols = {k: [] for k in features}
    for p in range(n_prompts):
        answer = int(rng.integers(*answers))
        for pos in range(4):
            last = pos == 3
            value = None if last else int(rng.integers(-50, 51))
            h = rng.normal(scale=0.05, size=(3, d)).astype(np.float32)
            h[0] = rng.normal(size=d)
            if value is not None:
                h[1, 1] += np.sign(value)
            h[1, 0] += min(answer, 99) / 99
            h[2, 0] += answer / 99
            row = dict(split=split, record_id=f"{split}-{p}", record_index=p, prompt=p, family="arith",
                       variant="v", level=1, position=pos, token_id=0, token="x", char_start=pos, char_end=pos + 1,
                       line=0, line_text="", role="other" if last else "register", slot=1,
                       register="" if last else "a", access="" if last else "read", opcode="add", executed=1,
                       registers_before=None, registers=None, value=value, answer=answer, is_last=last,
                       predicted="", hidden=h)
            for k in features:
                cols[k].append(row[k])
    return Dataset.from_dict(cols, features=features)


@pytest.fixture(scope="module")
def synthetic():
    from datasets import DatasetDict

    rng = np.random.default_rng(2)
    return DatasetDict(train=synthetic_split(rng, "train", 120, (0, 100)),
                       test=synthetic_split(rng, "test", 40, (0, 100)),
                       ood_numbers=synthetic_split(rng, "ood_numbers", 40, (100, 10000)))


def test_probes_find_the_layer_that_encodes_each_target(synthetic):
    results = probe.run_probes(synthetic, ["answer", "sign"], "train", ["test", "ood_numbers"])
    score = {(r["target"], r["layer"], r["split"]): r["score"] for r in results}
    assert probe.first_layer(results, "answer", "test", 0.9) == 1
    assert probe.first_layer(results, "answer", "ood_numbers", 0.9) == 2  # the clipped code fails beyond 99
    assert score[("answer", 0, "test")] < 0.3 and score[("answer", 1, "ood_numbers")] < 0.5
    assert score[("answer", 2, "ood_numbers")] > 0.99
    assert probe.first_layer(results, "sign", "test", 0.9) == 1
    assert score[("sign", 0, "test")] < 0.75  # chance is ~0.5 (values are rarely 0)
    lines = probe.verdicts(results, 0.9)
    assert "answer: linearly decodable on test from layer 1" in lines[0]
    assert "answer: linearly decodable on ood_numbers from layer 2" in lines[1]
    base = {(r["target"], r["split"]): r["baseline"] for r in results if r["layer"] == 0}
    assert base[("answer", "ood_numbers")] < -1  # the training mean is far below every OOD answer


def test_slog_scale_tames_huge_values():
    y = probe._encode("regression", [0, 9, -99, 10**18], [], "slog")
    np.testing.assert_allclose(y, [0.0, 1.0, -2.0, 18.0], atol=1e-9)
    assert probe._encode("regression", [5, -7], [], "linear").tolist() == [5.0, -7.0]


def test_family_filter_and_missing_rows(synthetic):
    with pytest.raises(probe.ProbeError, match="0 training rows"):
        probe.run_probes(synthetic, ["answer"], "train", ["test"], families=["gcd"])
    with pytest.raises(probe.ProbeError, match="unknown scale"):
        probe.run_probes(synthetic, ["answer"], "train", ["test"], scale="log2")
    with pytest.raises(probe.ProbeError, match="unknown target"):
        probe.run_probes(synthetic, ["colour"], "train", ["test"])
    with pytest.raises(probe.ProbeError, match="split\\(s\\) ood_length not in the inspection"):
        probe.run_probes(synthetic, ["answer"], "train", ["ood_length"])


# ---------------------------------------------------------------- the command

def test_cli_tables_json_and_plot(inspection, tmp_path, capsys):  # noqa: F811
    from cadmus.cli import main

    out = tmp_path / "p"
    assert main(["probe", str(inspection), "--target", "answer,sign,opcode", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "answer:" in printed and "ood_numbers" in printed
    doc = json.loads((out / "probe.json").read_text())
    assert doc["eval_splits"] == ["test", "ood_numbers"] and doc["train_split"] == "train"
    # 3 targets x 3 states (embeddings + 2 blocks) x (train in-sample + 2 splits)
    assert len(doc["results"]) == 27
    assert {(r["layer"], r["split"]) for r in doc["results"]} == {
        (layer, s) for layer in range(3) for s in ("(train)", "test", "ood_numbers")}
    assert len(doc["verdicts"]) == 6
    md = (out / "probe.md").read_text()
    assert "## answer (R^2)" in md and "## opcode (accuracy)" in md and "| constant |" in md
    assert (out / "probe.png").stat().st_size > 10_000


def test_cli_names_what_is_wrong(inspection, tmp_path, capsys):  # noqa: F811
    from cadmus.cli import main

    assert main(["probe", str(inspection), "--target", "answer", "--eval-split", "valid", "--out", str(tmp_path)]) == 2
    assert "valid not in the inspection" in capsys.readouterr().err
    assert main(["probe", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not an inspection folder" in capsys.readouterr().err


def test_answer_first_and_last_digit_label_the_prompts_last_token():
    cols = {"is_last": [False, True, True, True], "answer": [None, -37, 40, None]}
    first, last = probe.TARGETS["answer_first"], probe.TARGETS["answer_last_digit"]
    assert [first.rows(cols, i) for i in range(4)] == [False, True, True, False]
    assert [first.label(cols, i) for i in (1, 2)] == ["-", "4"]
    assert [last.label(cols, i) for i in (1, 2)] == ["7", "0"]
    assert first.kind == last.kind == "classification"
