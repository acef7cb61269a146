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
