"""The Cadmus tokenizers: the character-level default and two variants to study tokenization.

* ``char`` (the default): one token per character of the alphabet (newline plus printable
  ASCII 32..126, which covers the ISA's mnemonics, registers, digits, punctuation and the
  descriptions) plus three special tokens. The committed folder ``cadmus/tokenizer/`` (package
  data, so an installed Cadmus has it too) is a standard HF tokenizer:
  ``AutoTokenizer.from_pretrained("cadmus/tokenizer")`` loads it with no network and no remote
  code. ``cadmus tokenizer build`` regenerates it; a test checks it is up to date.
* ``number``: the char tokenizer's tokens (same ids) plus one token per integer literal in a
  range (default -1000..1000): ``517`` and ``-3`` are one token each; a literal outside the
  range, or glued to a letter or digit (``L12``, ``x2``), falls back to one token per character.
* ``bpe``: byte-pair merges learnt (``tokenizers``' BPE trainer) from the view texts of a
  dataset's train split, over the same alphabet; no merge crosses whitespace.

All three keep the specials at ids 0, 1, 2 (pad, end of text, unknown) and never let a token
span whitespace. Every prompt of a view ends in whitespace (``assert d ``, ``# output: ``, a
newline), so tokens(prompt + target) = tokens(prompt) + tokens(target): the model sees at
evaluation exactly the prompt tokens it was trained on. ``cadmus tokenizer build --kind ...``
writes any of them (``cadmus.tokenizer_cli``); recipes choose one with ``tokenizer_path``.

Training data never relies on ``<|unk|>``: :func:`check_text` raises :class:`AlphabetError`
naming the first character outside the alphabet and its position.
"""
from __future__ import annotations

from pathlib import Path

from .resources import find_tokenizer

TOKENIZER_DIR = find_tokenizer()  # the shipped char tokenizer, inside the package

PAD_TOKEN = "<|pad|>"
EOS_TOKEN = "<|endoftext|>"
UNK_TOKEN = "<|unk|>"  # kept so foreign text never silently loses characters
SPECIAL_TOKENS = (PAD_TOKEN, EOS_TOKEN, UNK_TOKEN)

# Newline first, then printable ASCII in code order: the ids are stable and readable.
ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))
_ALPHABET_SET = frozenset(ALPHABET)


class AlphabetError(ValueError):
    """A text holds a character the tokenizer has no token for."""

    def __init__(self, char: str, position: int, text: str, where: str = ""):
        self.char, self.position = char, position
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        super().__init__(
            (f"{where}: " if where else "") + f"character {char!r} (U+{ord(char):04X}) at position {position} "
            f"(line {line}, column {col}) is not in the Cadmus tokenizer alphabet "
            f"(newline and printable ASCII 32..126)"
        )


def check_text(text: str, where: str = "") -> str:
    """Return ``text`` unchanged, or raise :class:`AlphabetError` for its first foreign char
    (``where`` prefixes the message, e.g. the dataset row)."""
    if not _ALPHABET_SET.issuperset(text):
        for i, ch in enumerate(text):
            if ch not in _ALPHABET_SET:
                raise AlphabetError(ch, i, text, where)
    return text


def vocabulary() -> dict:
    """Token -> id: the specials, then one id per alphabet character."""
    return {tok: i for i, tok in enumerate([*SPECIAL_TOKENS, *ALPHABET])}


KINDS = ("char", "number", "bpe")
DEFAULT_NUMBER_RANGE = (-1000, 1000)
DEFAULT_BPE_VOCAB = 1024


def _wrap(core):
    """The ``PreTrainedTokenizerFast`` around a ``tokenizers.Tokenizer``, with the Cadmus specials."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        # the default clean-up would turn "a ." into "a." and break decode(encode(s)) == s
        clean_up_tokenization_spaces=False,
    )


def build_tokenizer():
    """The ``char`` tokenizer: a fresh ``PreTrainedTokenizerFast`` over :data:`ALPHABET`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    core = Tokenizer(models.WordLevel(vocabulary(), unk_token=UNK_TOKEN))
    # Every character (newline and space included) is its own pre-token: nothing is stripped.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    # Fuse joins tokens with no separator; the default decoder would insert spaces.
    core.decoder = decoders.Fuse()
    return _wrap(core)


def save_tokenizer(out_dir=TOKENIZER_DIR) -> list:
    """Write the ``char`` tokenizer folder (default: the committed one); returns the written paths."""
    return save(build_tokenizer(), out_dir)


