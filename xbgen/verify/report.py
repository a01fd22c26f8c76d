"""Text and Graphviz output of ``xbgen verify``."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from . import model
from .model import PROPERTIES, Graph
from .results import Counterexample, Replay, Step, VerifyResult


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def format_steps(steps: list[Step], cycle_from: int | None = None, log: bool = True) -> list[str]:
    width = max((len(step.move) for step in steps), default=10)
    lines = []
    for step in steps:
        if cycle_from is not None and step.number == cycle_from:
            lines.append("      -- from here on the moves repeat for ever --")
        lines.append(f"  {step.number:3}. {step.move:<{width}}  {step.after}")
        if log:
            lines += [f"         {entry}" for entry in step.log]
    return lines


def format_counterexample(tree: Path, example: Counterexample) -> list[str]:
    name, _ = PROPERTIES[example.prop]
    lines = [
        "",
        f"property ({example.prop}) {name} violated: {example.message}",
        f"shortest schedule ({_plural(len(example.steps), 'move')}; "
        f"save it to a file and replay it with `xbgen verify {tree} --replay FILE`):",
    ]
    lines += format_steps(example.steps, example.cycle_from)
    if example.sanitizer:
        lines.append("  sanitizer report:")
        lines += [f"    {line}" for line in example.sanitizer]
    return lines


def format_result(result: VerifyResult) -> str:
    b = result.bounds
    rate = result.states / result.seconds if result.seconds else 0.0
    lines = [
        f"xbgen verify {result.tree}: the emitted C, unchanged, under AddressSanitizer + UBSan",
        f"explored {result.states} states and {result.transitions} transitions in "
        f"{result.seconds:.2f} s ({rate:,.0f} states/s)",
        f"bounds: {_plural(b.env, 'environment move')}, {_plural(b.hostile, 'hostile write')}, "
        f"{_plural(b.faults, 'fault')}, {b.steps} xenstore accesses per callback, "
        f"{_plural(b.calls, 'call')}, {_plural(b.saves, 'save')}",
    ]
    for number, (name, what) in PROPERTIES.items():
        verdict = "FAIL" if number in result.findings else "PASS"
        lines.append(f"  {verdict} ({number}) {name:<12} {what}")
    if result.limited:
        lines.append(
            f"INCOMPLETE: stopped at {result.states} states (--max-states); "
            "lower the bounds or raise the limit"
        )
    printed: dict[tuple[str, ...], int] = {}
    for number in sorted(result.findings):
        example = result.findings[number]
        key = tuple(step.move for step in example.steps)
        if key in printed:
            name, _ = PROPERTIES[number]
            lines += [
                "",
                f"property ({number}) {name} violated: {example.message}",
                f"  the same schedule as for ({printed[key]}) above",
            ]
            continue
        printed[key] = number
        lines += format_counterexample(result.tree, example)
    if result.ok:
        lines.append("all properties hold within the bounds")
    return "\n".join(lines)


def format_replay(result: Replay) -> str:
    lines = format_steps(result.steps, result.cycle_from)
    if result.prop is not None:
        name, _ = PROPERTIES[result.prop]
        lines.append(f"property ({result.prop}) {name} violated: {result.message}")
        lines += [f"  {line}" for line in result.sanitizer]
    else:
        lines.append(f"replayed {_plural(len(result.steps), 'move')}: no property violated")
    return "\n".join(lines)


# --------------------------------------------------------------------------- graphviz


def _node(fe: int, be: int) -> str:
    return f"s{fe + 2}_{be + 2}"


def dot_text(graph: Graph, bad: set[tuple[int, int]]) -> str:
    """The joint xenbus states both ends reach, and the moves between them.

    Every configuration of a legal schedule (no hostile write, no fault) is
    folded onto (frontend state, backend state) as xenstore shows them; an
    edge carries the kinds of move that change that pair.  Green: the
    drivers can come to rest there.
    """
    counts: Counter[tuple[int, int]] = Counter()
    settled: set[tuple[int, int]] = set()
    for state in graph.states:
        if state.flags & model.TAINTED:
            continue
        pair = (state.fe, state.be)
        counts[pair] += 1
        if state.settled:
            settled.add(pair)
    by_id = graph.states
    edges: dict[tuple[tuple[int, int], tuple[int, int]], set[str]] = {}
    for a, b, move in graph.edges:
        src, dst = by_id[a], by_id[b]
        if (src.flags | dst.flags) & model.TAINTED:
            continue
        pa, pb = (src.fe, src.be), (dst.fe, dst.be)
        if pa == pb:
            continue
        label = _move_kind(graph.moves.get(move, "?"))
        edges.setdefault((pa, pb), set()).add(label)
    out = [
        "digraph xbgen_verify {",
        "  rankdir=LR;",
        '  label="xbgen verify: joint states of legal schedules (green: the drivers rest there)";',
        '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="sans"];',
        '  edge [fontname="sans", fontsize=9];',
    ]
    for (fe, be), n in sorted(counts.items()):
        colour = "salmon" if (fe, be) in bad else "palegreen" if (fe, be) in settled else "white"
        label = f"frontend {model.state_name(fe)}\\nbackend {model.state_name(be)}\\n{n} config(s)"
        out.append(f'  {_node(fe, be)} [label="{label}", fillcolor={colour}];')
    for (pa, pb), labels in sorted(edges.items()):
        text = "\\n".join(sorted(labels))
        out.append(f'  {_node(*pa)} -> {_node(*pb)} [label="{text}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _move_kind(name: str) -> str:
    if name.startswith("guest writes"):
        return "hostile write"
    if name.startswith(("dom0 ", "domU ")) and ("watch" in name or "runs" in name):
        return name.split()[0] + " driver"
    return name


def write_dot(result: VerifyResult, path: Path) -> list[Path]:
    """Write the graph to ``path`` (and an SVG beside it when Graphviz's dot exists)."""
    bad: set[tuple[int, int]] = set()
    for example in result.findings.values():
        if example.steps and example.steps[-1].state is not None:
            last = example.steps[-1].state
            bad.add((last.fe, last.be))
    path.write_text(dot_text(result.graph, bad))
    written = [path]
    dot = shutil.which("dot")
    if dot:
        svg = path.with_suffix(".svg")
        subprocess.run([dot, "-Tsvg", str(path), "-o", str(svg)], check=True, timeout=120)
        written.append(svg)
    return written
