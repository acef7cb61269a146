"""Recipe dataclasses and the YAML + CLI parser.

A recipe is flat YAML whose keys are exactly the fields below, sectioned by comments
``# Model`` / ``# Data`` / ``# Training``. CLI flags (``--field value``) override it;
an unknown key in either place is an error.
"""
from __future__ import annotations

from argparse import SUPPRESS, ArgumentError, ArgumentTypeError
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal, Optional

from ..schema import VIEWS


@dataclass
class ModelArguments:
    preset: str = field(default="tiny", metadata={"help": "model preset: tiny, small, base, cadmus-280m"})
    n_layer: Optional[int] = field(default=None, metadata={"help": "override the preset's layer count"})
    n_head: Optional[int] = field(default=None, metadata={"help": "override the preset's head count"})
    n_embd: Optional[int] = field(default=None, metadata={"help": "override the preset's width"})
    dropout: float = field(default=0.0, metadata={"help": "dropout in embeddings, attention and residuals"})
    context_length: Optional[int] = field(
        default=None,
        metadata={"help": "model context (tokens); default: the dataset's longest sample, rounded up to 8"},
    )
    n_positions: Optional[int] = field(
        default=None,
        metadata={"help": "position table size; default: the longest prompt + answer of any split of the dataset "
                          "(every eval prompt fits; the positions past the training lengths stay untrained), "
                          "rounded up to 8, at least context_length"},
    )
    init_from: Optional[str] = field(
        default=None, metadata={"help": "start from this trained model folder's weights instead of a fresh "
                                        "initialisation (a curriculum's next phase); the shape must match"}
    )
    tokenizer_path: Optional[str] = field(
        default=None, metadata={"help": "tokenizer folder; default: the shipped char tokenizer, cadmus/tokenizer/"}
    )

    def __post_init__(self):
        from ..models import PRESETS  # light: cadmus.models imports transformers lazily

        if self.preset not in PRESETS:
            raise ValueError(f"unknown model preset {self.preset!r}; choose from {', '.join(PRESETS)}")


@dataclass
class DataArguments:
    dataset_path: str = field(default="", metadata={"help": "DatasetDict folder written by `cadmus data build`"})
    completion_weight: float = field(
        default=1.0, metadata={"help": "mixture weight of the completion view (copies of each row; 0 = off)"}
    )
    synthesis_weight: float = field(default=0.0, metadata={"help": "mixture weight of the synthesis view"})
    execution_weight: float = field(default=0.0, metadata={"help": "mixture weight of the execution view"})
    trace_weight: float = field(
        default=0.0, metadata={"help": "mixture weight of the trace view (the dataset must be built with "
                                       "trace_view: true)"}
    )
    families: list[str] = field(
        default_factory=list, metadata={"help": "keep only these task families (empty = all)"}
    )
    max_train_samples: Optional[int] = field(default=None, metadata={"help": "use the first N train rows"})
    max_eval_samples: int = field(default=512, metadata={"help": "valid rows used for the eval loss"})
    packing: bool = field(
        default=True,
        metadata={"help": "pack samples into full blocks (true) or pad each sample with an attention mask (false)"},
    )
    group_by_length: bool = field(
        default=False,
        metadata={"help": "unpacked rows: batch rows of similar length together (less padding when views are mixed)"},
    )
    target_only_loss: bool = field(
        default=False, metadata={"help": "compute the loss only on the target part of each view"}
    )
    num_proc: Optional[int] = field(default=None, metadata={"help": "processes for datasets.map"})

    def view_weights(self) -> dict:
        return {v: getattr(self, f"{v}_weight") for v in VIEWS if getattr(self, f"{v}_weight") > 0}


@dataclass
class TrainingArguments:
    output_dir: str = field(default="runs/tiny", metadata={"help": "where checkpoints, metrics and the model go"})
    seed: int = field(default=0, metadata={"help": "seed for initialisation and data order"})
    max_steps: int = field(default=1000, metadata={"help": "optimizer steps"})
    max_minutes: Optional[float] = field(
        default=None,
        metadata={"help": "wall-clock budget of the training loop; the run stops at the steps that fit, "
                          "measured while training (see cadmus/train/budget.py; cadmus.json records steps_run)"},
    )
    max_minutes_mode: Literal["fit", "cap"] = field(
        default="fit",
        metadata={"help": "fit: the schedule shrinks to the steps that fit max_minutes (it depends on the "
                          "machine); cap: the recipe's schedule runs as written, max_minutes only stops it early"},
    )
    per_device_batch_size: int = field(default=32, metadata={"help": "sequences per device per micro-step"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "micro-steps per optimizer step"})
    learning_rate: float = field(default=1e-3, metadata={"help": "peak learning rate"})
    min_lr_ratio: float = field(default=0.1, metadata={"help": "final learning rate / peak of the cosine"})
    warmup_steps: int = field(default=100, metadata={"help": "linear warmup steps"})
    optimizer: Literal["adamw", "muon"] = field(
        default="adamw",
        metadata={"help": "adamw, or muon (Muon on the blocks' matrices, AdamW on the rest; see cadmus/train/optim.py)"},
    )
    weight_decay: float = field(default=0.1, metadata={"help": "decay on matrices (not biases/norms)"})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1"})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm (0 = off)"})
    mixed_precision: str = field(
        default="auto", metadata={"help": "auto (bf16 on GPUs that have it, else fp32), no, bf16 or fp16"}
    )
    torch_compile: bool = field(default=False, metadata={"help": "wrap the model in torch.compile"})
    logging_steps: int = field(default=10, metadata={"help": "log the train loss every N steps"})
    eval_steps: int = field(default=100, metadata={"help": "eval loss + completion accuracy every N steps (0 = end only)"})
    accuracy_samples: int = field(default=200, metadata={"help": "valid completion prompts for greedy accuracy (0 = off)"})
    stop_at_accuracy: Optional[float] = field(
        default=None, metadata={"help": "end the run at the first evaluation whose valid greedy accuracy reaches "
                                        "this (e.g. a curriculum phase once its skill has formed)"},
    )
    generation_batch_size: int = field(default=64, metadata={"help": "prompts per greedy generation batch"})
    max_new_tokens: int = field(default=24, metadata={"help": "longest generated completion"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (0 = off)"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept besides the best"})
    resume: Optional[str] = field(
        default=None, metadata={"help": "resume from 'latest' (in output_dir) or a checkpoint folder"}
    )
    progress_bar: bool = field(default=True, metadata={"help": "show a tqdm progress bar"})
    push_to_hub: Optional[str] = field(
        default=None, metadata={"help": "after training, push output_dir with a model card to this Hub repo id"}
    )


