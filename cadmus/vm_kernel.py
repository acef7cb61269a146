"""Compiled core of the VM (Numba): validation, the interpreter loop, the text parser and
the parallel batch kernels.

Everything jitted lives in this one file on purpose: Numba's on-disk cache (``cache=True``)
only notices edits to the file that defines a function, so a kernel calling a jitted helper
from another module could run stale code. For the same reason the ISA constants below are
written out literally (generated from ``isa.py``; ``tests/test_isa.py`` fails when stale),
while the tables the code only indexes (operand kinds, mnemonic keys) come in as arguments.

Safety: Numba does not bounds-check. Every program is validated before it runs (opcode in
range, register/value/label operands in range, unused words zero), and every index derived
at run time (memory address, stack pointers, input and output cursors, shift counts) is
checked in the loop. The index arrays a batch comes with (program index, text, code and input
offsets, output regions) are checked by ``vm.py`` and again once per chunk here; the parser
checks each write against its scratch arrays' sizes. Nothing here raises: every outcome is a
status code. The batch loop works on views that count no references (``_borrowed``) of
arrays its caller holds for the whole call: reference counting cost more per program than
the programs themselves.

The minimal switch loop at the end is no part of the VM: it is the limit `cadmus bench vm`
measures the VM against.

Nothing is compiled at import time; the first call compiles (or loads the cache).
"""
import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

# BEGIN GENERATED CONSTANTS (from cadmus/isa.py; regenerate with `cadmus isa --write`)
OP_MOV = 1
OP_SWAP = 2
OP_IN = 3
OP_OUT = 4
OP_PUSH = 5
OP_POP = 6
OP_LOAD = 7
OP_STORE = 8
OP_NOP = 9
OP_ADD = 10
OP_SUB = 11
OP_MUL = 12
OP_DIV = 13
OP_MOD = 14
OP_NEG = 15
OP_ABS = 16
OP_INC = 17
OP_DEC = 18
OP_MIN = 19
OP_MAX = 20
OP_POW = 21
OP_SIGN = 22
OP_AND = 23
OP_OR = 24
OP_XOR = 25
OP_NOT = 26
OP_SHL = 27
OP_SHR = 28
OP_EQ = 29
OP_NE = 30
OP_LT = 31
OP_LE = 32
OP_GT = 33
OP_GE = 34
OP_JMP = 35
OP_JZ = 36
OP_JNZ = 37
OP_JEQ = 38
OP_JNE = 39
OP_JLT = 40
OP_JLE = 41
OP_JGT = 42
OP_JGE = 43
OP_CALL = 44
OP_RET = 45
OP_HALT = 46
OP_ASSERT = 47
ST_OK = 0
ST_ASSERT_FAILED = 1
ST_OUT_OF_FUEL = 2
ST_DIV_BY_ZERO = 3
ST_BAD_ADDRESS = 4
ST_STACK_OVERFLOW = 5
ST_STACK_UNDERFLOW = 6
ST_INPUT_EXHAUSTED = 7
ST_OUTPUT_OVERFLOW = 8
ST_BAD_ARGUMENT = 9
ST_BAD_PROGRAM = 10
ST_PARSE_ERROR = 11
KIND_NONE = 0
KIND_REG = 1
KIND_VALUE = 2
KIND_LABEL = 3
N_REGS = 16
MEM_SIZE = 1024
DATA_STACK_SIZE = 256
CALL_STACK_SIZE = 64
MAX_OUTPUTS = 1024
MAX_MNEMONIC_LEN = 6
MNEMONIC_HASH_MULT = 16390740445785211231
MNEMONIC_HASH_SHIFT = 55
# END GENERATED CONSTANTS

NEEDS_RERUN = -1  # batch status: the chunk's output region filled up; rerun with a full tape

_SPACE, _TAB, _CR, _NL, _HASH, _COLON, _MINUS = 32, 9, 13, 10, 35, 58, 45
_INT64_MIN = np.int64(-9223372036854775808)
_ACC_LIMIT = -922337203685477580  # INT64_MIN // 10, rounded toward zero
_FNV_OFFSET = np.int64(-3750763034362895579)  # 14695981039346656037 as int64
_FNV_PRIME = np.int64(1099511628211)


# ----------------------------------------------------------------------------- validation

@njit(cache=True, nogil=True, inline="always")
def _malformed(op, x, y, z, n_ops, value_end, label_end, kinds):
    """Whether instruction ``[op, x, y, z]`` is malformed (see ``validate``)."""
    if np.uint64(op) - np.uint64(1) >= n_ops - np.uint64(1):  # op in 1..n_ops-1
        return True
    bad = False
    for j in range(3):
        kind = kinds[op, 1 + j]
        end = label_end if kind == KIND_LABEL else value_end
        end = np.uint64(N_REGS) if kind == KIND_REG else end
        end = np.uint64(1) if kind == KIND_NONE else end
        w = x if j == 0 else (y if j == 1 else z)
        bad |= np.uint64(w) >= end
    return bad


