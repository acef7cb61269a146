"""cadmus.generation, the one generation path, against plain ``model.generate`` one prompt at a time."""
import math

import pytest

torch = pytest.importorskip("torch")

from cadmus import generation  # noqa: E402
from cadmus.generation import GenerationSettings, Sample  # noqa: E402

PROMPTS = [  # different lengths, so one batch pads most rows
    "mov a 1\nassert a ",
    "mov a 17\nmov b 25\nadd c a b\nassert c ",
    "out 3\n",
    "mov a 5\nmov b 6\nmul c a b\nsub d c a\nout d\nassert d ",
    "# double\nmov a 4\nadd a a a\n",
    "L0:\n",
]
BUDGET = 12


@pytest.fixture(scope="module")
def tok():
    from cadmus.tokenization import load_tokenizer

    return load_tokenizer()


def _tiny(tok, seed=0, n_positions=128):
    from cadmus.models import build_model, make_config

    torch.manual_seed(seed)
    return build_model(make_config("tiny", len(tok), n_positions, n_layer=2, n_head=2, n_embd=32,
                                   eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)).eval()


@pytest.fixture(scope="module")
def model(tok):
    return _tiny(tok)


def _always(tok, char):
    """A model whose every next token is ``char``."""
    m = _tiny(tok)
    with torch.no_grad():
        m.transformer.ln_f.weight.zero_()
        m.transformer.ln_f.bias.copy_(m.transformer.wte.weight[tok.convert_tokens_to_ids(char)] * 50)
    return m


