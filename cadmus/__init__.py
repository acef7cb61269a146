"""Cadmus: a small-scale system for research on autoregressive program synthesis.

Public API (stable names)::

    prog = cadmus.assemble(text)                 # -> Program, or AsmError(ValueError) with .line, .col
    text = cadmus.disassemble(prog)              # canonical text
    res  = cadmus.run(prog_or_text, inputs=(), fuel=100_000)      # -> Result
    bat  = cadmus.run_batch(programs_or_texts, inputs=None, fuel=100_000)  # -> BatchResult
    tr   = cadmus.trace(prog_or_text, inputs=())  # per step: pc, opcode, registers

Importing cadmus compiles nothing and does not import Numba.
"""
from .asm import AsmError, Program, assemble, canonical, disassemble
from .isa import INSTRUCTIONS, Status
from .vm import BatchResult, ProgramBatch, Result, Trace, pack, run, run_batch, trace, validate

__version__ = "0.1.0"

__all__ = [
    "AsmError", "BatchResult", "INSTRUCTIONS", "Program", "ProgramBatch", "Result", "Status", "Trace",
    "assemble", "canonical", "disassemble", "pack", "run", "run_batch", "trace", "validate",
]