@njit(cache=True, nogil=True, inline="always")
def validate(code, c0, n, nk, kinds):
    """Index of the first malformed instruction of ``code[c0 : c0 + 4n]``, or -1.

    Each operand kind has an exclusive upper bound for its word read as unsigned (a negative
    word is then huge): none 1 (the word must be 0), register 16, value 16 + literals, label
    n + 1 (0..n, n meaning "past the end"). The bound is picked by selects and the three
    checks are or-ed, so validation has no branch per operand: with the kinds varying from
    opcode to opcode, one branch per kind mispredicted several times per program.
    """
    n_ops = np.uint64(kinds.shape[0])
    value_end = np.uint64(N_REGS + nk)
    label_end = np.uint64(n + 1)
    for pc in range(n):
        b = c0 + 4 * pc
        if _malformed(code[b], code[b + 1], code[b + 2], code[b + 3], n_ops, value_end, label_end, kinds):
            return pc
    return -1


@njit(cache=True, nogil=True, inline="always")
def validate_into(src, c0, n, nk, kinds, dst):
    """``validate`` of ``src[c0 : c0 + 4n]`` that copies each instruction into ``dst[4pc:]`` as it
    checks it: one pass, every word read once, so the copy that runs is the one checked."""
    n_ops = np.uint64(kinds.shape[0])
    value_end = np.uint64(N_REGS + nk)
    label_end = np.uint64(n + 1)
    for pc in range(n):
        b = c0 + 4 * pc
        op, x, y, z = src[b], src[b + 1], src[b + 2], src[b + 3]
        d = 4 * pc
        dst[d], dst[d + 1], dst[d + 2], dst[d + 3] = op, x, y, z
        if _malformed(op, x, y, z, n_ops, value_end, label_end, kinds):
            return pc
    return -1


# ----------------------------------------------------------------------------- interpreter

@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def execute(code, c0, n, file, inputs, i0, ni, fuel, mem, memgen, gen, dstack, cstack,
            outs, o0, ocap, tr_pc, tr_op, tr_regs, tracing):
    """Run one validated program. Returns (status, steps, number of outputs).

    ``file`` is the value file: registers in ``file[:16]`` (zeroed by the caller) followed by
    the program's literals. Memory cell ``k`` holds ``mem[k]`` only when ``memgen[k] == gen``
    and is zero otherwise, so a new program gets fresh memory without clearing 1024 cells.
    """
    pc = 0
    steps = 0
    ip = 0
    no = 0
    dsp = 0
    csp = 0
    status = ST_OK
    while pc < n:
        if steps >= fuel:
            status = ST_OUT_OF_FUEL
            break
        b = c0 + 4 * pc
        op = code[b]
        x = code[b + 1]
        y = code[b + 2]
        z = code[b + 3]
        # Unsigned copies for indexing the value file: validated in range, and unsigned
        # indices spare Numba's negative-index wraparound on every access.
        ux = np.uint64(x)
        uy = np.uint64(y)
        uz = np.uint64(z)
        if tracing:
            tr_pc[steps] = pc
            tr_op[steps] = op
            for r in range(N_REGS):
                tr_regs[steps, r] = file[r]
        steps += 1
        pc += 1
        # Roughly by frequency in generated programs; LLVM turns the chain into a jump table.
        if op == OP_MOV:
            file[ux] = file[uy]
        elif op == OP_ADD:
            file[ux] = file[uy] + file[uz]
        elif op == OP_SUB:
            file[ux] = file[uy] - file[uz]
        elif op == OP_MUL:
            file[ux] = file[uy] * file[uz]
        elif op == OP_JMP:
            pc = x
        elif op == OP_JZ:
            if file[ux] == 0:
                pc = y
        elif op == OP_JNZ:
            if file[ux] != 0:
                pc = y
        elif op == OP_JEQ:
            if file[ux] == file[uy]:
                pc = z
        elif op == OP_JNE:
            if file[ux] != file[uy]:
                pc = z
        elif op == OP_JLT:
            if file[ux] < file[uy]:
                pc = z
        elif op == OP_JLE:
            if file[ux] <= file[uy]:
                pc = z
        elif op == OP_JGT:
            if file[ux] > file[uy]:
                pc = z
        elif op == OP_JGE:
            if file[ux] >= file[uy]:
                pc = z
        elif op == OP_INC:
            file[ux] = file[ux] + 1
        elif op == OP_DEC:
            file[ux] = file[ux] - 1
        elif op == OP_ASSERT:
            if file[ux] != file[uy]:
                status = ST_ASSERT_FAILED
                break
        elif op == OP_IN:
            if ip >= ni:
                status = ST_INPUT_EXHAUSTED
                break
            file[ux] = inputs[i0 + ip]
            ip += 1
        elif op == OP_OUT:
            if no >= ocap:
                status = ST_OUTPUT_OVERFLOW
                break
            outs[o0 + no] = file[ux]
            no += 1
        elif op == OP_LOAD:
            a = file[uy]
            if a < 0 or a >= MEM_SIZE:
                status = ST_BAD_ADDRESS
                break
            file[ux] = mem[a] if memgen[a] == gen else 0
        elif op == OP_STORE:
            a = file[ux]
            if a < 0 or a >= MEM_SIZE:
                status = ST_BAD_ADDRESS
                break
            mem[a] = file[uy]
            memgen[a] = gen
        elif op == OP_DIV or op == OP_MOD:
            u = file[uy]
            v = file[uz]
            if v == 0:
                status = ST_DIV_BY_ZERO
                break
            if v == -1:  # INT64_MIN // -1 overflows the hardware divide: wrap by hand
                file[ux] = -u if op == OP_DIV else 0
            else:
                q = u // v  # truncating hardware divide, then floor by hand
                rem = u - q * v
                if rem != 0 and ((rem < 0) != (v < 0)):
                    q -= 1
                    rem += v
                file[ux] = q if op == OP_DIV else rem
        elif op == OP_MIN:
            file[ux] = min(file[uy], file[uz])
        elif op == OP_MAX:
            file[ux] = max(file[uy], file[uz])
        elif op == OP_EQ:
            file[ux] = 1 if file[uy] == file[uz] else 0
        elif op == OP_NE:
            file[ux] = 1 if file[uy] != file[uz] else 0
        elif op == OP_LT:
            file[ux] = 1 if file[uy] < file[uz] else 0
        elif op == OP_LE:
            file[ux] = 1 if file[uy] <= file[uz] else 0
        elif op == OP_GT:
            file[ux] = 1 if file[uy] > file[uz] else 0
        elif op == OP_GE:
            file[ux] = 1 if file[uy] >= file[uz] else 0
        elif op == OP_PUSH:
            if dsp >= DATA_STACK_SIZE:
                status = ST_STACK_OVERFLOW
                break
            dstack[dsp] = file[ux]
            dsp += 1
        elif op == OP_POP:
            if dsp <= 0:
                status = ST_STACK_UNDERFLOW
                break
            dsp -= 1
            file[ux] = dstack[dsp]
        elif op == OP_CALL:
            if csp >= CALL_STACK_SIZE:
                status = ST_STACK_OVERFLOW
                break
            cstack[csp] = pc
            csp += 1
            pc = x
        elif op == OP_RET:
            if csp <= 0:
                status = ST_STACK_UNDERFLOW
                break
            csp -= 1
            pc = cstack[csp]
        elif op == OP_HALT:
            break
        elif op == OP_SWAP:
            t = file[ux]
            file[ux] = file[uy]
            file[uy] = t
        elif op == OP_NEG:
            file[ux] = -file[uy]
        elif op == OP_ABS:
            u = file[uy]
            file[ux] = -u if u < 0 else u
        elif op == OP_SIGN:
            u = file[uy]
            file[ux] = 1 if u > 0 else (-1 if u < 0 else 0)
        elif op == OP_POW:
            base = file[uy]
            e = file[uz]
            if e < 0:
                status = ST_BAD_ARGUMENT
                break
            acc = np.int64(1)
            while e > 0:  # at most 63 rounds
                if e & 1:
                    acc = acc * base
                base = base * base
                e >>= 1
            file[ux] = acc
        elif op == OP_AND:
            file[ux] = file[uy] & file[uz]
        elif op == OP_OR:
            file[ux] = file[uy] | file[uz]
        elif op == OP_XOR:
            file[ux] = file[uy] ^ file[uz]
        elif op == OP_NOT:
            file[ux] = ~file[uy]
        elif op == OP_SHL or op == OP_SHR:
            s = file[uz]
            if s < 0 or s > 63:
                status = ST_BAD_ARGUMENT
                break
            file[ux] = (file[uy] << s) if op == OP_SHL else (file[uy] >> s)
        elif op == OP_NOP:
            pass
        else:  # unreachable for validated code; kept so that nothing is ever undefined
            status = ST_BAD_PROGRAM
            break
    return status, steps, no


