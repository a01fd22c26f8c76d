"""`xbgen verify`: the model checker finds each planted protocol bug with a
shortest schedule that replays to the violation, and passes the generated
drivers on every spec option (but `on_invalid_state = "bug"`, which a guest
can turn into a dom0 crash).

Handshake-only trees (`default_spec(name, ring=False)`) carry the xenbus
protocol bugs; ring trees (the default spec) the grant, event-channel, work
and lock bugs.  Each check compiles the emitted C unchanged with gcc +
ASan/UBSan (cached by content under ~/.cache/xbgen/verify) and explores from
a few 10k states (handshake, or a ring with small bounds) to a few 100k (a
ring with the default bounds).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS, REPO, all_option_specs
from typer.testing import CliRunner

import xbgen.verify as verify_module
from xbgen.check import FAKE_INCLUDE, check_c, feature_defines
from xbgen.cli import app
from xbgen.errors import UsageError
from xbgen.generate import generate
from xbgen.render import render
from xbgen.spec import STARTER_RING, Spec, default_spec
from xbgen.verify import KERNELS, PROPERTIES, Bounds, VerifyResult, replay, toolstack, verify
from xbgen.verify.report import format_counterexample

FIXTURE_010 = REPO / "tests" / "fixtures" / "mydevice-0.1.0"
#: The ring tree before issue 15: its backend cancels the request work from
#: the xenbus watch callback (see its NOTE).
FIXTURE_RING_15 = REPO / "tests" / "fixtures" / "mydevice-ring-before-15"
#: The ring tree before issue 16: its frontend has no `.resume` (see its NOTE).
FIXTURE_RING_16 = REPO / "tests" / "fixtures" / "mydevice-ring-before-16"
SAVE = "xl save + xl restore of the guest (or xl migrate)"
CHECKPOINT = "xl save -c of the guest (checkpoint: suspend, cancelled)"
FRONT = "frontend/mydevicefront.c"
BACK = "backend/mydeviceback.c"
RING_FRONT = "frontend/mydevicefront_core.c"
RING_BACK = "backend/mydeviceback_core.c"
#: Enough for the planted ring bugs: one unbind, rmmod or deactivate.
SMALL = Bounds(env=1, hostile=0, faults=0)

# ----------------------------------------------------------------------- trees


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A handshake-only tree: `default_spec("mydevice", ring=False)`."""
    return generate(default_spec("mydevice", ring=False), tmp_path_factory.mktemp("hs")).tree


