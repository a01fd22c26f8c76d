"""The `xbgen` command line: a thin layer over the library.

Every command maps :class:`~xbgen.errors.XbgenError` to a one-line message on
stderr and its exit code (0 ok, 1 failure, 2 bad usage or bad spec, 3 check
failed); no traceback is shown for a user error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .console import err_console, escape, out_console, print_lines, progress, user_errors
from .console import report as _report
from .errors import EXIT_CHECK, UsageError, XbgenError

app = typer.Typer(
    name="xbgen",
    help="Generate Linux kernel split drivers for Xen (frontend + backend) and prove they work.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="Output folder; the tree goes to OUT/NAME/.")
]
ForceOption = Annotated[
    bool, typer.Option("--force", "-f", help="Replace an existing spec file or generated tree.")
]
ArchOption = Annotated[
    str | None,
    typer.Option(
        "--arch",
        metavar="ARCH",
        help="Debian kernel flavour: amd64 (default), arm64, or arm64-16k (16 KiB pages; "
        "6.12 and 7.2 only); arm64 ones are cross-built.",
    ),
]


def _version(value: bool) -> None:
    if value:
        out_console.print(f"xbgen {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            metavar="URL",
            envvar="XBGEN_DEBIAN_MIRROR",
            help="Debian archive for kernel headers and boot images "
            "(default: the one in this machine's apt sources).",
        ),
    ] = None,
) -> None:
    """Generate Linux kernel split drivers for Xen and prove they work."""
    if mirror:
        from .debian import use_mirror

        with user_errors():
            try:
                use_mirror(mirror)
            except XbgenError as error:
                raise UsageError(error.message) from None


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="Device type, e.g. mydevice.")],
    out: OutOption = Path("out"),
    force: ForceOption = False,
) -> None:
    """Write NAME.toml (a commented starter spec) and render it into OUT/NAME/."""
    from .generate import new as generate_new

    with user_errors():
        _report(generate_new(name, out, force), "rendered")


@app.command()
def render(
    spec: Annotated[Path, typer.Argument(help="Spec file (TOML).")],
    out: OutOption = Path("out"),
    force: ForceOption = False,
) -> None:
    """Render an edited spec into OUT/NAME/ (checked before anything is written)."""
    from .generate import render_file

    with user_errors():
        _report(render_file(spec, out, force), "rendered")


@app.command()
def check(
    paths: Annotated[
        list[Path],
        typer.Argument(help="C files or generated trees.", exists=True, readable=True),
    ],
) -> None:
    """Preprocess, parse and inspect emitted C; report file:line:col: message."""
    from .check import check_paths

    with user_errors():
        problems = check_paths(paths)
    for problem in problems:
        err_console.print(escape(str(problem)))
    if problems:
        err_console.print(f"[bold red]check failed:[/] {len(problems)} problem(s)")
        raise typer.Exit(EXIT_CHECK)
    out_console.print(f"check passed: {', '.join(str(p) for p in paths)}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec file."""
    from .spec import json_schema

    out_console.print_json(json.dumps(json_schema()))


@app.command()
def build(
    tree: Annotated[Path, typer.Argument(help="Driver tree written by `xbgen new`.")],
    kdir: Annotated[
        Path | None,
        typer.Option("--kdir", help="Kernel build tree (default /lib/modules/$(uname -r)/build)."),
    ] = None,
    kernel: Annotated[
        str | None,
        typer.Option(
            "--kernel", help="Debian kernel line 5.10, 6.1, 6.12 or 7.2 (fetched if needed)."
        ),
    ] = None,
    werror: Annotated[bool, typer.Option("--werror", help="Fail on warnings too.")] = False,
    arch: ArchOption = None,
) -> None:
    """Build both modules with real make; report warnings/errors as file:line: message.

    --arch alone builds against Debian's 6.1 headers of that arch.
    """
    from . import build as kbuild
    from .report import build_lines, diagnostic_lines

    with user_errors():
        if kdir is not None and (kernel is not None or arch is not None):
            raise UsageError("give --kdir or --kernel/--arch, not both")
        if not (tree / "Makefile").is_file():
            raise UsageError(f"{tree}: not a generated driver tree (no Makefile); see `xbgen new`")
        try:
            result = kbuild.run(tree, kdir, kernel, werror=werror, progress=progress, arch=arch)
        except kbuild.BuildFailedError as failed:
            if not werror:  # under --werror the error itself lists the warnings
                print_lines(diagnostic_lines(failed.result.warnings))
            raise
    print_lines(build_lines(result))