def _digit_range(lo: str, hi: str) -> list:
    """Regex alternatives matching exactly the digit strings from ``lo`` to ``hi`` (same length)."""
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]"]
    if lo[0] == hi[0]:
        return [lo[0] + rest for rest in _digit_range(lo[1:], hi[1:])]
    tail = len(lo) - 1
    if lo[1:] == "0" * tail and hi[1:] == "9" * tail:
        return [f"[{lo[0]}-{hi[0]}]" + "[0-9]" * tail]
    parts = [lo[0] + rest for rest in _digit_range(lo[1:], "9" * tail)]
    if int(hi[0]) - int(lo[0]) > 1:
        parts.append(f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}]" + "[0-9]" * tail)
    return parts + [hi[0] + rest for rest in _digit_range("0" * tail, hi[1:])]


def natural_range_pattern(lo: int, hi: int) -> str:
    """A regex matching the decimal texts (no sign, no leading zero) of the integers lo..hi >= 0."""
    parts = []
    for width in range(len(str(lo)), len(str(hi)) + 1):
        a, b = max(lo, 10 ** (width - 1) if width > 1 else 0), min(hi, 10 ** width - 1)
        if a <= b:
            parts += _digit_range(str(a), str(b))
    return "|".join(parts)


def number_pattern(lo: int, hi: int) -> str:
    """A regex (Oniguruma, as ``tokenizers`` uses) matching an integer literal in lo..hi that is a
    whole literal: not glued to a letter, digit, ``_`` or ``-`` before it, nor to a digit after it."""
    if lo > hi:
        raise ValueError(f"empty number range {lo}..{hi}")
    alternatives = []
    if lo < 0:
        alternatives.append(f"-(?:{natural_range_pattern(max(1, -hi), -lo)})")
    if hi >= 0:
        alternatives.append(natural_range_pattern(max(0, lo), hi))
    return f"(?<![-0-9A-Za-z_])(?:{'|'.join(alternatives)})(?![0-9])"


def number_tokenizer(lo: int = DEFAULT_NUMBER_RANGE[0], hi: int = DEFAULT_NUMBER_RANGE[1]):
    """The ``number`` tokenizer: the char vocabulary, then one token per literal of lo..hi."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = vocabulary()
    for value in range(lo, hi + 1):
        vocab.setdefault(str(value), len(vocab))  # 0..9 are already characters
    core = Tokenizer(models.WordLevel(vocab, unk_token=UNK_TOKEN))
    # a number of the range is one piece, any other character its own piece
    core.pre_tokenizer = pre_tokenizers.Split(Regex(number_pattern(lo, hi) + r"|[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    return _wrap(core)


def bpe_tokenizer(texts, vocab_size: int = DEFAULT_BPE_VOCAB, min_frequency: int = 2):
    """The ``bpe`` tokenizer learnt from ``texts`` (an iterable of strings)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE(unk_token=UNK_TOKEN))
    # each whitespace character is its own piece: merges stay inside the runs between them
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s"), behavior="isolated")
    core.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  special_tokens=list(SPECIAL_TOKENS), initial_alphabet=list(ALPHABET),
                                  limit_alphabet=len(ALPHABET))
    core.train_from_iterator(texts, trainer)
    return _wrap(core)


def dataset_texts(path, split: str = "train", limit=None):
    """The view texts (prompt + target, non-empty) of a dataset split, checked against the alphabet."""
    from .data.io import load_dataset_dir

    ds = load_dataset_dir(path)[split]
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    columns = [c for c in ds.column_names if c.endswith("_prompt")]
    for batch in ds.iter(batch_size=1000):
        for col in columns:
            for i, (prompt, target) in enumerate(zip(batch[col], batch[col[:-len("_prompt")] + "_target"])):
                if prompt or target:
                    yield check_text(prompt + target, where=f"{split} row {batch['id'][i]!r}, {col}")


def save(tok, out_dir) -> list:
    """Write a tokenizer folder (any kind); returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(p) for p in tok.save_pretrained(str(out_dir))]


def load_tokenizer(path=None):
    """Load a tokenizer folder with ``AutoTokenizer``: a folder, or a shipped name (None or
    ``char``: the committed ``cadmus/tokenizer/``)."""
    from transformers import AutoTokenizer

    path = find_tokenizer(path or None)  # ResourceNotFound is a FileNotFoundError
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer at {path} (run `cadmus tokenizer build`)")
    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


def encode(tokenizer, text: str) -> list:
    """Token ids of ``text``; special-token spellings in the text stay plain characters."""
    check_text(text)
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]