@pytest.fixture(scope="module")
def ring_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ring tree `xbgen new mydevice` writes (the default spec)."""
    return generate(default_spec("mydevice"), tmp_path_factory.mktemp("ring")).tree


def plant(tree: Path, tmp_path: Path, rel: str, old: str, new: str) -> Path:
    """A copy of ``tree`` with ``old`` replaced by ``new`` in one file."""
    copy = tmp_path / "mydevice"
    shutil.copytree(tree, copy)
    path = copy / rel
    text = path.read_text()
    assert old in text, f"the code to plant the bug in is not in {rel}"
    path.write_text(text.replace(old, new, 1))
    return copy


def plant_re(tree: Path, tmp_path: Path, rel: str, pattern: str, new: str) -> Path:
    """``plant`` with a regular expression (its first match), for code whose
    spelling may change around the line a bug is planted in."""
    copy = tmp_path / "mydevice"
    shutil.copytree(tree, copy)
    path = copy / rel
    text, count = re.subn(pattern, new, path.read_text(), count=1)
    assert count == 1, f"the code to plant the bug in is not in {rel}"
    path.write_text(text)
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
    assert prop in result.findings, (
        f"({prop}) {PROPERTIES[prop][0]} not found",
        {p: c.message for p, c in result.findings.items()},
    )
    example = result.findings[prop]
    assert re.search(words, example.message), example.message
    assert example.steps, "no schedule"
    printed = printed_schedule(result, prop)
    assert f"property ({prop}) {PROPERTIES[prop][0]} violated" in printed
    # the printed schedule, replayed from the text, reaches the same violation
    replayed = replay(result.tree, printed, result.bounds, result.kernel)
    # a deadlock (6) replays as the property whose goal it misses
    assert replayed.prop == prop or (prop == 6 and replayed.prop in (1, 2, 3)), (
        replayed.prop,
        replayed.message,
    )
    assert len(replayed.steps) == len(example.steps)


def findings(result: VerifyResult) -> dict[int, str]:
    return {p: c.message for p, c in result.findings.items()}


# --------------------------------------------------------------------------- passes


#: The default bounds without the save move: for plants that need no save.
NO_SAVE = Bounds(saves=0)


def test_handshake_tree_holds_every_property(tree: Path) -> None:
    result = timed("handshake spec", lambda: verify(tree))
    assert result.ok, findings(result)
    assert result.states > 1000 and result.transitions > result.states
    assert not result.limited


def test_ring_tree_holds_every_property(ring_tree: Path) -> None:
    """The default spec on the default bounds."""
    result = timed("default ring spec", lambda: verify(ring_tree))
    assert result.ok, findings(result)
    assert result.states > 10_000 and not result.limited
    # the model went where the ring lives: interrupts, work items, faults
    names = {result.graph.moves[m] for _, _, m in result.graph.edges}
    for move in (
        "a domU program calls the frontend",
        "domU program runs",
        "domU interrupt",
        "dom0 interrupt",
        "dom0 work item runs",
        "domU sends an event",
        "guest corrupts the ring",
        "domU allocation fails",
        "domU transaction conflicts (EAGAIN)",
        SAVE,
        CHECKPOINT,
    ):
        assert move in names, move


def test_ring_tree_on_the_5_10_kernel_api(ring_tree: Path) -> None:
    """alloc_pages_exact + xenbus_grant_ring, gnttab_end_foreign_access(ref, 0, page),
    the domid binding and an int-returning remove."""
    result = verify(ring_tree, SMALL, kernel="5.10")
    assert result.ok, findings(result)


def test_a_multi_page_ring_with_features(tmp_path: Path) -> None:
    spec = Spec.model_validate(
        {
            "name": "mydevice",
            "ring": {**STARTER_RING, "pages": 2, "selftest": False},
            "feature": [{"name": "flush"}, {"name": "barrier", "default": True}],
        }
    )
    tree = generate(spec, tmp_path / "out").tree
    result = verify(tree, SMALL)
    assert result.ok, findings(result)


def behaviour_specs() -> list[Spec]:
    """Every combination of the options that change what the drivers do; the
    license (which only changes a string) alternates between them."""
    specs = all_option_specs()
    licenses = sorted({s.license for s in specs})
    return [
        s
        for s in specs
        if s.license
        == licenses[(s.log_messages + (s.on_invalid_state == "bug") + bool(s.backend_domid)) % 2]
    ]


@pytest.mark.parametrize(
    "spec",
    behaviour_specs(),
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
        assert result.ok, findings(result)


# --------------------------------------------------------------------------- planted bugs


@pytest.fixture(scope="module")
def result_010() -> VerifyResult:
    """The 0.1.0 tree, explored once for the tests below (it spins: 160k states)."""
    return timed(
        "0.1.0 tree", lambda: verify(FIXTURE_010, Bounds(env=2, hostile=0, faults=0, saves=0))
    )


def test_finds_the_010_rebind_bug(result_010: VerifyResult) -> None:
    """The 0.1.0 templates' default tree: a frontend rebind leaves both ends
    Closed, "connected as well" is printed while closed, and the backend
    set_state loop spins on a failed switch."""
    assert_found(result_010, 3, r"not Connected \(frontend Closed \| backend Closed\)")
    moves = [step.move for step in result_010.findings[3].steps]
    assert "unbind frontend" in moves or "unbind backend" in moves
    assert_found(result_010, 7, r"connected as well")
    spins = verify(FIXTURE_010, Bounds(env=0, hostile=0, faults=1))
    assert_found(spins, 5, r"more than 64 xenstore accesses")


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
        "\tif (gone)\n\t\tdevice_unregister(&dev->dev);\n",
        "\tif (gone) {\n\t\tdevice_unregister(&dev->dev);\n\t\tbe->connected = false;\n\t}\n",
    )
    result = verify(bad)
    assert_found(result, 4, r"use-after-poison|use-after-free")
    assert any("AddressSanitizer" in line for line in result.findings[4].sanitizer)


def test_a_smaller_bound_misses_what_a_larger_one_finds(result_010: VerifyResult) -> None:
    """The bounds mean something: the rebind bug needs two environment moves."""
    assert 3 not in verify(FIXTURE_010, Bounds(env=1, hostile=0, faults=0, saves=0)).findings
    assert 3 in result_010.findings


# --------------------------------------------------------------------------- planted ring bugs


def test_finds_a_frontend_that_never_ends_its_grants(ring_tree: Path, tmp_path: Path) -> None:
    bad = plant(
        ring_tree,
        tmp_path,
        RING_FRONT,
        "\t\tgnttab_end_foreign_access(info->ring_ref[i], virt_to_page(page));\n",
        "\t\t;\n",
    )
    assert_found(
        verify(bad, SMALL), 8, r"leak: 1 grant\(s\) of the frontend \(grant 8\) still granted"
    )


def test_finds_a_work_item_that_eois_before_the_irq_is_known(
    ring_tree: Path, tmp_path: Path
) -> None:
    """Binding raises an event at once (Xen does): the work it queues may run
    before connect() stored the irq, and must not EOI irq 0 (found on Xen)."""
    bad = plant(
        ring_tree,
        tmp_path,
        RING_BACK,
        "\tif (smp_load_acquire(&conn->ready) && !READ_ONCE(conn->stopping) &&\n",
        "\tif (!READ_ONCE(conn->stopping) &&\n",
    )
    result = verify(bad, SMALL)
    assert_found(result, 8, r"sends an EOI for irq 0, which is not bound")
    moves = [step.move for step in result.findings[8].steps]
    assert moves[-2:] == ["dom0 interrupt", "dom0 work item runs"], moves


def test_finds_a_ring_whose_ends_never_notify(ring_tree: Path, tmp_path: Path) -> None:
    """xenbus_setup_ring() hands back zeroed pages: without SHARED_RING_INIT() the
    event indexes stay 0, no response is ever signalled and a call times out
    with both ends Connected (found on Xen)."""
    bad = plant(ring_tree, tmp_path, RING_FRONT, "\tSHARED_RING_INIT(sring);\n", "")
    result = verify(bad, SMALL)
    assert_found(result, 9, r"returned -110 \(-ETIMEDOUT: no answer, both ends Connected\)")
    moves = [step.move for step in result.findings[9].steps]
    assert "a domU program calls the frontend" in moves and moves[-1] == "a wait times out"


def test_finds_a_probe_that_brings_a_removed_directory_back(
    ring_tree: Path, tmp_path: Path
) -> None:
    """Without the state check in its transaction, the backend's probe writes
    max-ring-page-order after the toolstack removed the device: the directory
    comes back for good (found by this model in the first ring templates)."""
    bad = plant(
        ring_tree,
        tmp_path,
        RING_BACK,
        '\tif (xenbus_scanf(xbt, dev->nodename, "state", "%d", &state) != 1) {\n'
        "\t\txenbus_transaction_end(xbt, 1);\n"
        "\t\treturn -ENODEV;\t\t/* unplugged meanwhile */\n"
        "\t}\n",
        "",
    )
    result = verify(bad, SMALL)
    assert_found(result, 2, r"deactivate.sh finished but a device directory is still there")
    moves = [step.move for step in result.findings[2].steps]
    assert "deactivate.sh" in moves


def test_finds_a_backend_that_unmaps_twice(ring_tree: Path, tmp_path: Path) -> None:
    unmap = "\txenbus_unmap_ring_vfree(conn->dev, conn->ring.sring);\n"
    bad = plant(ring_tree, tmp_path, RING_BACK, unmap, unmap + unmap)
    assert_found(verify(bad, SMALL), 8, r"unmaps a ring, which it has not mapped")


def test_finds_a_backend_that_never_unbinds_its_irq(ring_tree: Path, tmp_path: Path) -> None:
    bad = plant(
        ring_tree,
        tmp_path,
        RING_BACK,
        "\tunbind_from_irqhandler(conn->irq, conn);\n",
        "",
    )
    assert_found(verify(bad, SMALL), 8, r"leak: irq 32 of the backend \(event channel 1\)")


def test_finds_a_frontend_that_unbinds_under_its_spinlock(ring_tree: Path, tmp_path: Path) -> None:
    bad = plant(
        ring_tree,
        tmp_path,
        RING_FRONT,
        "\tspin_unlock_irq(&info->lock);\n\n\tif (info->connected)\n\t\tmydevicefront_release(info);\n",
        "\tif (info->connected)\n\t\tmydevicefront_release(info);\n\tspin_unlock_irq(&info->lock);\n",
    )
    assert_found(verify(bad, SMALL), 4, r"sleeps \(unbind_from_irqhandler\(\)\) while it holds")


def test_finds_a_debugfs_file_left_on_freed_data(ring_tree: Path, tmp_path: Path) -> None:
    bad = plant(ring_tree, tmp_path, RING_FRONT, "\tdebugfs_remove(info->debugfs);\n", "")
    assert_found(verify(bad, SMALL), 4, r"frees the data of debugfs file 'selftest'")


def test_finds_a_frontend_that_sends_its_callers_padding(ring_tree: Path, tmp_path: Path) -> None:
    """The guest program leaves garbage in the request's explicit padding (as a
    caller that sets fields one by one does): the frontend must zero it on the
    ring, or the backend's domain reads the guest's stack."""
    bad = plant(
        ring_tree,
        tmp_path,
        RING_FRONT,
        "\tmemset(ring_req->_pad0, 0, sizeof(ring_req->_pad0));\n",
        "",
    )
    result = verify(bad, Bounds(env=1, hostile=0, faults=0))
    assert_found(result, 4, r"receives request padding _pad0 that is not zero")


@pytest.mark.parametrize(
    ("side", "macro"),
    [(RING_BACK, "RING_FINAL_CHECK_FOR_REQUESTS"), (RING_FRONT, "RING_FINAL_CHECK_FOR_RESPONSES")],
    ids=["request", "response"],
)
def test_finds_a_lost_wakeup(ring_tree: Path, tmp_path: Path, side: str, macro: str) -> None:
    """Without RING_FINAL_CHECK_FOR_REQUESTS (or _RESPONSES) the consumer never
    moves its event index on: the second call's request (or response) raises
    no event, and the call times out with both ends Connected (the lost
    wake-up that stalled QubesDB).  Two calls, the default: one call cannot
    show it."""
    bad = plant_re(ring_tree, tmp_path, side, rf"{macro}\([^,]+, (\w+)\);", r"\1 = 0;")
    result = verify(bad, NO_SAVE)
    assert_found(result, 9, r"returned -110 \(-ETIMEDOUT: no answer, both ends Connected\)")
    moves = [step.move for step in result.findings[9].steps]
    assert moves.count("a domU program calls the frontend") == 2, moves


def test_finds_a_backend_that_only_a_timer_closes(ring_tree: Path, tmp_path: Path) -> None:
    """A backend that ignores the frontend's Closed stays Closing until deactivate.sh's
    grace period runs out and removes the device: every goal is met, but only
    because a timer fired (prompt)."""
    text = (ring_tree / RING_BACK).read_text()
    at = text.rindex("\tcase XenbusStateClosed:\n")  # the last one: where it follows the frontend
    bad = plant(
        ring_tree,
        tmp_path,
        RING_BACK,
        text[at:],
        "\tcase XenbusStateClosed:\n\t\tbreak;\t/* planted */\n"
        + text[at + len("\tcase XenbusStateClosed:\n") :],
    )
    result = verify(bad, NO_SAVE)
    assert_found(result, 10, r"grace period ends.*frontend Closed \| backend Closing")
    assert result.findings[10].steps[-1].move == "toolstack's grace period ends"


def test_finds_a_frontend_that_keeps_its_event_channel_once_closed(
    ring_tree: Path, tmp_path: Path
) -> None:
    """The frontend closes when the backend does, but keeps its irq and event
    channel bound (released): a Closed side holds nothing of the connection."""
    bad = plant(
        ring_tree,
        tmp_path,
        RING_FRONT,
        "\tunbind_from_irqhandler(info->irq, info);\n\tinfo->irq = 0;\n",
        "",
    )
    result = verify(bad, NO_SAVE)
    assert_found(
        result, 11, r"the frontend still has irq 32 \(event channel 1\) bound once it is Closed"
    )


def test_finds_xenwatch_waiting_for_a_sleeping_handler(tmp_path: Path) -> None:
    """The ring backend before issue 15 cancels its request work from the watch
    callback: dom0's one xenwatch thread waits for a user handler, which may
    sleep (xenwatch-free).  Its frontend also sent the caller's padding (safe):
    zeroed here, nothing else is wrong with it."""
    fixed = plant(
        FIXTURE_RING_15,
        tmp_path,
        "frontend/mydevicefront_core.c",
        "\tring_req->id = slot->id;\n",
        "\tring_req->id = slot->id;\n\tmemset(ring_req->_pad0, 0, sizeof(ring_req->_pad0));\n",
    )
    # (no save: that fixture has no .resume either, test_finds_the_resume_bug_before_issue_16)
    result = timed("ring tree before issue 15", lambda: verify(fixed, Bounds(saves=0)))
    assert list(result.findings) == [12], findings(result)
    assert_found(
        result,
        12,
        r"xenwatch callback\) sleeps in cancel_work_sync\(\) until the backend's work item "
        r"returns from mydeviceback_handle\(\)",
    )
    moves = [step.move for step in result.findings[12].steps]
    assert moves[-2:] == ["dom0 work item runs", "dom0 watch event"], moves


def test_finds_a_workqueue_rmmod_never_destroys(ring_tree: Path, tmp_path: Path) -> None:
    """The backend's requests run on a workqueue of its own: one that module exit
    never destroys is a leak of the module's (and the clean tree, which destroys
    it, holds every property: test_ring_tree_holds_every_property)."""
    exit_ = "\txenbus_unregister_driver(&mydeviceback_driver);\n"
    bad = plant(ring_tree, tmp_path, RING_BACK, exit_ + "\t/* Waits", exit_ + "\t/* Leaks")
    text = (bad / RING_BACK).read_text()
    (bad / RING_BACK).write_text(text.replace("\tdestroy_workqueue(mydeviceback_wq);\n}", "}"))
    assert_found(verify(bad, SMALL), 4, r"leak: 1 allocation\(s\) of the backend module live")


# ---------------------------------------------------------------- save / restore


def test_finds_the_resume_bug_before_issue_16() -> None:
    """`xl save` + `xl restore` (or `xl migrate`) of the guest: the core resets
    dev->state to Initialising and calls no `.resume` (the templates before
    issue 16 have none), so the frontend's InitWait branch connects again over
    the live connection: the old irq (its event channel gone with the old
    domain), ring page and grant leak, one of each per save.  78 moves: the
    activation, the save, the re-plug and the handshake after it."""
    result = timed(
        "ring tree before issue 16, one save",
        lambda: verify(FIXTURE_RING_16, Bounds(env=1, hostile=0, faults=0, saves=1)),
    )
    assert list(result.findings) == [8], findings(result)
    assert_found(
        result,
        8,
        r"leak: irq 32 of the frontend, bound before the save, is still bound once the "
        r"device is Connected again",
    )
    moves = [step.move for step in result.findings[8].steps]
    assert moves.count(SAVE) == 1 and CHECKPOINT not in moves, moves
    assert len(moves) <= 80, len(moves)
    # without the save move the same tree holds every property at these bounds
    assert verify(FIXTURE_RING_16, Bounds(env=1, hostile=0, faults=0, saves=0)).ok


def test_ring_tree_survives_a_save(ring_tree: Path) -> None:
    """The default spec with one save (or checkpoint) on small bounds: the
    call in flight fails or is answered once, nothing leaks, both ends are
    Connected again by themselves."""
    result = timed(
        "default ring spec, one save",
        lambda: verify(ring_tree, Bounds(env=2, hostile=0, faults=0, saves=1)),
    )
    assert result.ok, findings(result)
    names = {result.graph.moves[m] for _, _, m in result.graph.edges}
    assert SAVE in names and CHECKPOINT in names


def test_finds_a_resume_that_keeps_its_irq(ring_tree: Path, tmp_path: Path) -> None:
    """A `.resume` that forgets unbind_from_irqhandler(): the irq whose event
    channel went with the old domain stays bound next to the new one."""
    bad = plant_re(
        ring_tree,
        tmp_path,
        RING_FRONT,
        r"(inflight, \"[a-z ]+\"\);\n)\tmydevicefront_release\(info\);\n",
        r"\1\tinfo->irq = 0;\t/* planted: no unbind */\n\tmydevicefront_free_ring(info);\n"
        r"\tinfo->connected = false;\n",
    )
    result = verify(bad, Bounds(env=1, hostile=0, faults=0, saves=1))
    assert_found(
        result,
        8,
        r"leak: irq 32 of the frontend, bound before the save, is still bound once the "
        r"device is Connected again",
    )
    assert SAVE in [step.move for step in result.findings[8].steps]


def reissue_tree(tmp_path: Path) -> Path:
    """The default spec with `ring.on_resume = "reissue"`."""
    spec = Spec.model_validate(
        {"name": "mydevice", "ring": {**STARTER_RING, "on_resume": "reissue"}}
    )
    return generate(spec, tmp_path / "gen").tree


def test_reissue_tree_survives_a_save(tmp_path: Path) -> None:
    """`ring.on_resume = "reissue"` with one save: the call in flight is sent
    again and answered once, by itself (no timer)."""
    result = timed(
        "reissue ring spec, one save",
        lambda: verify(reissue_tree(tmp_path), Bounds(env=2, hostile=0, faults=0, saves=1)),
    )
    assert result.ok, findings(result)


def test_finds_a_reissue_of_answered_requests(tmp_path: Path) -> None:
    """`ring.on_resume = "reissue"` whose resend pushes every slot ever used
    again, answered ones included: the backend gets a request whose answer
    the caller already has (calls).  One call, then the save."""
    tree = reissue_tree(tmp_path)
    bad = plant(
        tree,
        tmp_path,
        RING_FRONT,
        "\t\t} else if (slot->state == MYDEVICEFRONT_SLOT_WAITING) {\n\t\t\tif (sent == size) {",
        "\t\t} else if (slot->id) {\t/* planted: every slot ever used */\n"
        "\t\t\tif (sent == size) {",
    )
    result = verify(bad, Bounds(env=2, hostile=0, faults=0, saves=1))
    assert_found(
        result,
        9,
        r"the backend receives request 0x10000 again after the guest program had its answer",
    )
    moves = [step.move for step in result.findings[9].steps]
    assert moves.index("a domU program calls the frontend") < moves.index(SAVE), moves


def test_the_new_kernel_apis_are_declared() -> None:
    """What the backend of issue 15 uses: its own workqueue, krefs, device
    references, release/acquire, killable waits with a timeout, rate-limited
    device messages."""
    source = """#include <linux/completion.h>
