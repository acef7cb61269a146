"""The character-level Cadmus tokenizer and ``cadmus tokenizer build``.

One token per character of the alphabet (newline plus printable ASCII 32..126, which
covers the ISA's mnemonics, registers, digits, punctuation and the description
templates) plus three special tokens. The committed folder ``tokenizer/`` is a standard
HF tokenizer: ``AutoTokenizer.from_pretrained("tokenizer")`` loads it with no network and
no remote code. ``cadmus tokenizer build`` regenerates it; a test checks it is up to date.

Training data never relies on ``<|unk|>``: :func:`check_text` raises :class:`AlphabetError`
naming the first character outside the alphabet and its position.
"""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_DIR = REPO_ROOT / "tokenizer"

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


def build_tokenizer():
    """A fresh ``PreTrainedTokenizerFast`` over :data:`ALPHABET` (nothing read from disk)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(vocabulary(), unk_token=UNK_TOKEN))
    # Every character (newline and space included) is its own pre-token: nothing is stripped.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    # Fuse joins tokens with no separator; the default decoder would insert spaces.
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=UNK_TOKEN,
        # the default clean-up would turn "a ." into "a." and break decode(encode(s)) == s
        clean_up_tokenization_spaces=False,
    )


def save_tokenizer(out_dir=TOKENIZER_DIR) -> list:
    """Write the tokenizer folder; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(p) for p in build_tokenizer().save_pretrained(str(out_dir))]


def load_tokenizer(path=None):
    """Load a tokenizer folder (default: the committed ``tokenizer/``) with ``AutoTokenizer``."""
    from transformers import AutoTokenizer

    path = Path(path) if path else TOKENIZER_DIR
    if not (path / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer at {path} (run `cadmus tokenizer build`)")
    return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)


def encode(tokenizer, text: str) -> list:
    """Token ids of ``text``; special-token spellings in the text stay plain characters."""
    check_text(text)
    return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]


def cmd_build(args) -> int:
    for path in save_tokenizer(args.out):
        print(f"wrote {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("tokenizer", help="the character-level tokenizer")
    tsub = p.add_subparsers(dest="tokenizer_command", metavar="ACTION")
    tsub.required = True
    b = tsub.add_parser("build", help="regenerate the tokenizer folder (default: tokenizer/)")
    b.add_argument("--out", default=str(TOKENIZER_DIR), help="output folder")
    b.set_defaults(func=cmd_build)