# ----------------------------------------------------------------------------- text parser

# Texts up to this many bytes get scratch sized from their length alone (small, and no extra
# pass); longer ones are counted first, so that parsing a text of L bytes needs O(L) memory
# with a small constant (about the size of its bytecode) instead of ~70 bytes per byte.
SMALL_TEXT = 1 << 16


@njit(cache=True, nogil=True, inline="always")
def _is_ident_char(c):
    return (65 <= c <= 90) or (97 <= c <= 122) or c == 95 or (48 <= c <= 57)


@njit(cache=True, nogil=True, inline="always")
def _is_ident(buf, s, e):
    if e <= s or 48 <= buf[s] <= 57:
        return False
    for j in range(s, e):
        if not _is_ident_char(buf[j]):
            return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _ident_end(buf, s, end):
    """End of the identifier starting at ``s`` (names are re-read from the text, not stored)."""
    j = s
    while j < end and _is_ident_char(buf[j]):
        j += 1
    return j


@njit(cache=True, nogil=True, inline="always")
def _hash(buf, s, e):
    h = _FNV_OFFSET
    for j in range(s, e):
        h = (h ^ np.int64(buf[j])) * _FNV_PRIME
    return h


@njit(cache=True, nogil=True, inline="always")
def _same_bytes(buf, s1, l1, s2, l2):
    if l1 != l2:
        return False
    for j in range(l1):
        if buf[s1 + j] != buf[s2 + j]:
            return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _parse_int(buf, s, e):
    """(ok, value) for ``-?[0-9]+`` within int64; accumulates negatively to reach INT64_MIN."""
    neg = buf[s] == _MINUS
    j = s + 1 if neg else s
    if j >= e:
        return False, 0
    acc = np.int64(0)
    while j < e:
        d = np.int64(buf[j]) - 48
        if d < 0 or d > 9:
            return False, 0
        if acc < _ACC_LIMIT or (acc == _ACC_LIMIT and d > 8):
            return False, 0
        acc = acc * 10 - d
        j += 1
    if neg:
        return True, acc
    if acc == _INT64_MIN:
        return False, 0
    return True, -acc