#include <linux/device.h>
#include <linux/kref.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <asm/barrier.h>

struct thing {
	struct kref kref;
	struct work_struct work;
	struct completion done;
	wait_queue_head_t wq;
	bool up;
};

static struct workqueue_struct *thing_wq;

static void thing_release(struct kref *kref)
{
	(void)kref;
}

static void thing_work(struct work_struct *work)
{
	(void)work;
}

int thing_use(struct thing *t, struct device *dev);

int thing_use(struct thing *t, struct device *dev)
{
	long left;

	thing_wq = alloc_workqueue("thing", WQ_MEM_RECLAIM, 0);
	if (!thing_wq)
		return -12;
	kref_init(&t->kref);
	kref_get(&t->kref);
	get_device(dev);
	INIT_WORK(&t->work, thing_work);
	queue_work(thing_wq, &t->work);
	flush_workqueue(thing_wq);
	smp_store_release(&t->up, true);
	left = wait_event_killable_timeout(t->wq, smp_load_acquire(&t->up), 10 * HZ);
	if (!left)
		left = wait_for_completion_killable_timeout(&t->done, 10 * HZ);
	if (fatal_signal_pending(current))
		return -4;
	dev_info_ratelimited(dev, "left %ld\\n", left);
	dev_err_ratelimited(dev, "oops\\n");
	put_device(dev);
	kref_put(&t->kref, thing_release);
	destroy_workqueue(thing_wq);
	return 0;
}
"""
    assert check_c(source, "thing.c") == []


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

    bounds = ["--env", "1", "--hostile", "0", "--faults", "0"]
    bad = runner.invoke(app, ["verify", str(FIXTURE_010), *bounds])
    assert bad.exit_code == 1
    assert "FAIL (7) honest-log" in bad.stdout
    block = bad.stdout[bad.stdout.index("property (7)") :]
    block = block.split("\nproperty (", 1)[0]
    schedule = tmp_path / "schedule.txt"
    schedule.write_text(block)
    again = runner.invoke(app, ["verify", str(FIXTURE_010), *bounds, "--replay", str(schedule)])
    assert again.exit_code == 1, again.output
    assert "property (7) honest-log violated" in again.stdout

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


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_the_simulation_compiles_without_warnings(kernel: str, tmp_path: Path) -> None:
    sim = Path(verify_module.__file__).parent / "sim"
    flags = ["-std=gnu11", "-O1", "-Wall", "-Werror", "-DXBGEN_SIM", "-I", str(FAKE_INCLUDE)]
    for source, extra in (
        ("sim.c", ["-DXBGEN_SIM_HOST", *feature_defines(KERNELS[kernel])]),
        ("explore.c", []),
    ):
        cmd = ["gcc", *flags, *extra, "-I", str(sim), "-c", str(sim / source)]
        proc = subprocess.run([*cmd, "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


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
    assert [(op.kind, op.args) for op in ops][:2] == [
        ("absent", (fe, be)), ("no-stale-backend", ("0",)),
    ]  # fmt: skip
    assert toolstack.assumed_waits(ops) == []
    ops = toolstack.extract(files["deactivate.sh"], "deactivate.sh", ["1"])
    assert [(op.kind, op.args) for op in ops] == [
        ("skip-if-done", ("5",)),
        ("write", (f"{be}/online", "0")),
        ("write", (f"{be}/state", "5")),
        ("wait-closed", ()),
        ("rm", (be,)),
        ("rm", (fe,)),
    ]


def test_toolstack_of_a_driver_domain() -> None:
    """backend_domid = 5: the paths under dom5, no stale-device wait in the
    script (it runs in dom0), so the model assumes it; the loop that makes the
    directories above the backend's is not a step."""
    files = render(Spec(name="mydevice", backend_domid=5))
    be = "/local/domain/5/backend/mydevice/1/0"
    ops = toolstack.extract(files["activate.sh"], "activate.sh", ["1"])
    assert ("no-stale-backend", ("5",)) in [(op.kind, op.args) for op in ops]
    assert toolstack.assumed_waits(ops) == ["5"]
    writes = [op.args[0] for op in ops if op.kind == "write"]
    assert writes[0] == "/local/domain/1/device/mydevice/0"
    assert all(w.startswith(("/local/domain/1/device/mydevice/0", be)) for w in writes), writes
    config = toolstack.config_lines(ops, [])
    assert "activate 2 no-stale-backend" in config


