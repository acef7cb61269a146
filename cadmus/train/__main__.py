"""accelerate launch --config_file recipes/accelerate/multi_gpu.yaml -m cadmus.train recipes/small.yaml [--field value ...]"""
import sys

from .cli import main

sys.exit(main())