@app.command()
def package(
    tree: Annotated[Path, typer.Argument(help="Driver tree written by `xbgen new` (OUT/NAME).")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the .deb (default: the current one).")
    ] = Path(),
) -> None:
    """Build the Debian DKMS package NAME-dkms_VERSION-1_all.deb and print its path."""
    from .package import build_package

    with user_errors():
        deb = build_package(tree, out)
    out_console.print(escape(str(deb)))


kernels_app = typer.Typer(
    help="Kernel build trees from Debian's packages, for `xbgen build --kernel`.",
    no_args_is_help=True,
)
app.add_typer(kernels_app, name="kernels")


@kernels_app.command("fetch")
def kernels_fetch(
    lines: Annotated[
        list[str] | None, typer.Argument(help="Kernel lines: 5.10 6.1 6.12 7.2, or all.")
    ] = None,
    arch: ArchOption = None,
) -> None:
    """Download and unpack kernel headers (cached in ~/.cache/xbgen/kernels)."""
    from . import kernels
    from .report import kernel_lines

    with user_errors():
        fetched = kernels.fetch_lines(lines or [], progress, arch=arch or kernels.DEFAULT_ARCH)
    print_lines(kernel_lines(fetched))


@kernels_app.command("list")
def kernels_list() -> None:
    """Show every supported kernel line and arch, and its cached build tree."""
    from . import kernels
    from .report import kernel_lines

    with user_errors():
        cached = kernels.status()
    print_lines(kernel_lines(cached))