def test_verify_says_what_it_assumes_for_a_driver_domain(tmp_path: Path) -> None:
    spec = Spec.model_validate({"name": "mydevice", "backend_domid": 5})
    tree = generate(spec, tmp_path / "out").tree
    said: list[str] = []
    result = verify(tree, Bounds(env=0, hostile=0, faults=0), progress=said.append)
    assert result.ok, findings(result)
    notes = [line for line in said if line.startswith("note:")]
    assert len(notes) == 1 and "cannot see dom5's devices" in notes[0], said


def test_generated_readme_shows_both_state_machines() -> None:
    readme = render(default_spec("mydevice"))["README.md"]
    assert readme.count("```mermaid\nstateDiagram-v2") == 2
    assert "xbgen verify" in readme


# --------------------------------------------------------------------------- buffers


#: A ring whose calls carry a buffer both ways, checksummed (issue 17).
BUFFER_RING = {
    **STARTER_RING,
    "response": {**STARTER_RING["response"], "sum": "u32"},
    "buffer": {"max": "64KiB", "direction": "both"},
}


@pytest.fixture(scope="module")
def buffer_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = Spec.model_validate({"name": "mydevice", "ring": BUFFER_RING})
    return generate(spec, tmp_path_factory.mktemp("buffer")).tree


