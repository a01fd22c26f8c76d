"""`xbgen verify`'s search of a cycle the drivers could spin in for ever: the
explorer peels the graph of system moves in C (explore.c's
system_cycles()) and model.py trusts what is left; here both peelings, and
the cycle found from each, agree on random graphs (the generated drivers
have no such cycle, so the planted-bug tests never reach this path)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

import xbgen.verify as verify_module
from xbgen.verify import model

SIM = Path(verify_module.__file__).parent / "sim"

#: explore.c with the simulation stubbed out: reads "count" then "from to
#: move" lines and prints its C record.
HARNESS = """#define main explore_main
#include "explore.c"
#undef main
void sim_init(void) {}
void sim_watchdog(int s) { (void)s; }
void sim_reset(const struct sim_limits *l) { (void)l; }
int sim_enabled(int m) { (void)m; return 0; }
int sim_enabled_moves(int *o) { (void)o; return 0; }
int sim_apply(int m) { (void)m; return 0; }
const char *sim_move_name(int m) { (void)m; return "?"; }
void sim_summarise(struct sim_summary *s) { (void)s; }
const char *sim_violation(void) { return ""; }
void sim_trace(int on) { (void)on; }
void sim_describe(char *b, int l) { (void)b; (void)l; }
void sim_set_schedule(const int *m, int n) { (void)m; (void)n; }
int sim_load_config(const char *p) { (void)p; return 0; }
void *sim_snapshot(size_t *l) { (void)l; return 0; }
size_t sim_snapshot_max(void) { return 0; }
size_t sim_snapshot_into(void *b) { (void)b; return 0; }
void sim_restore(const void *s) { (void)s; }
int main(void)
{
	int count, a, b, m;

	if (scanf("%d", &count) != 1)
		return 2;
	while (scanf("%d %d %d", &a, &b, &m) == 3)
		if (keep_system_edge(a, b, m))
			return 3;
	return system_cycles(count);
}
"""


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("peel")
    (work / "harness.c").write_text(HARNESS)
    binary = work / "harness"
    cmd = ["gcc", "-O1", "-Wall", "-Werror", "-I", str(SIM), str(work / "harness.c")]
    subprocess.run([*cmd, "-o", str(binary)], check=True)
    return binary


def test_the_explorer_peels_the_system_moves_as_python_does(harness: Path) -> None:
    names = {number: name for number, name in enumerate(NAMES)}
    rng = random.Random(15)
    found = 0
    for _ in range(300):
        count = rng.randint(1, 60)
        edges = []
        for _ in range(rng.randint(0, 120)):
            a = rng.randrange(count)
            near = min(count - 1, a + rng.randint(0, 3))
            b = rng.randrange(count) if rng.random() < 0.3 else near
            edges.append((a, b, rng.randrange(len(NAMES))))
        text = f"{count}\n" + "".join(f"{a} {b} {m}\n" for a, b, m in edges)
        out = subprocess.run([harness], input=text, capture_output=True, text=True, check=True)
        graph = model.Graph(moves=names, edges=edges)
        graph.states = [
            model.State(n, -1, -1, rng.randint(0, 9), 0, 0, 0, 0, False, False, 0, 0)
            for n in range(count)
        ]
        python = model._system_cycle(graph)
        model._record(graph, out.stdout.strip())
        assert graph.cycle_core is not None
        assert model._system_cycle(graph) == python
        found += python is not None
    assert found > 100  # the cases cover graphs with cycles, not only without


#: explore's move table (sim.h's enum sim_move, as the explorer prints it).
NAMES = [
    "insmod backend", "insmod frontend", "rmmod backend", "rmmod frontend",
    "unbind backend", "unbind frontend", "bind backend", "bind frontend",
    "activate.sh", "deactivate.sh", "xl destroy guest", "domU sends an event",
    "dom0 sends an event", "a domU program calls the frontend",
    "toolstack step", "toolstack times out", "a wait times out",
    "dom0 watch event", "domU watch event", "dom0 runs", "domU runs",
    "dom0 work item runs", "domU work item runs", "dom0 interrupt", "domU interrupt",
    "domU program runs", "dom0 xenstore write fails", "domU xenstore write fails",
    "dom0 runs short of memory", "domU runs short of memory",
]  # fmt: skip
