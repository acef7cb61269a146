"""accelerate launch --config_file cadmus/recipes/accelerate/multi_gpu.yaml -m cadmus.train small [--field value ...]

The entry point of ``python -m cadmus.train``: ``cadmus train`` itself (cadmus.cli), so a launched
run parses, trains and pushes (--push_to_hub) exactly as the command does."""
import sys

from ..cli import main

sys.exit(main(["train", *sys.argv[1:]]))