@app.command()
def verify(
    tree: Annotated[Path, typer.Argument(help="Driver tree written by `xbgen new` (OUT/NAME).")],
    env: Annotated[
        int,
        typer.Option(
            "--env",
            help="Environment moves per schedule: unbind, bind, rmmod, insmod, deactivate, "
            "destroy, re-activate (loading each module once and the first activate are free).",
        ),
    ] = 2,
    hostile: Annotated[
        int, typer.Option("--hostile", help="Writes of any value into the guest's state node.")
    ] = 1,
    faults: Annotated[
        int, typer.Option("--faults", help="Failed xenstore writes or allocations.")
    ] = 1,
    steps: Annotated[
        int, typer.Option("--steps", help="xenstore accesses one callback may make.")
    ] = 64,
    calls: Annotated[
        int,
        typer.Option(
            "--calls",
            help="Calls of NAMEfront_call() by a guest program, one after the other (ring "
            "trees; each is an environment move).",
        ),
    ] = 2,
    saves: Annotated[
        int,
        typer.Option(
            "--saves",
            help="xl save + restore (or migrate), or xl save -c, of the guest (each is an "
            "environment move).",
        ),
    ] = 1,
    max_states: Annotated[
        int, typer.Option("--max-states", help="Stop (incomplete, exit 1) after this many.")
    ] = 4_000_000,
    dot: Annotated[
        Path | None,
        typer.Option("--dot", help="Write the state graph (Graphviz; FILE.svg too with dot)."),
    ] = None,
    replay_file: Annotated[
        Path | None,
        typer.Option(
            "--replay", help="Replay a schedule as printed by a failed run (- for stdin)."
        ),
    ] = None,
) -> None:
    """Model-check the tree's drivers over every interleaving (exit 1 on a violation)."""
    import sys

    from . import verify as model_check
    from .verify import report

    with user_errors():
        for value, flag in (
            (env, "--env"),
            (hostile, "--hostile"),
            (faults, "--faults"),
            (calls, "--calls"),
            (saves, "--saves"),
        ):
            if value < 0:
                raise UsageError(f"{flag} must be 0 or more")
        if steps < 1 or max_states < 1:
            raise UsageError("--steps and --max-states must be at least 1")
        bounds = model_check.Bounds(
            env=env,
            hostile=hostile,
            faults=faults,
            steps=steps,
            max_states=max_states,
            calls=calls,
            saves=saves,
        )
        if replay_file is not None:
            if str(replay_file) == "-":
                text = sys.stdin.read()
            elif replay_file.is_file():
                text = replay_file.read_text()
            else:
                raise UsageError(f"{replay_file}: no such schedule file")
            replayed = model_check.replay(tree, text, bounds)
            out_console.print(escape(report.format_replay(replayed)))
            raise typer.Exit(1 if replayed.prop is not None else 0)
        result = model_check.verify(tree, bounds, progress=lambda m: err_console.print(escape(m)))
        out_console.print(escape(report.format_result(result)))
        if dot is not None:
            for path in report.write_dot(result, dot):
                out_console.print(f"wrote {path}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def e2e(
    tree: Annotated[Path, typer.Argument(help="Driver tree written by `xbgen new` (OUT/NAME).")],
    cycles: Annotated[
        int, typer.Option("--cycles", help="dom0-only rounds; each runs all three load orders.")
    ] = 1,
    guest: Annotated[
        bool,
        typer.Option(
            "--guest/--no-guest", help="Stage 2: a PV guest (xl create) runs the frontend."
        ),
    ] = True,
    accel: Annotated[
        str, typer.Option("--accel", help="auto (KVM only if the CPU shows vmx/svm), tcg or kvm.")
    ] = "auto",
    keep_logs: Annotated[
        Path | None,
        typer.Option(
            "--keep-logs", help="Folder for the serial logs (default ~/.cache/xbgen/e2e/logs)."
        ),
    ] = None,
    requests: Annotated[
        int,
        typer.Option(
            "--requests",
            help="Ring trees: self-test requests at each depth (1 and 32 in flight).",
        ),
    ] = 10_000,
    ring_cycles: Annotated[
        int,
        typer.Option(
            "--ring-cycles",
            help="Ring trees: unplug/plug cycles of the guest's device, self-test after each.",
        ),
    ] = 20,
    lifecycle: Annotated[
        bool,
        typer.Option(
            "--lifecycle/--no-lifecycle",
            help="Stage 3's save/restore, checkpoint, local migration (where Xen can), "
            "reboot and shutdown of the guest, each followed by the re-plug.",
        ),
    ] = True,
    saves: Annotated[
        int, typer.Option("--saves", help="Lifecycle: save/restore rounds before the others.")
    ] = 2,
    release: Annotated[
        str,
        typer.Option(
            "--release",
            metavar="RELEASE",
            help="Debian release for dom0 and the guest, its own Xen and kernel: bullseye, "
            "bookworm, trixie, sid (or the kernel line: 5.10, 6.1, 6.12, 7.2).",
        ),
    ] = "bookworm",
    guest_release: Annotated[
        list[str] | None,
        typer.Option(
            "--guest-release",
            metavar="RELEASE",
            help="Also boot a guest of this release (repeatable), its frontend built for "
            "its own kernel; all guests connect at once.",
        ),
    ] = None,
    arch: Annotated[
        str,
        typer.Option(
            "--arch",
            metavar="ARCH",
            help="amd64 (x86-64), arm64 (Xen on Arm under qemu-system-aarch64, dom0 "
            "and guests of that architecture, the modules cross-built for it) or "
            "arm64-16k (the same with 16 KiB Linux pages: --release trixie or sid).",
        ),
    ] = "amd64",
    guest_type: Annotated[
        str,
        typer.Option(
            "--guest-type",
            metavar="TYPE",
            help="The main guest's type: pv, or pvh (x86: QEMU then emulates AMD SVM "
            "with nested paging for Xen's HAP); --guest-release guests stay PV.",
        ),
    ] = "pv",
    driver_domain: Annotated[
        bool,
        typer.Option(
            "--driver-domain",
            help="Run the backend in a second PV guest, not dom0 (implied when the "
            "spec's backend_domid is not 0).",
        ),
    ] = False,
) -> None:
    """Boot Xen + Linux in QEMU, load the modules, watch them connect and close."""
    from . import e2e as e2e_run

    with user_errors():
        if not (tree / "activate.sh").is_file():
            raise UsageError(
                f"{tree}: not a generated driver tree (no activate.sh); see `xbgen new`"
            )
        scenario = e2e_run.Scenario(
            release=release,
            guest_releases=tuple(guest_release or ()),
            arch=arch,
            guest_type=guest_type,
            driver_domain=driver_domain,
            guest=guest,
            cycles=cycles,
            requests=requests,
            ring_cycles=ring_cycles,
            lifecycle=lifecycle,
            lifecycle_saves=saves,
        )
        try:
            result = e2e_run.run(
                tree,
                scenario,
                accel=accel,
                keep_logs=keep_logs,
                progress=progress,
            )
        except e2e_run.E2EFailed as failed:
            out_console.print(escape(failed.result.summary()))
            raise
    out_console.print(escape(result.summary()))


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
