"""accelerate launch --config_file cadmus/recipes/accelerate/multi_gpu.yaml -m cadmus.train small [--field value ...]"""
import sys

from .cli import main

sys.exit(main())