def test_buffer_tree_holds_every_property(buffer_tree: Path) -> None:
    """The guest program's call carries a buffer of two segments; the grants
    of each call end once it is answered or failed, on every schedule."""
    result = timed(
        "buffer ring, both ways",
        lambda: verify(buffer_tree, Bounds(env=2, hostile=0, faults=0, saves=0)),
    )
    assert result.ok, findings(result)


def test_indirect_buffer_tree_holds_every_property(tmp_path: Path) -> None:
    """128KiB: the segments go in an indirect page the backend copies once."""
    ring = {**BUFFER_RING, "buffer": {"max": "128KiB", "direction": "both"}}
    tree = generate(Spec.model_validate({"name": "mydevice", "ring": ring}), tmp_path / "g").tree
    assert "buf_indirect[1]" in (tree / "include" / "mydevice_ring.h").read_text()
    result = timed(
        "buffer ring, indirect",
        lambda: verify(tree, Bounds(env=2, hostile=0, faults=0, saves=0)),
    )
    assert result.ok, findings(result)


def test_buffer_tree_survives_a_save(tmp_path: Path) -> None:
    """With on_resume = "reissue" a call in flight at the save is sent again,
    its buffer's references granted anew to the new domain's backend."""
    ring = {
        **BUFFER_RING,
        "on_resume": "reissue",
        "buffer": {"max": "64KiB", "direction": "to_backend"},
    }
    tree = generate(Spec.model_validate({"name": "mydevice", "ring": ring}), tmp_path / "g").tree
    result = timed(
        "buffer ring, reissue, one save",
        lambda: verify(tree, Bounds(env=1, hostile=0, faults=0, saves=1)),
    )
    assert result.ok, findings(result)


