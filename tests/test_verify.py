"""`xbgen verify`: the model checker finds each planted protocol bug with a
shortest schedule that replays to the violation, and passes the generated
drivers on every spec option (but `on_invalid_state = "bug"`, which a guest
can turn into a dom0 crash).

Each check compiles the emitted C unchanged with gcc + ASan/UBSan (cached
by content under ~/.cache/xbgen/verify) and explores a few 10k states.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS, REPO, all_option_specs
from typer.testing import CliRunner

from xbgen.cli import app
from xbgen.generate import generate
from xbgen.render import render
from xbgen.spec import default_spec
from xbgen.verify import PROPERTIES, Bounds, VerifyResult, replay, toolstack, verify
from xbgen.verify.report import format_counterexample

FIXTURE_010 = REPO / "tests" / "fixtures" / "mydevice-0.1.0"
FRONT = "frontend/mydevicefront.c"
BACK = "backend/mydeviceback.c"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default spec's tree, as `xbgen new mydevice` writes it."""
    return generate(default_spec("mydevice"), tmp_path_factory.mktemp("gen")).tree


def plant(tree: Path, tmp_path: Path, rel: str, old: str, new: str) -> Path:
    """A copy of ``tree`` with ``old`` replaced by ``new`` in one file."""
    copy = tmp_path / "mydevice"
    shutil.copytree(tree, copy)
    path = copy / rel
    text = path.read_text()
    assert old in text, f"the code to plant the bug in is not in {rel}"
    path.write_text(text.replace(old, new, 1))
    return copy


def timed(what: str, run: Callable[[], VerifyResult]) -> VerifyResult:
    started = time.monotonic()
    result = run()
    PHASE_TIMINGS.append(
        f"verify {what}: {result.states} states in {result.seconds:.2f}s "
        f"(whole run {time.monotonic() - started:.1f}s)"
    )
    return result


def printed_schedule(result: VerifyResult, prop: int) -> str:
    """The schedule exactly as `xbgen verify` prints it for ``prop``."""
    return "\n".join(format_counterexample(result.tree, result.findings[prop]))


def assert_found(result: VerifyResult, prop: int, words: str) -> None:
    assert prop in result.findings, f"({prop}) {PROPERTIES[prop][0]} not found"
    example = result.findings[prop]
    assert re.search(words, example.message), example.message
    assert example.steps, "no schedule"
    printed = printed_schedule(result, prop)
    assert f"property ({prop}) {PROPERTIES[prop][0]} violated" in printed
    # the printed schedule, replayed from the text, reaches the same violation
    replayed = replay(result.tree, printed, result.bounds)
    # a deadlock (6) replays as the property whose goal it misses
    assert replayed.prop == prop or (prop == 6 and replayed.prop in (1, 2, 3)), (
        replayed.prop,
        replayed.message,
    )
    assert len(replayed.steps) == len(example.steps)


# --------------------------------------------------------------------------- passes


def test_default_tree_holds_every_property(tree: Path) -> None:
    result = timed("default spec", lambda: verify(tree))
    assert result.ok, [c.message for c in result.findings.values()]
    assert result.states > 1000 and result.transitions > result.states
    assert not result.limited