ARG_CLASSES = (ModelArguments, DataArguments, TrainingArguments)


def field_names() -> dict:
    """Recipe key -> dataclass name, for error messages and the unknown-key check."""
    return {f.name: cls.__name__ for cls in ARG_CLASSES for f in fields(cls)}


def load_recipe(path) -> dict:
    """Read a recipe YAML into a flat dict, rejecting keys that are not dataclass fields."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe {path} not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"recipe {path}: expected a mapping of field: value, got {type(data).__name__}")
    unknown = sorted(set(data) - set(field_names()))
    if unknown:
        raise ValueError(f"recipe {path}: unknown key(s) {', '.join(unknown)} (valid keys: see `cadmus train --help`)")
    return data


def make_parser():
    from transformers import HfArgumentParser

    # exit_on_error=False: a bad flag value raises (parse turns it into a ValueError) instead of exiting
    return HfArgumentParser(ARG_CLASSES, exit_on_error=False)


def _as_text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _field_actions(parser) -> dict:
    actions = {}
    for action in parser._actions:  # the first per field: a bool field's --no_X comes after --X
        actions.setdefault(action.dest, action)
    return actions


def _convert(action, key: str, value, source):
    """One recipe value through the field's parser type; a value that does not convert (or is
    not among the field's choices) names the file, the key and the value."""
    from transformers.hf_argparser import string_to_bool

    many = action.nargs == "+"
    items = (value if isinstance(value, list) else [value]) if many else [value]
    try:
        converted = [action.type(_as_text(v)) for v in items]
    except (ValueError, TypeError, ArgumentTypeError):
        converted = None
    if converted is None or (action.choices and not set(converted) <= set(action.choices)) or (
            not many and isinstance(value, (list, dict))):
        kind = {string_to_bool: "true or false", int: "an integer", float: "a number"}.get(action.type, "text")
        expected = f"one of {', '.join(map(str, action.choices))}" if action.choices else (
            f"a list: {kind}" if many else kind)
        raise ValueError(f"recipe {source}: {key}: {value!r} is not {expected}")
    return converted if many else converted[0]


def _typed(parser, recipe: dict, source) -> dict:
    """Recipe values converted by the parser's own type for each field, the conversion a CLI flag
    gets, so a value means the same in YAML and on the command line (PyYAML reads ``1e-3`` as a
    string). ``null`` keeps the default."""
    actions = _field_actions(parser)
    return {key: _convert(actions[key], key, value, source) for key, value in recipe.items() if value is not None}


def _normalise_resume(argv: list) -> list:
    """A bare ``--resume`` means ``--resume latest``."""
    out = list(argv)
    for i, a in enumerate(out):
        if a == "--resume" and (i + 1 == len(out) or out[i + 1].startswith("--")):
            out.insert(i + 1, "latest")
            break
    return out


def _given(parser, argv: list) -> dict:
    """Only the flags on the command line, converted by the parser (no defaults filled in:
    an unset flag must not override the recipe)."""
    for action in parser._actions:  # (set_defaults would put SUPPRESS itself into the namespace)
        if action.dest in field_names():
            action.default = SUPPRESS
    try:
        namespace, rest = parser.parse_known_args(args=_normalise_resume(argv))
    except ArgumentError as err:  # a flag whose value does not convert: names the flag and the value
        raise ValueError(str(err)) from None
    if rest:
        raise ValueError(f"unknown flag(s) {' '.join(rest)} (valid flags: see `cadmus train --help`)")
    return vars(namespace)


def parse(recipe_path=None, overrides=()) -> tuple:
    """(ModelArguments, DataArguments, TrainingArguments) from a recipe file plus CLI flags."""
    parser = make_parser()
    values = _typed(parser, load_recipe(recipe_path) if recipe_path else {}, recipe_path)
    values.update(_given(make_parser(), list(overrides)))  # a parser of its own: _given clears its defaults
    return parser.parse_dict(values)


def to_dict(args: tuple) -> dict:
    """The full recipe (every field) as one flat dict, e.g. for cadmus.json."""
    out = {}
    for a in args:
        out.update(asdict(a))
    return out
