"""Training from recipes with accelerate: ``cadmus train RECIPE`` or ``accelerate launch -m cadmus.train RECIPE``.

Nothing heavy is imported here; torch, transformers and accelerate load inside the functions.
"""


def train(margs, dargs, targs, recipe_path=None) -> dict:
    """Train from (ModelArguments, DataArguments, TrainingArguments); see :mod:`cadmus.train.trainer`."""
    from .trainer import train as _train

    return _train(margs, dargs, targs, recipe_path)