@njit(cache=True, nogil=True, inline="always")
def _mnemonic_opcode(buf, s, e, mslots, mkeys):
    """Opcode of the mnemonic buf[s:e], or 0: a multiplicative hash, then one exact compare."""
    if e - s > MAX_MNEMONIC_LEN:
        return 0
    key = np.uint64(0)
    for j in range(s, e):
        c = buf[j]
        if c < 97 or c > 122:  # mnemonics are lower-case letters; a NUL would pack like nothing
            return 0
        key |= np.uint64(c) << np.uint64(8 * (j - s))
    slot = (key * np.uint64(MNEMONIC_HASH_MULT)) >> np.uint64(MNEMONIC_HASH_SHIFT)
    op = mslots[slot]
    return op if mkeys[op] == np.int64(key) else 0


@njit(cache=True, nogil=True, inline="always")
def _find_label(buf, end, s, ln, h, lh, order, ls, nl):
    """Index (into the label arrays) of the definition of name buf[s:s+ln], or -1.

    ``order`` sorts ``lh[:nl]``; a definition's name is re-read from the text (up to its colon).
    """
    lo = 0
    hi = nl
    while lo < hi:
        mid = (lo + hi) // 2
        if lh[order[mid]] < h:
            lo = mid + 1
        else:
            hi = mid
    while lo < nl and lh[order[lo]] == h:
        k = order[lo]
        if _same_bytes(buf, s, ln, ls[k], _ident_end(buf, ls[k], end) - ls[k]):
            return k
        lo += 1
    return -1


@njit(cache=True, nogil=True, inline="always")
def text_capacity(buf, start, end):
    """Upper bounds (instructions, literals, labels) of what ``parse_program`` can store for
    ``buf[start:end]``. Short texts: from the length (an instruction takes at least 4 bytes with
    its newline, a label 3, a literal 2 with the separator before it). Long texts: counted in one
    pass that splits lines and tokens as the parser does."""
    length = end - start
    if length <= SMALL_TEXT:
        return length // 4 + 2, length // 2 + 1, length // 3 + 1
    n_ins = 0
    n_lit = 0
    n_lab = 0
    j = start
    while j < end:
        first = True
        while j < end:
            c = buf[j]
            if c == _SPACE or c == _TAB or c == _CR:
                j += 1
                continue
            if c == _NL:
                break
            if c == _HASH:
                while j < end and buf[j] != _NL:
                    j += 1
                break
            s = j
            while j < end:
                c = buf[j]
                if c == _SPACE or c == _TAB or c == _CR or c == _NL or c == _HASH:
                    break
                j += 1
            if first:
                if buf[j - 1] == _COLON:
                    n_lab += 1
                else:
                    n_ins += 1
                first = False
            elif buf[s] == _MINUS or 48 <= buf[s] <= 57:  # every literal starts so
                n_lit += 1
        j += 1
    return n_ins + 1, n_lit + 1, n_lab + 1