#: The same calls by persistent grants (transfer = "map").
MAP_RING = {**BUFFER_RING, "buffer": {"max": "64KiB", "direction": "both", "transfer": "map"}}


@pytest.fixture(scope="module")
def map_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = Spec.model_validate({"name": "mydevice", "ring": MAP_RING})
    return generate(spec, tmp_path_factory.mktemp("map")).tree


def test_map_tree_holds_every_property(map_tree: Path) -> None:
    """The backend maps each page of a call's buffer once and keeps it; the
    frontend's pool of grants ends with the connection, the backend's
    mappings go with it, on every schedule."""
    result = timed(
        "buffer ring by persistent grants",
        lambda: verify(map_tree, Bounds(env=2, hostile=0, faults=0, saves=0)),
    )
    assert result.ok, findings(result)


def test_map_tree_survives_a_save(tmp_path: Path) -> None:
    """A call in flight at a save is sent again: its persistent grants are
    granted anew to the new domain's backend; the pool's others end."""
    ring = {**MAP_RING, "on_resume": "reissue",
            "buffer": {"max": "64KiB", "direction": "to_backend", "transfer": "map"}}  # fmt: skip
    tree = generate(Spec.model_validate({"name": "mydevice", "ring": ring}), tmp_path / "g").tree
    result = timed(
        "buffer ring by persistent grants, reissue, one save",
        lambda: verify(tree, Bounds(env=1, hostile=0, faults=0, saves=1)),
    )
    assert result.ok, findings(result)


