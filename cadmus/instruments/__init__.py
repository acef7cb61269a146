"""Research instruments: a model's internals next to the VM's state.

* :mod:`.annotate`: each character of a program text -> its line, role (opcode, register,
  literal, label, other) and, for a register, whether the line reads or writes it; each line
  -> the VM's registers before and after it ran (``cadmus.trace``).
* :mod:`.inspect`: ``cadmus inspect``: per prompt token, the annotations, every layer's
  hidden state and optionally the attention, written as a ``datasets`` folder.
* :mod:`.heads`: ``cadmus inspect --heads``: every attention head scored on named patterns
  (register look-up, previous token, previous mention of the same register), over all queries
  and per reading line.
* :mod:`.ablation`: ``cadmus inspect --ablate``: every head zeroed in turn, the answers scored
  again: which heads the model needs.
* :mod:`.probe`: ``cadmus probe``: linear probes per layer, trained on one split and scored
  on others.

Importing this package imports neither torch nor transformers.
"""