@njit(cache=True, nogil=True, inline="always")
def parse_program(buf, start, end, code, file, k0, lh, ls, lpc, mslots, mkeys, kinds):
    """Parse ``buf[start:end]`` (UTF-8 DSL text) into ``code`` and literals ``file[k0:]``.

    Returns (n instructions, n literals), (-1, -1) where ``asm.assemble`` would raise, or
    (-2, -2) if the scratch arrays are too small (never, when sized by ``text_capacity``;
    checked so that no sizing mistake can become an out-of-bounds write). Lines, comments and
    tokens are found in one pass over the bytes; a label reference is kept as the byte offset
    of its name in its code slot until every label is known. ``lh``/``ls``/``lpc`` hold the
    hash, name offset and target of each label definition.
    """
    n = 0
    nk = 0
    nl = 0
    nr = 0
    j = start
    while j < end:
        ntok = 0  # tokens seen on this line
        op = 0
        arity = 0
        label_line = False
        b = 4 * n
        while j < end:
            c = buf[j]
            if c == _SPACE or c == _TAB or c == _CR:
                j += 1
                continue
            if c == _NL:
                break
            if c == _HASH:  # a comment runs to the end of the line
                while j < end and buf[j] != _NL:
                    j += 1
                break
            s = j
            while j < end:
                c = buf[j]
                if c == _SPACE or c == _TAB or c == _CR or c == _NL or c == _HASH:
                    break
                j += 1
            e = j
            if ntok == 0:
                if buf[e - 1] == _COLON:
                    if not _is_ident(buf, s, e - 1):
                        return -1, -1
                    if nl >= len(lh):
                        return -2, -2
                    label_line = True
                    lh[nl] = _hash(buf, s, e - 1)
                    ls[nl] = s
                    lpc[nl] = n
                    nl += 1
                else:
                    op = _mnemonic_opcode(buf, s, e, mslots, mkeys)
                    if op == 0:
                        return -1, -1
                    if b + 4 > len(code):
                        return -2, -2
                    arity = kinds[op, 0]
                    code[b] = op
                    code[b + 1] = 0
                    code[b + 2] = 0
                    code[b + 3] = 0
            elif label_line or ntok > arity:
                return -1, -1
            else:
                slot = b + ntok
                kind = kinds[op, ntok]
                is_reg = e - s == 1 and 97 <= buf[s] <= 112
                if kind == KIND_REG:
                    if not is_reg:
                        return -1, -1
                    code[slot] = buf[s] - 97
                elif kind == KIND_VALUE:
                    if is_reg:
                        code[slot] = buf[s] - 97
                    else:
                        ok, value = _parse_int(buf, s, e)
                        if not ok:
                            return -1, -1
                        if k0 + nk >= len(file):
                            return -2, -2
                        file[k0 + nk] = value
                        code[slot] = N_REGS + nk
                        nk += 1
                else:
                    if not _is_ident(buf, s, e):
                        return -1, -1
                    code[slot] = s  # resolved below
                    nr += 1
            ntok += 1
        if ntok > 0 and not label_line:
            if ntok - 1 != arity:
                return -1, -1
            n += 1
        j += 1  # past the newline (or past the end, which ends the loop)
    if nr > 0 and nl == 0:
        return -1, -1
    if nl > 0:
        order = np.argsort(lh[:nl])
        for k in range(nl):  # a duplicate is found by searching its own name
            ln = _ident_end(buf, ls[k], end) - ls[k]
            if _find_label(buf, end, ls[k], ln, lh[k], lh, order, ls, nl) != k:
                return -1, -1
        for pc in range(n if nr > 0 else 0):
            b = 4 * pc
            op = code[b]
            for t in range(1, 4):
                if kinds[op, t] == KIND_LABEL:
                    s = code[b + t]
                    ln = _ident_end(buf, s, end) - s
                    d = _find_label(buf, end, s, ln, _hash(buf, s, s + ln), lh, order, ls, nl)
                    if d < 0:
                        return -1, -1
                    code[b + t] = lpc[d]
    return n, nk


# ----------------------------------------------------------------------------- batch kernels

@njit(cache=True, nogil=True)
def indices_ok(lo, hi, from_text, n_buf, text_off, n_code, code_off, n_consts, const_off, prog_of, n_inputs,
               in_off, region_start, region_end):
    """Whether every index ``run_programs`` derives for runs ``lo..hi-1`` is inside its array
    (program index, text, code, literal and input offsets, the output region). An empty
    ``prog_of`` means run ``i`` executes program ``i``, an empty ``in_off`` that no run has
    inputs: a plain batch then reads and allocates neither (two arrays per run fewer).

    ``vm.py`` checks all of these with messages; this repeats it once per chunk, so that no
    mistake there can become an out-of-bounds access. Kept out of ``run_programs``: any check
    there that can skip its loop slowed the interpreter loop by 3-7%.
    """
    n_programs = len(text_off) - 1 if from_text else len(code_off) - 1
    identity = len(prog_of) == 0  # run i executes program i
    no_inputs = len(in_off) == 0  # no run has inputs
    n_runs = n_programs if identity else len(prog_of)
    if region_start > region_end or lo < 0 or hi > n_runs or (hi >= len(in_off) and not no_inputs) or n_programs < 1:
        return lo >= hi and lo >= 0  # an empty chunk indexes nothing
    bad = False
    for i in range(lo, hi):  # one branch-free pass: p is clamped before it indexes, and checked
        p = i if identity else prog_of[i]
        q = min(max(p, 0), n_programs - 1)
        bad |= p != q
        if not no_inputs:
            bad |= (in_off[i] < 0) | (in_off[i + 1] < in_off[i]) | (in_off[i + 1] > n_inputs)
        if from_text:
            bad |= (text_off[q] < 0) | (text_off[q + 1] < text_off[q]) | (text_off[q + 1] > n_buf)
        else:
            bad |= ((code_off[q] < 0) | (code_off[q + 1] < code_off[q]) | (code_off[q + 1] > n_code)
                    | (const_off[q] < 0) | (const_off[q + 1] < const_off[q]) | (const_off[q + 1] > n_consts))
    return not bad


@njit(cache=True, nogil=True)
def scratch_sizes(lo, hi, from_text, buf, text_off, code_off, const_off, prog_of):
    """(instructions, literals, labels, code words, literals) the scratch of runs ``lo..hi-1``
    must hold: the first three for texts (``text_capacity``), the last two for bytecode."""
    cap_ins = 0
    cap_lit = 0
    cap_lab = 0
    max_words = 0
    max_nk = 0
    last = -1
    identity = len(prog_of) == 0
    for i in range(lo, hi):
        p = i if identity else prog_of[i]
        if from_text:
            if p != last:  # a long text is counted once for its consecutive runs
                last = p
                ni, nl, nb = text_capacity(buf, text_off[p], text_off[p + 1])
                cap_ins = max(cap_ins, ni)
                cap_lit = max(cap_lit, nl)
                cap_lab = max(cap_lab, nb)
        else:
            max_words = max(max_words, code_off[p + 1] - code_off[p])
            max_nk = max(max_nk, const_off[p + 1] - const_off[p])
    return cap_ins, cap_lit, cap_lab, max_words, max_nk


