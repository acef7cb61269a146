"""The ``program-completion`` transformers pipeline and ``cadmus complete``.

Two tiny models: an untrained GPT-2 (arbitrary text: the mechanics, padding, determinism) and
a *unigram* GPT-2 whose final layer norm ignores the context, so every next token is drawn
from a distribution the test sets (``7`` 0.5, newline 0.3, ``8`` 0.2). Its completions of
``assert a `` are ``7``, ``78``, ``""``, ... with known log-probabilities, so the VM verdicts,
the filtering and the ranking can be checked against values computed here.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import cadmus

REPO = Path(__file__).resolve().parents[1]
UNIGRAM = {"7": 0.5, "\n": 0.3, "8": 0.2}
FIELDS = {"completion", "program", "status", "outputs", "logprob"}


def _save_tiny(out, edit=None):
    import torch

    from cadmus.models import build_model, make_config
    from cadmus.tokenization import load_tokenizer

    tok = load_tokenizer()
    cfg = make_config("tiny", len(tok), 128, n_layer=1, n_head=2, n_embd=16,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = build_model(cfg)
    if edit:
        with torch.no_grad():
            edit(model, tok)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def _make_unigram(model, tok):
    """ln_f outputs its bias e0 whatever the input, so logits[t] = wte[t, 0] (tied head)."""
    model.transformer.ln_f.weight.zero_()
    model.transformer.ln_f.bias.zero_()
    model.transformer.ln_f.bias[0] = 1.0
    model.transformer.wte.weight[:, 0] = -1e4
    for char, p in UNIGRAM.items():
        model.transformer.wte.weight[tok.convert_tokens_to_ids(char), 0] = math.log(p)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return _save_tiny(tmp_path_factory.mktemp("pipe") / "untrained")


@pytest.fixture(scope="module")
def unigram_dir(tmp_path_factory):
    return _save_tiny(tmp_path_factory.mktemp("pipe") / "unigram", _make_unigram)


def _pipe(path, **kwargs):
    import cadmus.pipeline  # noqa: F401  (registers the task)
    from transformers import pipeline

    return pipeline("program-completion", model=str(path), **kwargs)


@pytest.fixture(scope="module")
def pipe(model_dir):
    return _pipe(model_dir, device="cpu")


@pytest.fixture(scope="module")
def unigram(unigram_dir):
    return _pipe(unigram_dir)


def _known_logprob(completion, ended):
    """The unigram model's log-probability of ``completion`` (+ the newline that ended it)."""
    return sum(math.log(UNIGRAM[c]) for c in completion + ("\n" if ended else ""))


def _same_as_vm(sample):
    if sample["status"] == "REJECTED":  # not an integer where the completion view wants one
        from cadmus.judge import completion_answer

        return completion_answer(sample["completion"]) is None and sample["outputs"] == []
    res = cadmus.run(sample["program"])
    return sample["status"] == res.status.name and sample["outputs"] == res.outputs


def test_importing_cadmus_stays_light():
    code = "import sys, cadmus, cadmus.cli; assert not {'torch', 'transformers'} & set(sys.modules), sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_samples_have_the_documented_fields_and_the_vm_verdict(unigram):
    prefix = "mov a 7\nout a\nassert a "
    samples = unigram(prefix, num_return_sequences=24, seed=0, max_new_tokens=8)
    assert len(samples) == 24
    for s in samples:
        assert set(s) == FIELDS
        assert s["program"] == prefix + s["completion"] and "\n" not in s["completion"]
        assert isinstance(s["logprob"], float) and all(isinstance(v, int) for v in s["outputs"])
        assert _same_as_vm(s), s
        ended = len(s["completion"]) < 8  # shorter than the budget: a newline ended it
        assert s["logprob"] == pytest.approx(_known_logprob(s["completion"], ended), abs=1e-4)
    by_completion = {s["completion"]: (s["status"], s["outputs"]) for s in samples}
    assert by_completion["7"] == ("OK", [7])
    assert by_completion[""] == ("REJECTED", [])
    assert {st for st, _ in by_completion.values()} == {"OK", "ASSERT_FAILED", "REJECTED"}