def test_finds_a_backend_that_keeps_its_persistent_grants(map_tree: Path, tmp_path: Path) -> None:
    bad = plant(map_tree, tmp_path, RING_BACK, "\tmydeviceback_pgrants_release(conn);\n", "")
    result = verify(bad, Bounds(env=2, hostile=0, faults=0, saves=0))
    assert_found(result, 11, r"the backend still maps 1 ring\(s\) or page\(s\) of the other domain")


def test_finds_a_frontend_whose_pool_outlives_the_connection(
    map_tree: Path, tmp_path: Path
) -> None:
    bad = plant(
        map_tree, tmp_path, RING_FRONT, "\tmydevicefront_pgrants_end(info);\n", ""
    )  # fmt: skip
    result = verify(bad, Bounds(env=2, hostile=0, faults=0, saves=0))
    assert_found(result, 11, r"the frontend still grants")


def test_finds_a_buffer_whose_grants_never_end(buffer_tree: Path, tmp_path: Path) -> None:
    bad = plant(
        buffer_tree,
        tmp_path,
        RING_FRONT,
        "\tfor (i = 0; i < b->nr_segs; i++)\n"
        "\t\tmydevicefront_end_grant(b->gref[i], b->pages[i / XEN_PFN_PER_PAGE]);\n",
        "",
    )
    # a call, then deactivate.sh: two environment moves
    result = verify(bad, Bounds(env=2, hostile=0, faults=0, saves=0))
    assert_found(result, 11, r"the frontend still grants 2 page\(s\) \(grant 9\) once it is Closed")