@intrinsic
def _borrowed(typingctx, arr):
    """A view of ``arr`` that holds no reference to it (a null meminfo).

    Numba reference-counts an array each time a variable starts or stops naming it, and
    inlining a helper binds its parameters to new variables: every program paid an atomic
    increment and decrement for each array each helper takes (~40 per program, and more per
    token when parsing), on counters the threads of a batch share. Operations on a null
    meminfo are no-ops. Only for arrays the caller keeps alive while the view is used: here,
    the arguments of ``_run_loop``, alive for the whole call.
    """
    if not isinstance(arr, types.Array):
        return None

    def codegen(context, builder, signature, args):
        src = context.make_array(arr)(context, builder, value=args[0])
        view = context.make_array(arr)(context, builder)
        context.populate_array(view, data=src.data, shape=src.shape, strides=src.strides, itemsize=src.itemsize,
                               meminfo=None)
        return view._getvalue()

    return arr(arr), codegen


@njit(cache=True, nogil=True, error_model="numpy")
def run_programs(lo, hi, from_text, buf, text_off, code_in, code_off, consts_in, const_off, prog_of,
                 inputs, in_off, fuel, kinds, mslots, mkeys, region_start, region_end, status,
                 steps, out_start, out_count, outs):
    """Parse (``from_text``) or take bytecode, validate and execute runs ``lo..hi-1`` in order.

    The loop behind ``run`` (one run) and ``run_batch`` (a chunk of a parallel batch). Run
    ``i`` executes program ``p = prog_of[i]`` on inputs ``inputs[in_off[i]:in_off[i+1]]`` (``p = i``
    where ``prog_of`` is empty, no inputs where ``in_off`` is).
    Program ``p`` is ``buf[text_off[p]:text_off[p+1]]`` (text) or ``code_in[code_off[p]:
    code_off[p+1]]`` with literals ``consts_in[const_off[p]:const_off[p+1]]`` (bytecode); it is
    parsed and validated once for consecutive runs of the same program. Outputs are appended
    to ``outs[region_start:region_end]``; a run that finds the region full (but would fit a
    full tape) gets NEEDS_RERUN. Scratch is allocated here, once per call, not per program.

    Callers check ``indices_ok`` first (``vm.py`` checks every argument before that, with
    messages): this loop trusts the index arrays, so that no check here shapes its code.
    """
    region_start = max(region_start, 0)
    region_end = min(region_end, len(outs))
    cap_ins, cap_lit, cap_lab, max_words, max_nk = scratch_sizes(lo, hi, from_text, buf, text_off, code_off,
                                                                 const_off, prog_of)
    # Each program is parsed or copied into this one scratch code array (the validated copy is
    # the one that runs, whatever happens to the caller's array meanwhile).
    code = np.zeros(max(4 * cap_ins, max_words) + 4, np.int64)
    lh = np.zeros(cap_lab, np.int64)  # label scratch, see parse_program
    ls = np.zeros(cap_lab, np.int64)
    lpc = np.zeros(cap_lab, np.int64)
    file = np.zeros(N_REGS + max(max_nk, cap_lit), np.int64)  # registers, then the literals
    mem = np.zeros(MEM_SIZE, np.int64)
    memgen = np.zeros(MEM_SIZE, np.int64)
    dstack = np.zeros(DATA_STACK_SIZE, np.int64)
    cstack = np.zeros(CALL_STACK_SIZE, np.int64)
    no_trace = np.zeros(0, np.int64)
    no_regs = np.zeros((0, N_REGS), np.int64)
    _run_loop(lo, hi, from_text, buf, text_off, code_in, code_off, consts_in, const_off, prog_of, inputs, in_off,
              fuel, kinds, mslots, mkeys, region_start, region_end, status, steps, out_start, out_count, outs,
              code, lh, ls, lpc, file, mem, memgen, dstack, cstack, no_trace, no_regs)