def test_untrained_model_verdicts_match_the_vm(pipe):
    groups = pipe(["mov a 5\nout a\n", "mov b 2\nassert b "], num_return_sequences=4, temperature=1.0, seed=3,
                  max_new_tokens=6)
    assert all(_same_as_vm(s) for g in groups for s in g)


def test_a_list_gives_one_list_per_prefix_and_matches_single_calls(pipe):
    prefixes = ["mov a 7\nassert a ", "nop\n", "mov a 1\nmov b 2\nadd c a b\nout c\nassert c "]
    together = pipe(prefixes, max_new_tokens=6, batch_size=2)  # left-padded batches of two rows
    assert len(together) == 3 and all(len(g) == 1 for g in together)
    for prefix, group in zip(prefixes, together):
        alone = pipe(prefix, max_new_tokens=6)
        assert [s["completion"] for s in alone] == [s["completion"] for s in group]
        assert alone[0]["logprob"] == pytest.approx(group[0]["logprob"], abs=1e-4)
    sampled = pipe(prefixes, num_return_sequences=3, temperature=0.9, max_new_tokens=4, seed=0)
    assert [len(g) for g in sampled] == [3, 3, 3]
    assert all(s["program"].startswith(p) for p, g in zip(prefixes, sampled) for s in g)
    assert pipe([]) == []


def test_logprob_is_the_models_own(pipe):
    """The pipeline's logprob equals a plain forward pass over prefix + completion (+ its end)."""
    import torch

    from cadmus.tokenization import encode

    prefixes = ["mov a 7\nassert a ", "nop\nnop\nnop\nmov a 1\n"]
    groups = pipe(prefixes, num_return_sequences=2, temperature=1.3, seed=1, max_new_tokens=5)
    tok, model = pipe.tokenizer, pipe.model
    for prefix, group in zip(prefixes, groups):
        for s in group:
            # specials a sampled completion may hold decode to their spelling: map them back
            ids, comp = encode(tok, prefix), tok(s["completion"], add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logp = model(torch.tensor([ids + comp])).logits.log_softmax(-1)[0]
            body = sum(logp[len(ids) - 1 + j, t].item() for j, t in enumerate(comp))
            ends = [0.0] if len(comp) == 5 else [logp[-1, tok.convert_tokens_to_ids("\n")].item(),
                                                  logp[-1, tok.eos_token_id].item()]
            assert min(abs(s["logprob"] - body - e) for e in ends) < 1e-4, s


def test_verify_keeps_only_ok_samples_best_first(unigram):
    prefix = "mov a 78\nmov b "  # any integer completes it; the empty completion does not parse
    kwargs = dict(num_return_sequences=16, seed=5, max_new_tokens=6)
    everything = unigram(prefix, **kwargs)
    verified = unigram(prefix, verify=True, **kwargs)
    ok = [s for s in everything if s["status"] == "OK"]
    assert 0 < len(ok) < len(everything)  # the seed draws some empty completions
    assert sorted(map(json.dumps, verified)) == sorted(map(json.dumps, ok))
    assert [s["logprob"] for s in verified] == sorted((s["logprob"] for s in ok), reverse=True)
    assert len({s["logprob"] for s in verified}) > 1  # the ranking is not vacuous
    only = unigram("mov a 7\nassert a ", verify=True, **kwargs)
    assert only and {s["completion"] for s in only} == {"7"}


def test_greedy_is_deterministic_and_known(pipe, unigram):
    first = pipe(["mov a 3\nassert a ", "out 1\n"], max_new_tokens=8)
    assert pipe(["mov a 3\nassert a ", "out 1\n"], max_new_tokens=8, temperature=0) == first
    # the unigram model's argmax is "7" at every step: greedy never reaches a newline
    s, = unigram("mov a 7\nassert a ", max_new_tokens=4)
    assert s["completion"] == "7777" and s["status"] == "ASSERT_FAILED"
    assert s["logprob"] == pytest.approx(4 * math.log(0.5), abs=1e-4)


def test_option_errors(pipe):
    from cadmus.tokenization import AlphabetError

    with pytest.raises(ValueError, match="greedy"):
        pipe("mov a ", num_return_sequences=2, temperature=0)
    with pytest.raises(ValueError, match="leave room"):
        pipe("nop\n" * 40)
    with pytest.raises(ValueError, match="leave room"):
        pipe(["nop\n", ""])
    with pytest.raises(AlphabetError):
        pipe("mov a \u00e9")
    with pytest.raises(TypeError):
        pipe([1, 2])


def test_folder_with_pipeline_code_is_found_through_its_config(model_dir, tmp_path, monkeypatch):
    """add_pipeline_code: the folder names its pipeline; transformers loads the folder's copy."""
    import shutil

    from transformers import pipeline
    from transformers.pipelines import PIPELINE_REGISTRY

    from cadmus.pipeline import TASK, add_pipeline_code

    # loading the folder's copy registers it in the task's place: put cadmus.pipeline back after
    monkeypatch.setitem(PIPELINE_REGISTRY.supported_tasks, TASK, PIPELINE_REGISTRY.supported_tasks[TASK])
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    config = json.loads(add_pipeline_code(folder).read_text())
    assert config["custom_pipelines"]["program-completion"]["impl"] == "pipeline.ProgramCompletionPipeline"
    assert (folder / "pipeline.py").read_text() == (REPO / "cadmus" / "pipeline.py").read_text()
    p = pipeline(model=str(folder), trust_remote_code=True)  # the task comes from config.json
    assert type(p).__module__.startswith("transformers_modules.") and p.task == "program-completion"
    s, = p("mov a 7\nassert a ", max_new_tokens=3)
    assert set(s) == FIELDS
    with pytest.raises(FileNotFoundError):
        add_pipeline_code(tmp_path / "nothing")


@pytest.mark.slow
def test_folder_with_pipeline_code_loads_without_importing_cadmus(model_dir, tmp_path):
    import os
    import shutil

    from cadmus.pipeline import add_pipeline_code

    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    add_pipeline_code(folder)
    code = ("import json, sys\nfrom transformers import pipeline\n"
            f"p = pipeline('program-completion', model={str(folder)!r}, trust_remote_code=True)\n"
            "print(json.dumps([p('mov a 7\\nassert a ', max_new_tokens=3), 'cadmus.pipeline' in sys.modules]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")})
    assert proc.returncode == 0, proc.stderr
    samples, imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not imported and len(samples) == 1 and set(samples[0]) == FIELDS