def test_finds_a_buffer_granted_read_only_that_the_backend_must_write(
    buffer_tree: Path, tmp_path: Path
) -> None:
    """The backend writes its answer into the buffer: a read-only grant makes
    the copy fail, and the call ends in -EFAULT on a legal schedule."""
    bad = plant(
        buffer_tree,
        tmp_path,
        RING_FRONT,
        "\tconst bool readonly = false;\n\tstruct mydevicefront_buf *b;",
        "\tconst bool readonly = true;\t/* planted */\n\tstruct mydevicefront_buf *b;",
    )
    assert_found(verify(bad, SMALL), 9, r"returned -14")


def test_finds_a_frontend_whose_segments_pass_their_page(buffer_tree: Path, tmp_path: Path) -> None:
    """The backend checks every segment before it copies: one that runs past
    its page cuts the frontend off, which on a legal schedule is a bug."""
    bad = plant(
        buffer_tree,
        tmp_path,
        RING_FRONT,
        "\t\treq->buf_seg[i].offset = 0;\n",
        "\t\treq->buf_seg[i].offset = 16;\t/* planted: past the page with len */\n",
    )
    assert_found(verify(bad, SMALL), 4, r"segment 0: 4096 bytes at 16 pass its page")


def test_a_map_buffer_too_large_for_the_model_is_refused_with_the_reason(tmp_path: Path) -> None:
    ring = {**MAP_RING, "buffer": {"max": "128KiB", "direction": "both", "transfer": "map"}}
    tree = generate(Spec.model_validate({"name": "mydevice", "ring": ring}), tmp_path / "g").tree
    with pytest.raises(UsageError, match=r"128KiB with transfer = 'map'; the model holds those "):
        verify(tree, SMALL)


def test_a_buffer_too_large_for_the_model_is_refused_with_the_reason(tmp_path: Path) -> None:
    ring = {**BUFFER_RING, "buffer": {"max": "4MiB", "direction": "both"}}
    tree = generate(Spec.model_validate({"name": "mydevice", "ring": ring}), tmp_path / "g").tree
    with pytest.raises(
        UsageError, match=r"ring.buffer.max is 4096KiB; the model holds buffers up to 256KiB"
    ):
        verify(tree, SMALL)