@njit(cache=True, nogil=True, error_model="numpy")
def _run_loop(lo, hi, from_text, buf, text_off, code_in, code_off, consts_in, const_off, prog_of, inputs, in_off,
              fuel, kinds, mslots, mkeys, region_start, region_end, status, steps, out_start, out_count, outs,
              code, lh, ls, lpc, file, mem, memgen, dstack, cstack, no_trace, no_regs):
    """The per-program loop of ``run_programs``, on borrowed views of every array: the helpers
    it inlines (parser, validation, interpreter) then count no references per program."""
    buf, text_off, code_in, code_off = _borrowed(buf), _borrowed(text_off), _borrowed(code_in), _borrowed(code_off)
    consts_in, const_off, prog_of = _borrowed(consts_in), _borrowed(const_off), _borrowed(prog_of)
    inputs, in_off, kinds, mslots, mkeys = (_borrowed(inputs), _borrowed(in_off), _borrowed(kinds),
                                            _borrowed(mslots), _borrowed(mkeys))
    status, steps, out_start = _borrowed(status), _borrowed(steps), _borrowed(out_start)
    out_count, outs, code, lh, ls, lpc = (_borrowed(out_count), _borrowed(outs), _borrowed(code), _borrowed(lh),
                                          _borrowed(ls), _borrowed(lpc))
    file, mem, memgen, dstack, cstack = (_borrowed(file), _borrowed(mem), _borrowed(memgen), _borrowed(dstack),
                                         _borrowed(cstack))
    no_trace, no_regs = _borrowed(no_trace), _borrowed(no_regs)
    identity = len(prog_of) == 0  # see indices_ok
    no_inputs = len(in_off) == 0
    cursor = region_start
    loaded = -1  # the program now in the scratch arrays
    load_status = ST_OK
    n = 0
    for i in range(lo, hi):
        out_start[i] = cursor
        out_count[i] = 0
        steps[i] = 0
        p = i if identity else prog_of[i]
        if p != loaded:
            loaded = p
            load_status = ST_OK
            if from_text:
                n, nk = parse_program(buf, text_off[p], text_off[p + 1], code, file, N_REGS, lh, ls,
                                      lpc, mslots, mkeys, kinds)
                if n == -1:
                    load_status = ST_PARSE_ERROR
                elif n < 0:
                    load_status = ST_BAD_PROGRAM
                # Parsed code is valid by construction; checking it anyway costs little and
                # means no bug in the parser can ever turn into an out-of-bounds access.
                elif validate(code, 0, n, nk, kinds) >= 0:
                    load_status = ST_BAD_PROGRAM
            else:
                c0 = code_off[p]
                k0 = const_off[p]
                n = (code_off[p + 1] - c0) // 4
                nk = const_off[p + 1] - k0
                for r in range(nk):
                    file[N_REGS + r] = consts_in[k0 + r]
                if validate_into(code_in, c0, n, nk, kinds, code) >= 0:
                    load_status = ST_BAD_PROGRAM
        if load_status != ST_OK:
            status[i] = load_status
            continue
        i0 = 0 if no_inputs else in_off[i]
        ni = 0 if no_inputs else in_off[i + 1] - i0
        for r in range(N_REGS):  # literals in file[N_REGS:] are never written: no reload
            file[r] = 0
        ocap = min(MAX_OUTPUTS, region_end - cursor)
        st, sp, no = execute(code, 0, n, file, inputs, i0, ni, fuel, mem, memgen, i - lo + 1, dstack,
                             cstack, outs, cursor, ocap, no_trace, no_trace, no_regs,
                             False)  # a constant: LLVM drops the trace code
        if st == ST_OUTPUT_OVERFLOW and ocap < MAX_OUTPUTS:
            st = NEEDS_RERUN
        status[i] = st
        steps[i] = sp
        out_count[i] = no
        cursor += no


@njit(cache=True, nogil=True)
def run_checked(lo, hi, from_text, buf, text_off, code_in, code_off, consts_in, const_off, prog_of, inputs,
                in_off, fuel, kinds, mslots, mkeys, region_start, region_end, status, steps, out_start,
                out_count, outs):
    """``run_programs`` once ``indices_ok`` holds, else every run is BAD_ARGUMENT."""
    if indices_ok(lo, hi, from_text, len(buf), text_off, len(code_in), code_off, len(consts_in), const_off,
                  prog_of, len(inputs), in_off, max(region_start, 0), min(region_end, len(outs))):
        run_programs(lo, hi, from_text, buf, text_off, code_in, code_off, consts_in, const_off, prog_of, inputs,
                     in_off, fuel, kinds, mslots, mkeys, region_start, region_end, status, steps, out_start,
                     out_count, outs)
    else:
        refuse(lo, hi, status)


@njit(cache=True, nogil=True)
def refuse(lo, hi, status):
    """Runs ``lo..hi-1`` are BAD_ARGUMENT (their chunk failed ``indices_ok``)."""
    for i in range(max(lo, 0), min(hi, len(status))):
        status[i] = ST_BAD_ARGUMENT


@njit(cache=True, nogil=True, error_model="numpy")
def trace_program(code, consts, inputs, fuel, kinds, outs, tr_pc, tr_op, tr_regs, final_regs):
    """Run one program recording pc, opcode and registers before every step (arrays sized
    ``fuel``); returns (status, steps, number of outputs). ``code`` must be the caller's own
    copy: it is validated once and then executed with the GIL released."""
    n = len(code) // 4
    nk = len(consts)
    if validate(code, 0, n, nk, kinds) >= 0:
        return ST_BAD_PROGRAM, 0, 0
    file = np.zeros(N_REGS + nk, np.int64)
    file[N_REGS:] = consts
    mem = np.zeros(MEM_SIZE, np.int64)
    memgen = np.zeros(MEM_SIZE, np.int64)
    dstack = np.zeros(DATA_STACK_SIZE, np.int64)
    cstack = np.zeros(CALL_STACK_SIZE, np.int64)
    fuel = min(fuel, len(tr_pc), len(tr_op), len(tr_regs))  # every recorded step has a row
    st, sp, no = execute(code, 0, n, file, inputs, 0, len(inputs), fuel, mem, memgen, 1, dstack,
                         cstack, outs, 0, min(MAX_OUTPUTS, len(outs)), tr_pc, tr_op, tr_regs, True)
    final_regs[:N_REGS] = file[:N_REGS]
    return st, sp, no


