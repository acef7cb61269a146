import contextlib
import io
import time
from pathlib import Path

import pytest

TINY_LIMIT = 200  # first draws of each split of the tiny data recipe: 200 train records, 40 in each other split


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A dataset of the tiny data recipe made once per session by ``cadmus data build`` (``--limit
    TINY_LIMIT``, one process: ~3 s), for the tests that train, tokenize or evaluate on real
    builder data. Shared: copy it before changing it. ``build.log`` beside it holds what the
    command printed, ``build_seconds`` how long it took."""
    from cadmus.cli import main

    path = tmp_path_factory.mktemp("tiny") / "data"
    printed = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        code = main(["data", "build", "tiny", "--limit", str(TINY_LIMIT), "--out", str(path), "--quiet",
                     "--workers", "1"])
    (path.parent / "build_seconds").write_text(f"{time.perf_counter() - start:.2f}\n")
    (path.parent / "build.log").write_text(printed.getvalue())
    assert code == 0, f"cadmus data build tiny failed:\n{printed.getvalue()}"
    return path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """12 records of each split of the tiny data recipe, for the eval and inspect tests (small
    audit samples: these tests read the records, not the audit)."""
    from cadmus.cli import main

    out = tmp_path_factory.mktemp("twelve") / "data"
    assert main(["data", "build", "tiny", "--out", str(out), "--limit", "12", "--workers", "1",
                 "--quiet", "--audit-sample", "5", "--audit-train-sample", "5"]) == 0
    return out


def save_tiny_model(out, n_layer=2, n_head=2, n_embd=32, seed=0):
    """A random-init GPT-2 from the project's presets, saved with the committed tokenizer."""
    import torch

    from cadmus.models import build_model, make_config
    from cadmus.tokenization import load_tokenizer

    tok = load_tokenizer()
    cfg = make_config("tiny", len(tok), 1024, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    build_model(cfg).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    """An untrained 2-layer GPT-2 (enough for the mechanics of eval and inspect)."""
    return save_tiny_model(tmp_path_factory.mktemp("untrained") / "model")