@pytest.mark.parametrize(
    "spec",
    all_option_specs(),
    ids=lambda s: f"log={s.log_messages},{s.on_invalid_state},{s.license},dom{s.backend_domid}",
)
def test_every_option_combination(spec, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tree = generate(spec, tmp_path / "out").tree
    result = verify(tree)
    assert not result.limited
    if spec.on_invalid_state == "bug":
        # a guest writes a state the protocol does not allow: BUG() in dom0
        assert list(result.findings) == [4]
        assert_found(result, 4, r"BUG\(\) in the backend")
        moves = [step.move for step in result.findings[4].steps]
        assert any(move.startswith("guest writes its state") for move in moves), moves
    else:
        assert result.ok, {p: c.message for p, c in result.findings.items()}


# --------------------------------------------------------------------------- planted bugs


def test_finds_the_010_rebind_bug() -> None:
    """Today's emitted default tree (0.1.0 templates): a frontend rebind leaves
    both ends Closed, and the backend set_state loop spins on a failed switch."""
    result = timed("0.1.0 tree", lambda: verify(FIXTURE_010, Bounds(hostile=0)))
    assert_found(result, 3, r"not Connected \(frontend Closed \| backend Closed\)")
    assert any(step.move == "unbind frontend" for step in result.findings[3].steps) or any(
        step.move == "unbind backend" for step in result.findings[3].steps
    )
    assert_found(result, 5, r"more than 64 xenstore accesses")
    assert_found(result, 7, r"connected as well")


def test_finds_a_frontend_without_closed_without_closing(tree: Path, tmp_path: Path) -> None:
    closed_case = (
        "\tcase XenbusStateClosed:\n"
        "\t\tif (dev->state == XenbusStateInitialising ||\n"
        "\t\t    dev->state == XenbusStateClosed)\n"
        "\t\t\tbreak;\n"
        "\t\t/* We missed the backend's Closing: close as for Closing. */\n"
        "\t\tfallthrough;\n"
    )
    bad = plant(tree, tmp_path, FRONT, closed_case, "\tcase XenbusStateClosed:\n\t\tbreak;\n")
    assert_found(verify(bad), 2, r"frontend never reached Closed|timed out")


def test_finds_a_backend_that_never_leaves_initwait(tree: Path, tmp_path: Path) -> None:
    bad = plant(
        tree,
        tmp_path,
        BACK,
        "		mydeviceback_bring_up(be, XenbusStateConnected);\n",
        "		/* forgot to connect */\n",
    )
    result = verify(bad)
    assert_found(result, 1, r"backend InitWait")
    # nothing can move short of the goal: a deadlock as well
    assert_found(result, 6, r"backend InitWait")


def test_finds_a_backend_that_bugs_on_reconfiguring(tree: Path, tmp_path: Path) -> None:
    bad = plant(
        tree,
        tmp_path,
        BACK,
        """		if (dev->state == XenbusStateConnected)
			xenbus_switch_state(dev, XenbusStateReconfigured);""",
        "		BUG();",
    )
    result = verify(bad)
    assert_found(result, 4, r"BUG\(\)")
    assert "guest writes its state = 7" in [step.move for step in result.findings[4].steps]


def test_finds_a_loop_that_ignores_a_failed_switch(tree: Path, tmp_path: Path) -> None:
    bad = plant(
        tree,
        tmp_path,
        BACK,
        """		if (mydeviceback_enter(be, next) || dev->state != next)
			return;""",
        "		mydeviceback_enter(be, next);",
    )
    result = verify(bad)
    assert_found(result, 5, r"more than 64 xenstore accesses")
    assert any("xenstore write fails" in s.move for s in result.findings[5].steps)


def test_finds_a_probe_error_path_that_leaks(tree: Path, tmp_path: Path) -> None:
    bad = plant(
        tree,
        tmp_path,
        BACK,
        "	dev_set_drvdata(&dev->dev, be);\n",
        """	dev_set_drvdata(&dev->dev, be);
	err = xenbus_printf(XBT_NIL, dev->nodename, "feature-x", "%d", 1);
	if (err)
		return err;
""",
    )
    assert_found(verify(bad), 4, r"leak: 1 allocation")


def test_asan_reports_a_use_after_free(tree: Path, tmp_path: Path) -> None:
    bad = plant(
        tree,
        tmp_path,
        BACK,
        """		device_unregister(&dev->dev);
		break;""",
        """		device_unregister(&dev->dev);
		be->connected = false;
		break;""",
    )
    result = verify(bad)
    assert_found(result, 4, r"use-after-poison|use-after-free")
    assert any("AddressSanitizer" in line for line in result.findings[4].sanitizer)


def test_a_smaller_bound_misses_what_a_larger_one_finds(tree: Path, tmp_path: Path) -> None:
    """The bounds mean something: the rebind bug needs two environment moves."""
    assert 3 not in verify(FIXTURE_010, Bounds(env=1, hostile=0, faults=0)).findings
    assert 3 in verify(FIXTURE_010, Bounds(env=2, hostile=0, faults=0)).findings


# --------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_report(runner: CliRunner, tree: Path, tmp_path: Path) -> None:
    ok = runner.invoke(app, ["verify", str(tree), "--dot", str(tmp_path / "g.dot")])
    assert ok.exit_code == 0, ok.output
    for number, (name, _) in PROPERTIES.items():
        assert f"PASS ({number}) {name}" in ok.stdout
    assert re.search(r"explored \d+ states and \d+ transitions in [\d.]+ s", ok.stdout)
    dot = (tmp_path / "g.dot").read_text()
    assert dot.startswith("digraph") and "frontend Connected" in dot
    if shutil.which("dot"):
        assert (tmp_path / "g.svg").read_text().lstrip().startswith(("<?xml", "<svg"))

    bad = runner.invoke(app, ["verify", str(FIXTURE_010), "--hostile", "0", "--faults", "0"])
    assert bad.exit_code == 1
    assert "FAIL (3) rebind" in bad.stdout
    block = bad.stdout[bad.stdout.index("property (3)") :]
    block = block.split("\nproperty (", 1)[0]
    schedule = tmp_path / "schedule.txt"
    schedule.write_text(block)
    again = runner.invoke(
        app,
        ["verify", str(FIXTURE_010), "--hostile", "0", "--faults", "0", "--replay", str(schedule)],
    )
    assert again.exit_code == 1, again.output
    assert "property (3) rebind violated" in again.stdout

    assert runner.invoke(app, ["verify", str(tmp_path / "nope")]).exit_code == 2
    assert runner.invoke(app, ["verify", str(tree), "--env", "-1"]).exit_code == 2
    assert (
        runner.invoke(app, ["verify", str(tree), "--replay", str(tmp_path / "no")]).exit_code == 2
    )

    broken = plant(tree, tmp_path / "broken", BACK, "	return 0;\n}", "	return 0\n}")
    failed = runner.invoke(app, ["verify", str(broken)])
    assert failed.exit_code == 3, failed.output
    assert "mydeviceback.c:" in failed.stderr


# --------------------------------------------------------------------------- the model's inputs


def test_toolstack_follows_the_scripts_writes_in_order() -> None:
    files = render(default_spec("mydevice"))
    fe, be = "/local/domain/1/device/mydevice/0", "/local/domain/0/backend/mydevice/1/0"
    ops = toolstack.extract(files["activate.sh"], "activate.sh", ["1"])
    writes = [op.args for op in ops if op.kind == "write"]
    assert writes == [
        (fe, ""), (f"{fe}/backend-id", "0"), (f"{fe}/backend", be),
        (be, ""), (f"{be}/frontend-id", "1"), (f"{be}/frontend", fe), (f"{be}/online", "1"),
        (f"{fe}/state", "1"), (f"{be}/state", "1"),
    ]  # fmt: skip
    assert [op.kind for op in ops][:2] == ["absent", "no-stale-backend"]
    ops = toolstack.extract(files["deactivate.sh"], "deactivate.sh", ["1"])
    assert [(op.kind, op.args) for op in ops] == [
        ("skip-if-done", ("5",)),
        ("write", (f"{be}/online", "0")),
        ("write", (f"{be}/state", "5")),
        ("wait-closed", ()),
        ("rm", (be,)),
        ("rm", (fe,)),
    ]


def test_generated_readme_shows_both_state_machines() -> None:
    readme = render(default_spec("mydevice"))["README.md"]
    assert readme.count("```mermaid\nstateDiagram-v2") == 2
    assert "xbgen verify" in readme