@njit(cache=True, parallel=True)
def run_batch(from_text, buf, text_off, code, code_off, consts, const_off, prog_of, inputs, in_off,
              fuel, kinds, mslots, mkeys, n_chunks, outs_per_program, status, steps, out_start,
              out_count, outs):
    """Run a batch as ``n_chunks`` independent chunks in parallel (see ``run_programs``); each
    chunk owns ``outs_per_program`` output words per program of ``outs``. The caller checks
    that ``len(status) * outs_per_program`` fits ``outs`` (so no product here can wrap); a
    chunk failing ``indices_ok`` is all BAD_ARGUMENT."""
    n_prog = len(status)
    per_chunk = (n_prog + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * per_chunk
        hi = min(n_prog, lo + per_chunk)
        if lo < hi:
            if indices_ok(lo, hi, from_text, len(buf), text_off, len(code), code_off, len(consts), const_off,
                          prog_of, len(inputs), in_off, lo * outs_per_program, min(hi * outs_per_program, len(outs))):
                run_programs(lo, hi, from_text, buf, text_off, code, code_off, consts, const_off, prog_of,
                             inputs, in_off, fuel, kinds, mslots, mkeys, lo * outs_per_program,
                             hi * outs_per_program, status, steps, out_start, out_count, outs)
            else:
                refuse(lo, hi, status)


@njit(cache=True, nogil=True)
def parse_one(buf, kinds, mslots, mkeys):
    """Parse one UTF-8 text; returns (n, code, consts), n = -1 where ``assemble`` raises."""
    cap_ins, cap_lit, cap_lab = text_capacity(buf, 0, len(buf))
    code = np.zeros(4 * cap_ins, np.int64)
    consts = np.zeros(cap_lit, np.int64)
    lh = np.zeros(cap_lab, np.int64)
    ls = np.zeros(cap_lab, np.int64)
    lpc = np.zeros(cap_lab, np.int64)
    n, nk = parse_program(buf, 0, len(buf), code, consts, 0, lh, ls, lpc, mslots, mkeys, kinds)
    if n < 0:
        return n, code[:0], consts[:0]
    return n, code[:4 * n], consts[:nk]  # views: a copy would double the peak for a long text


# ----------------------------------------------------------------------------- the limit
# A minimal switch loop for `cadmus bench vm` to measure the VM against: the same bytecode
# layout and value file, the dozen opcodes of the benchmark's programs, and none of the VM's
# guarantees (no validation, fuel, step count, output tape or memory). It lives here, not in
# benchmarks/, so that its cache entries belong to one importable module.
MINIMAL_OPCODES = (OP_MOV, OP_OUT, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_INC, OP_MAX, OP_XOR, OP_JLT, OP_ASSERT)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _minimal_execute(code, c0, n, file):
    """(status, last output): 0 ran off the end, 1 assert failed, 10 an opcode it lacks."""
    pc = 0
    last = 0
    while pc < n:
        b = c0 + 4 * pc
        op = code[b]
        ux = np.uint64(code[b + 1])  # unsigned indices, as the VM: no wraparound code
        uy = np.uint64(code[b + 2])
        uz = np.uint64(code[b + 3])
        pc += 1
        if op == OP_MOV:
            file[ux] = file[uy]
        elif op == OP_ADD:
            file[ux] = file[uy] + file[uz]
        elif op == OP_SUB:
            file[ux] = file[uy] - file[uz]
        elif op == OP_MUL:
            file[ux] = file[uy] * file[uz]
        elif op == OP_DIV:
            file[ux] = file[uy] // file[uz]
        elif op == OP_MOD:
            file[ux] = file[uy] % file[uz]
        elif op == OP_INC:
            file[ux] = file[ux] + 1
        elif op == OP_MAX:
            file[ux] = max(file[uy], file[uz])
        elif op == OP_XOR:
            file[ux] = file[uy] ^ file[uz]
        elif op == OP_JLT:
            if file[ux] < file[uy]:
                pc = code[b + 3]
        elif op == OP_ASSERT:
            if file[ux] != file[uy]:
                return 1, last
        elif op == OP_OUT:
            last = file[ux]
        else:
            return 10, last
    return 0, last


@njit(cache=True, nogil=True, error_model="numpy")
def minimal_run(code, consts):
    """One program on the minimal loop: (status, last output)."""
    file = np.zeros(16 + len(consts), np.int64)
    file[16:] = consts
    return _minimal_execute(code, 0, len(code) // 4, file)


@njit(cache=True, parallel=True, error_model="numpy")
def minimal_batch(code, code_off, consts, const_off, n_chunks, status):
    """A batch on the minimal loop, chunked as ``run_batch``: one value file per chunk."""
    n = len(status)
    per_chunk = (n + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        lo = c * per_chunk
        hi = min(n, lo + per_chunk)
        max_nk = 0
        for i in range(lo, hi):
            max_nk = max(max_nk, const_off[i + 1] - const_off[i])
        file = np.zeros(16 + max_nk, np.int64)
        for i in range(lo, hi):
            for r in range(16):
                file[r] = 0
            k0 = const_off[i]
            for r in range(const_off[i + 1] - k0):
                file[16 + r] = consts[k0 + r]
            status[i] = _minimal_execute(code, code_off[i], (code_off[i + 1] - code_off[i]) // 4, file)[0]
