"""Reference interpreter in plain Python, written from the ISA table's semantics.

Slow on purpose and independent of the compiled VM: values are unbounded Python ints
wrapped after every ALU result, ALU and jump behaviour comes from the table's ``fn`` and
``cond``, and memory is a dict. The differential tests hold ``vm_kernel`` to this.
It checks everything itself, so it also accepts malformed bytecode (BAD_PROGRAM).
"""
from __future__ import annotations

from .asm import AsmError, Program, assemble
from .isa import (
    BY_OPCODE,
    CALL_STACK_SIZE,
    DATA_STACK_SIZE,
    DEFAULT_FUEL,
    MAX_OUTPUTS,
    MEM_SIZE,
    N_REGS,
    Status,
    Trap,
    wrap,
)


def _well_formed(code: list, n: int, n_consts: int) -> bool:
    if len(code) != 4 * n:
        return False
    for pc in range(n):
        ins = BY_OPCODE.get(code[4 * pc])
        if ins is None:
            return False
        for j in range(3):
            w = code[4 * pc + 1 + j]
            kind = ins.operands[j] if j < ins.arity else None
            limit = {None: 1, "r": N_REGS, "v": N_REGS + n_consts, "L": n + 1}[kind]
            if not 0 <= w < limit:
                return False
    return True


class _Machine:
    def __init__(self, prog: Program, inputs):
        self.code = [int(w) for w in prog.code]
        self.consts = [int(c) for c in prog.consts]
        self.regs = [0] * N_REGS
        self.mem: dict[int, int] = {}
        self.data: list[int] = []
        self.calls: list[int] = []
        self.inputs = list(inputs)
        self.outputs: list[int] = []

    def value(self, w: int) -> int:
        return self.regs[w] if w < N_REGS else self.consts[w - N_REGS]

    def step(self, ins, ops, pc: int):
        """Execute one instruction; returns the next pc, or a Status to stop with."""
        v = self.value
        if ins.fn is not None:  # ALU: dest = fn(sources), sources default to the dest itself
            sources = [v(w) for w in ops[1:]] or [self.regs[ops[0]]]
            self.regs[ops[0]] = wrap(ins.fn(*sources))
            return pc + 1
        if ins.cond is not None:  # jumps: the label is the last operand
            return ops[-1] if ins.cond(*[v(w) for w in ops[:-1]]) else pc + 1
        return getattr(self, "op_" + ins.mnemonic)(ops, pc)

    def op_swap(self, ops, pc):
        r, s = ops
        self.regs[r], self.regs[s] = self.regs[s], self.regs[r]
        return pc + 1

    def op_in(self, ops, pc):
        if not self.inputs:
            raise Trap(Status.INPUT_EXHAUSTED)
        self.regs[ops[0]] = self.inputs.pop(0)
        return pc + 1

    def op_out(self, ops, pc):
        if len(self.outputs) >= MAX_OUTPUTS:
            raise Trap(Status.OUTPUT_OVERFLOW)
        self.outputs.append(self.value(ops[0]))
        return pc + 1

    def op_push(self, ops, pc):
        if len(self.data) >= DATA_STACK_SIZE:
            raise Trap(Status.STACK_OVERFLOW)
        self.data.append(self.value(ops[0]))
        return pc + 1

    def op_pop(self, ops, pc):
        if not self.data:
            raise Trap(Status.STACK_UNDERFLOW)
        self.regs[ops[0]] = self.data.pop()
        return pc + 1

    def _address(self, w: int) -> int:
        address = self.value(w)
        if not 0 <= address < MEM_SIZE:
            raise Trap(Status.BAD_ADDRESS)
        return address

    def op_load(self, ops, pc):
        self.regs[ops[0]] = self.mem.get(self._address(ops[1]), 0)
        return pc + 1

    def op_store(self, ops, pc):
        self.mem[self._address(ops[0])] = self.value(ops[1])
        return pc + 1

    def op_nop(self, ops, pc):
        return pc + 1

    def op_call(self, ops, pc):
        if len(self.calls) >= CALL_STACK_SIZE:
            raise Trap(Status.STACK_OVERFLOW)
        self.calls.append(pc + 1)
        return ops[0]

    def op_ret(self, ops, pc):
        if not self.calls:
            raise Trap(Status.STACK_UNDERFLOW)
        return self.calls.pop()

    def op_halt(self, ops, pc):
        return Status.OK

    def op_assert(self, ops, pc):
        if self.value(ops[0]) != self.value(ops[1]):
            return Status.ASSERT_FAILED
        return pc + 1


def run_reference(prog, inputs=(), fuel: int = DEFAULT_FUEL):
    """Run like ``cadmus.run``; returns ``(Status, outputs, steps)``."""
    if isinstance(prog, str):
        try:
            prog = assemble(prog)
        except AsmError:
            return Status.PARSE_ERROR, [], 0
    n = len(prog.code) // 4
    m = _Machine(prog, inputs)
    if not _well_formed(m.code, n, len(m.consts)):
        return Status.BAD_PROGRAM, [], 0
    pc = steps = 0
    while pc < n:
        if steps >= fuel:
            return Status.OUT_OF_FUEL, m.outputs, steps
        ins = BY_OPCODE[m.code[4 * pc]]
        ops = m.code[4 * pc + 1:4 * pc + 1 + ins.arity]
        steps += 1
        try:
            nxt = m.step(ins, ops, pc)
        except Trap as trap:
            return trap.status, m.outputs, steps
        if isinstance(nxt, Status):
            return nxt, m.outputs, steps
        pc = nxt
    return Status.OK, m.outputs, steps
