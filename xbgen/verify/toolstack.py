"""Read the toolstack's moves out of the generated activate.sh and deactivate.sh.

The model replays the scripts' own xenstore writes and removals, in their
order, with their paths: each ``xenstore-write``/``xenstore-rm`` command line
is one atomic step (a multi-pair ``xenstore-write`` is one request).  Shell
control flow is not interpreted; the scripts mark it with comments:

``# xbgen-verify: absent "$fe" "$be"``
    the script refuses to run when one of these paths exists
``# xbgen-verify: no-stale-backend "$backend_domid"``
    the script waits for, then refuses while, a backend device object from
    an earlier plug still exists in the backend domain.  The script runs in
    dom0 and sees only dom0's devices: for another backend domain it does not
    wait, and the model assumes that the user waited there (see
    :func:`assumed_waits`)
``# xbgen-verify: backend-parents``
    the following ``for ... done`` loop creates the directories above the
    backend's that do not exist yet and sets their permissions.  The model
    skips it: it has no permissions, xenstore creates those directories with
    the backend's anyway, and the xenbus core ignores events above a device's
    directory
``# xbgen-verify: sweep-dead``
    the following ``for ... done`` loop removes the backend directories of
    domains that no longer exist.  The model skips it: its toolstack removes
    a gone guest's directories itself before it plugs the new domain
``# xbgen-verify: skip-if-done``
    the following ``case ... esac`` removes both directories at once when
    the frontend is Closed or gone, or the backend directory is gone
``# xbgen-verify: wait-closed``
    the following loop waits (with a timeout) until both ends are Closed or
    gone, giving the second a short grace period once the first is

A script without the markers is modelled as straight-line code.  Calls of
the script's own shell functions are expanded.  Variables are expanded as the
shell would with no environment: ``${VAR:-default}`` and ``${VAR-default}``
give the default (the spec's value) unless the script set ``VAR``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from xbgen.errors import UsageError

MARK = "# xbgen-verify:"
FUNC_START = re.compile(r"^(\w+)\(\)\s*\{\s*$")
ASSIGN = re.compile(r"^(\w+)=(\S*)$")
SHELL_OPS = {"||", "&&", ";", "|", ">", "2>/dev/null", ">/dev/null", "2>&1"}


@dataclass(frozen=True)
class Op:
    step: int
    kind: str  # write | rm | absent | no-stale-backend | skip-if-done | wait-closed
    # args: write (path, value); rm (path,); absent (paths); no-stale-backend
    # (the backend's domid,); skip-if-done (the step it jumps to,)
    args: tuple[str, ...] = ()


def _expand(word: str, env: dict[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4) or match.group(5)
        colon, default = match.group(2), match.group(3)
        value = env.get(name, "")
        if default is not None and (name not in env or (colon and not value)):
            value = _expand(default, env)
        return value

    return re.sub(r"\$\{(\w+)(:?)-([^}]*)\}|\$\{(\w+)\}|\$(\w+|\d)", repl, word)


def _words(line: str, env: dict[str, str]) -> list[str]:
    words = []
    for word in shlex.split(line, comments=True):
        if word in SHELL_OPS or word.startswith(("2>", ">")):
            break
        words.append(_expand(word, env))
    return words


def _block_end(lines: list[str], start: int, opener: str, closer: str) -> int:
    """Index of the line that closes the ``opener`` block starting on the next line."""
    i = start
    while i < len(lines) and not lines[i].split():
        i += 1
    if i == len(lines) or lines[i].split()[0] != opener:
        raise UsageError(f"xbgen-verify marker on line {start}: no '{opener}' follows it")
    depth = 0
    for j in range(i, len(lines)):
        words = lines[j].split()
        if not words:
            continue
        if words[0] == opener:
            depth += 1
        if closer in (words[0], words[-1]):
            depth -= 1
        if depth == 0:
            return j
    raise UsageError(f"xbgen-verify marker on line {start}: no '{closer}' closes it")


def unmarked_loops(text: str) -> list[int]:
    """Line numbers of loops no marker explains: the model does not wait there."""
    lines = text.splitlines()
    return [
        number
        for number, line in enumerate(lines, 1)
        if line.split()[:1] in (["while"], ["until"])
        and not (number > 1 and lines[number - 2].strip().startswith(MARK))
    ]


def extract(text: str, name: str, positional: list[str]) -> list[Op]:
    """The xenstore steps of ``text`` run with the positional arguments ``positional``."""
    lines = text.splitlines()
    env = {str(i + 1): value for i, value in enumerate(positional)}
    functions: dict[str, list[str]] = {}
    top: list[str] = []
    i = 0
    while i < len(lines):
        match = FUNC_START.match(lines[i].strip())
        if match:
            end = i + 1
            while end < len(lines) and lines[end].strip() != "}":
                end += 1
            functions[match.group(1)] = lines[i + 1 : end]
            i = end + 1
            continue
        top.append(lines[i])
        assign = ASSIGN.match(lines[i].strip())
        if assign:
            env[assign.group(1)] = _expand(assign.group(2), env)
        i += 1

    ops: list[Op] = []
    pending_skip: list[int] = []

    def walk(body: list[str]) -> None:
        i = 0
        while i < len(body):
            line = body[i].strip()
            if line.startswith(MARK):
                words = _words(line[len(MARK) :], env)
                kind, args = words[0], tuple(words[1:])
                if kind == "absent":
                    ops.append(Op(len(ops) + 1, "absent", args))
                elif kind == "no-stale-backend":
                    if len(args) != 1 or not args[0].isdigit():
                        raise UsageError(f"{name}: no-stale-backend wants the backend's domid")
                    ops.append(Op(len(ops) + 1, "no-stale-backend", args))
                elif kind in ("backend-parents", "sweep-dead"):
                    i = _block_end(body, i + 1, "for", "done")
                elif kind == "skip-if-done":
                    pending_skip.append(len(ops))
                    ops.append(Op(len(ops) + 1, "skip-if-done", ("?",)))
                    i = _block_end(body, i + 1, "case", "esac")
                elif kind == "wait-closed":
                    ops.append(Op(len(ops) + 1, "wait-closed"))
                    i = _block_end(body, i + 1, "while", "done")
                else:
                    raise UsageError(f"{name}: unknown xbgen-verify marker '{kind}'")
            elif line.startswith("xenstore-write "):
                words = _words(line, env)[1:]
                if len(words) % 2 or not words:
                    raise UsageError(f"{name}: cannot read '{line}'")
                step = len(ops) + 1
                for path, value in zip(words[::2], words[1::2], strict=True):
                    ops.append(Op(step, "write", (path, value)))
            elif line.startswith("xenstore-rm "):
                step = len(ops) + 1
                for path in _words(line, env)[1:]:
                    ops.append(Op(step, "rm", (path,)))
            elif line.split(maxsplit=1)[:1] and line.split()[0] in functions:
                walk(functions[line.split()[0]])
            i += 1

    walk(top)
    # a skip jumps to the first removal after the wait
    for at in pending_skip:
        target = next((op.step for op in ops[at + 1 :] if op.kind == "rm"), None)
        if target is None:
            raise UsageError(f"{name}: skip-if-done marker with no xenstore-rm after it")
        ops[at] = Op(ops[at].step, "skip-if-done", (str(target),))
    return ops


def config_lines(activate: list[Op], deactivate: list[Op]) -> list[str]:
    """The op lines of the simulator's configuration."""
    out = []
    for script, ops in (("activate", activate), ("deactivate", deactivate)):
        for op in ops:
            if op.kind == "absent" and len(op.args) > 1:
                out += [f"{script} {op.step} absent {path}" for path in op.args]
                continue
            if op.kind == "no-stale-backend":
                out.append(f"{script} {op.step} {op.kind}")
                continue
            args = [arg if arg else "''" for arg in op.args]
            if any(" " in arg for arg in args):
                raise UsageError(f"{script}.sh: a xenstore path or value has a space: {args}")
            out.append(" ".join([script, str(op.step), op.kind, *args]))
    return out


def assumed_waits(ops: list[Op]) -> list[str]:
    """Backend domains whose stale devices the script cannot wait for (it runs
    in dom0); the model assumes the user waited there before plugging again."""
    return [op.args[0] for op in ops if op.kind == "no-stale-backend" and op.args[0] != "0"]