# ---------------------------------------------------------------- cadmus complete

def test_cli_prints_each_sample(unigram_dir, capsys):
    from cadmus.cli import main

    assert main(["complete", str(unigram_dir), "mov a 7\\nassert a ", "--samples", "6", "--max-new-tokens", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].startswith("[1] ")
    assert all("logprob" in line and "outputs [" in line and "completion '" in line for line in lines)
    assert main(["complete", str(unigram_dir), "mov a 7\\nout a\\nassert a ", "--samples", "12", "--verify",
                 "--json", "--max-new-tokens", "5"]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert verified and all(s["status"] == "OK" and s["outputs"] == [7] and s["completion"] == "7" for s in verified)


def test_cli_reads_stdin_and_reports_nothing_verified(unigram_dir, capsys, monkeypatch):
    import io

    from cadmus.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO("mov a 8\nassert a "))
    assert main(["complete", str(unigram_dir), "-", "--json", "--max-new-tokens", "3"]) == 0
    s, = json.loads(capsys.readouterr().out)
    assert s["program"] == "mov a 8\nassert a 777" and s["status"] == "ASSERT_FAILED"
    assert main(["complete", str(unigram_dir), "mov a 9\\nassert a ", "--verify", "--temperature", "0"]) == 1
    assert "none of 1 samples ran OK" in capsys.readouterr().err


def test_cli_usage_errors(model_dir, tmp_path, capsys):
    from cadmus.cli import main

    assert main(["complete", str(tmp_path / "missing"), "nop"]) == 2
    assert f"model folder {tmp_path / 'missing'} not found" in capsys.readouterr().err
    assert main(["complete", str(tmp_path), "nop"]) == 2
    assert "not a model folder (no config.json)" in capsys.readouterr().err
    assert main(["complete", str(model_dir), "nop", "--samples", "2", "--temperature", "0"]) == 2
    assert "greedy" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["complete", "--help"])
    assert exc.value.code == 0 and "means a newline" in capsys.readouterr().out