def reference(model, tok, prompt, budget=BUDGET) -> list:
    """Greedy new token ids of one prompt: no padding, no batch, no stopping but end-of-sequence."""
    ids = torch.tensor([tok(prompt, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=budget,
                             do_sample=False, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    row = out[0, ids.shape[1]:].tolist()
    return row[:row.index(tok.eos_token_id)] if tok.eos_token_id in row else row


@pytest.fixture(scope="module")
def plain(model, tok):
    """The reference's greedy answer text to each of PROMPTS."""
    return [tok.decode(reference(model, tok, p)) for p in PROMPTS]


def _texts(samples):
    return [s.text for group in samples for s in group]


def test_greedy_batches_equal_one_prompt_at_a_time(model, tok, plain):
    assert len(set(plain)) > 1 and all(len(t) == BUDGET for t in plain)  # nothing stops a random model early
    for batch_size in (4, len(PROMPTS)):  # 4: a batch of four, then one of two
        samples, stats = generation.generate(model, tok, PROMPTS, (), GenerationSettings(batch_size=batch_size,
                                                                                       max_new_tokens=BUDGET))
        assert _texts(samples) == plain
        assert stats["rows"] == len(PROMPTS) and stats["generated_tokens"] == BUDGET * len(PROMPTS)


def test_a_stop_string_ends_each_row_and_the_batch(model, tok, plain):
    stop = plain[1][3:5]  # a text the model writes mid-answer: it ends that row there
    expected = [t[:t.find(stop)] if stop in t else t for t in plain]
    assert expected[1] == plain[1][:3] and any(e == t for e, t in zip(expected, plain))  # others run to the budget
    samples, stats = generation.generate(model, tok, PROMPTS, (stop,), GenerationSettings(max_new_tokens=BUDGET))
    assert _texts(samples) == expected
    assert stats["past_answer_tokens"] == 0 and stats["answer_tokens"] + stats["padded_slots"] == \
        stats["generated_tokens"]
    # a model that always writes a newline: every row ends after one token, and so does the batch
    samples, stats = generation.generate(_always(tok, "\n"), tok, PROMPTS, ("\n",), GenerationSettings())
    assert _texts(samples) == [""] * len(PROMPTS) and stats["generated_tokens"] == len(PROMPTS)


def test_a_stop_string_begun_in_the_prompt_does_not_count(tok):
    # every prompt ends in a newline; "\n#" ends an answer only when the answer itself holds it
    prompts = ["mov a 1\n", "out 2\nhalt\n"]
    samples, _ = generation.generate(_always(tok, "#"), tok, prompts, ("\n#",), GenerationSettings(max_new_tokens=5))
    assert _texts(samples) == ["#####"] * 2


def test_logprob_is_the_models_own_through_the_stop(model, tok, plain):
    stop = plain[1][3:5]
    samples, _ = generation.generate(model, tok, PROMPTS, (stop,), GenerationSettings(max_new_tokens=BUDGET))
    for prompt, (sample,) in zip(PROMPTS, samples):
        ended = stop if len(sample.text) < BUDGET else ""
        ids = tok(prompt + sample.text + ended, add_special_tokens=False)["input_ids"]
        width = len(tok(prompt, add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            logp = model(torch.tensor([ids])).logits[0].log_softmax(-1)
        want = sum(logp[i - 1, ids[i]].item() for i in range(width, len(ids)))
        assert sample.logprob == pytest.approx(want, abs=1e-4)


def test_sampling_gives_n_samples_and_repeats_for_a_seed(model, tok):
    settings = GenerationSettings(n=3, temperature=1.0, top_p=0.9, batch_size=4, max_new_tokens=5, seed=7)
    first, stats = generation.generate(model, tok, PROMPTS[:2], ("\n",), settings)
    again, _ = generation.generate(model, tok, PROMPTS[:2], ("\n",), settings)
    other, _ = generation.generate(model, tok, PROMPTS[:2], ("\n",), GenerationSettings(**{**settings.__dict__,
                                                                                         "seed": 8}))
    assert [len(g) for g in first] == [3, 3] and stats["rows"] == 6
    assert first == again and _texts(first) != _texts(other)
    assert len(set(_texts(first))) > 3 and all(math.isfinite(s.logprob) for g in first for s in g)


def test_prompts_without_room_get_no_sample(tok):
    model = _tiny(tok, n_positions=24)
    prompts = ["mov a 1\n", PROMPTS[3], "out 2\n"]
    samples, stats = generation.generate(model, tok, prompts, ("\n",), GenerationSettings(max_new_tokens=40))
    assert samples[1] == [Sample(None, None)] and stats["too_long"] == 1
    assert samples[0][0].text is not None and samples[2][0].text is not None
    assert stats["generated_tokens"] <= 2 * (24 - 8)  # the rest of the table past the longest prompt that fits


def test_sharded_samples_merge_in_prompt_order(model, tok, monkeypatch):
    import accelerate.utils

    class Proc:  # what generate_sharded reads of an Accelerator
        num_processes, device = 2, "cpu"

        def __init__(self, rank):
            self.process_index = rank

    gathered = []  # what every process contributed so far: rank 1 gathers first here

    def gather(part):
        gathered.extend(part)
        return list(gathered)

    monkeypatch.setattr(accelerate.utils, "gather_object", gather)
    settings = GenerationSettings(max_new_tokens=BUDGET)
    generation.generate_sharded(model, tok, PROMPTS, (), settings, Proc(1))
    merged, stats = generation.generate_sharded(model, tok, PROMPTS, (), settings, Proc(0))
    whole, _ = generation.generate(model, tok, PROMPTS, (), settings)
    assert _texts(merged) == _texts(whole) and stats["rows"] == len(PROMPTS)
    # batches of other rows pad differently: the same sums up to float rounding
    assert [s.logprob for g in merged for s in g] == pytest.approx([s.logprob for g in whole for s in g], abs=1e-4)


def test_synced_processes_make_the_same_number_of_generate_calls(tok, monkeypatch):
    """Under synced_gpus a process that stops calling generate leaves the others waiting forever:
    with 5 prompts on 2 processes (one too long), batches of 1, each process makes 2 calls."""
    import accelerate.utils

    model = _tiny(tok, n_positions=24)
    prompts = ["mov a 1\n", PROMPTS[3], "out 2\n", "out 3\n", "out 4\n"]  # PROMPTS[3] is too long
    calls, real = [], generation._generate_batch

    def counted(model, tokenizer, texts, *args):
        calls[-1].append(list(texts))
        return real(model, tokenizer, texts, *args[:-1], False)  # one process here: nothing to sync with

    class Proc:
        num_processes, device = 2, "cpu"

        def __init__(self, rank):
            self.process_index = rank

    monkeypatch.setattr(generation, "_generate_batch", counted)
    monkeypatch.setattr(accelerate.utils, "gather_object", lambda part: part)
    settings = GenerationSettings(max_new_tokens=4, batch_size=1)
    for synced in (False, True):
        for rank in (0, 1):  # rank 0: prompts 0, 2, 4 (three calls); rank 1: prompt 3 alone (1 is too long)
            calls.append([])
            generation.generate_sharded(model, tok, prompts, ("\n",), settings, Proc(rank), synced=synced)
    assert [len(c) for c in calls] == [3, 1, 3, 3]
    assert calls[3][1:] == [[generation.SYNC_FILLER]] * 2  # the extra calls run the filler
    assert generation.synced_calls(tok, prompts, settings, 24, 2) == 3


def test_stop_criterion_marks_rows_individually(tok):
    from cadmus.tokenization import encode

    ids = torch.tensor([encode(tok, "# x\nab\n\n"), encode(tok, "# x\nab\n#"), encode(tok, "# x\nabcd")])
    synthesis = ("\n\n", "\n#")
    assert generation.stop_criterion(tok, synthesis, 4)(ids, None).tolist() == [True, True, False]
    assert generation.stop_criterion(tok, ("\n",), 7)(ids, None).tolist() == [True, False, False]
    # a stop string inside the prompt does not count: only generated tokens are checked
    assert generation.stop_criterion(tok, synthesis, 8)(ids, None).tolist() == [False, False, False]


def test_answer_tokens_are_counted_on_the_generated_ids(tok):
    # a generated <unk> decodes to several characters: counting by re-encoding the text
    # would put the answer's end past the row (answer tokens > generated tokens)
    ids = [tok.unk_token_id] + tok("7\n9", add_special_tokens=False)["input_ids"]
    width = len(tok.decode([tok.unk_token_id]))
    assert generation.tokens_covering(tok, ids, width + 2) == 3  # <unk>, "7", "\n"
    assert generation.tokens_covering(tok, ids, 10 ** 6) == len(ids)


def test_training_accuracy_judges_greedy_answers(tok):
    from accelerate import Accelerator

    from cadmus.train.evaluation import completion_accuracy

    model = _always(tok, "7")  # answers 777777777777 to every prompt
    pairs = [("mov a 777777777777\nassert a ", "777777777777"), ("mov a 1\nassert a ", "1"),
             ("mov b 77\nassert b ", "77")]
    state = torch.random.get_rng_state()
    model.train()
    assert completion_accuracy(model, tok, pairs, Accelerator(cpu=True), batch_size=2, max_new_tokens=12) == 1 / 3
    assert model.training and torch.equal(state, torch.random.get_rng_state())  # mode and training's draws kept
