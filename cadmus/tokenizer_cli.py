"""``cadmus tokenizer build``: write a tokenizer folder of one kind (see ``cadmus.tokenization``).

    cadmus tokenizer build                                   # the committed char cadmus/tokenizer/
    cadmus tokenizer build --kind number --out tok/number --number-range -1000 1000
    cadmus tokenizer build --kind bpe --out tok/bpe --data data/cadmus --vocab-size 1024

Each folder loads with ``transformers.AutoTokenizer.from_pretrained(DIR)``; a training recipe uses
one with ``tokenizer_path: DIR``, and the trained model folder keeps a copy.
"""
from __future__ import annotations

import sys

from . import tokenization as tk


def make(args):
    """The tokenizer the arguments ask for."""
    if args.kind == "char":
        return tk.build_tokenizer()
    if args.kind == "number":
        lo, hi = args.number_range
        return tk.number_tokenizer(lo, hi)
    return tk.bpe_tokenizer(tk.dataset_texts(args.data, args.split, args.max_records), args.vocab_size)


def _problem(args):
    if args.kind == "bpe" and not args.data:
        return "--kind bpe learns its merges from a dataset: give --data DIR"
    if args.kind != "bpe" and args.data:
        return f"--data is only for --kind bpe (a {args.kind} tokenizer is fixed)"
    if args.kind == "number" and args.number_range[0] > args.number_range[1]:
        return f"--number-range {args.number_range[0]} {args.number_range[1]}: LO must be <= HI"
    if args.kind == "number" and args.number_range[1] - args.number_range[0] >= 1_000_000:
        return "--number-range: at most a million numbers (each is a vocabulary entry)"
    if args.out is None and args.kind != "char":
        return f"--kind {args.kind} needs --out (the default folder is the committed char tokenizer)"
    return None


def cmd_build(args) -> int:
    from .data.io import DatasetDirError

    problem = _problem(args)
    if problem:
        print(f"cadmus tokenizer build: {problem}", file=sys.stderr)
        return 2
    try:
        tok = make(args)
    except (DatasetDirError, KeyError, tk.AlphabetError) as err:
        print(f"cadmus tokenizer build: {err}", file=sys.stderr)
        return 2
    for path in tk.save(tok, args.out or tk.TOKENIZER_DIR):
        print(f"wrote {path}")
    print(f"{args.kind} tokenizer: {len(tok)} tokens")
    return 0


def register(sub) -> None:
    p = sub.add_parser("tokenizer", help="build a tokenizer folder (char, number or bpe)")
    tsub = p.add_subparsers(dest="tokenizer_command", metavar="ACTION")
    tsub.required = True
    b = tsub.add_parser("build", help="write a tokenizer folder (default: the committed char cadmus/tokenizer/)")
    b.add_argument("--kind", choices=tk.KINDS, default="char", help="char (default), number or bpe")
    b.add_argument("--out", default=None, help=f"output folder (default for char: {tk.TOKENIZER_DIR})")
    b.add_argument("--number-range", nargs=2, type=int, metavar=("LO", "HI"), default=list(tk.DEFAULT_NUMBER_RANGE),
                   help="number: the integers that are one token each (default %(default)s)")
    b.add_argument("--data", help="bpe: dataset folder whose split (--split) the merges are learnt from")
    b.add_argument("--split", default="train", help="bpe: the split to learn from (default train)")
    b.add_argument("--vocab-size", type=int, default=tk.DEFAULT_BPE_VOCAB,
                   help="bpe: vocabulary size (default %(default)s)")
    b.add_argument("--max-records", type=int, default=None, help="bpe: learn from the first N records only")
    b.set_defaults(func=cmd_build)
