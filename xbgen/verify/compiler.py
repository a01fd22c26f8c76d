"""Compiling a model: the simulation (once per kernel API) and a tree's
drivers linked with it (once per tree), both cached by content under
``~/.cache/xbgen/verify``; and running the compiled model."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from xbgen.cache import cache_dir
from xbgen.check import FAKE_INCLUDE, feature_defines
from xbgen.errors import ToolMissingError, UsageError

from .results import DEFAULT_KERNEL, KERNELS, Progress, VerifyError
from .sources import config_lines, sim_dir, sim_files, tree_sources

CFLAGS = (
    "-std=gnu11",
    "-O1",
    "-g",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-DXBGEN_SIM",
)
#: The simulation's own C (tests/test_verify.py holds it to -Werror), optimised
#: further than the drivers: the explorer spends most of its time in it
#: (hashing, saving and restoring configurations), where -O2 inlines the
#: small helpers that -O1 leaves as calls.
SIM_CFLAGS = ("-Wall", "-O2")
#: The explorer's own bookkeeping (explore.c: the queue, the table of
#: configurations, the records it prints) touches no driver memory: the
#: sanitizers check the drivers and the simulated kernel API, not it.
EXPLORER_CFLAGS = ("-fno-sanitize=all",)
#: Gathers the drivers' static variables (each in its own section, by
#: -fdata-sections) between two symbols, so a configuration's snapshot holds
#: them as it holds the heap; the sanitizers' own data (``..L`` sections, ODR
#: indicators) goes elsewhere.
DRIVER_CFLAGS = ("-fdata-sections", "-fno-common")
LINKER_SCRIPT = """SECTIONS
{
  .xbgen_sanitizers : { *xbgen-drv-*.o(*..L* .bss.__odr_asan*) }
  .xbgen_drivers : ALIGN(64)
  {
    __xbgen_drivers_start = .;
    *xbgen-drv-*.o(.data .data.* .bss .bss.* COMMON)
    . = ALIGN(64);
    __xbgen_drivers_end = .;
  }
}
INSERT AFTER .data;
"""
#: The pipe the explorer writes its records into (Linux's default is 64 KiB).
PIPE_SIZE = 1 << 20
SANITIZER_ENV = {
    # a small quarantine keeps the explorer's memory to what it holds (its
    # snapshots are packed into chunks; the drivers' memory is the simulation's own)
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=3:quarantine_size_mb=8",
    # UBSan cannot reach the simulation's death callback: it aborts instead
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:abort_on_error=1",
}

#: A ring tree's guest program: one call of NAMEfront_call(), made while the
#: frontend's user hooks say calls may be made (the linker wraps them).
CALLER = """// SPDX-License-Identifier: GPL-2.0-only
/* xbgen verify: a program in the guest that calls {front}_call(). */
#include <linux/string.h>

#include "{front}.h"

void xbgen_sim_user_up(void *fdev);
void xbgen_sim_user_down(void *fdev);
void xbgen_sim_answered(unsigned long long id);
void xbgen_sim_bad_length(unsigned long got);
int __real_{front}_user_connect(struct {front}_device *fdev);
void __real_{front}_user_disconnect(struct {front}_device *fdev);

int __wrap_{front}_user_connect(struct {front}_device *fdev)
{{
	int err = __real_{front}_user_connect(fdev);

	if (!err)
		xbgen_sim_user_up(fdev);
	return err;
}}

void __wrap_{front}_user_disconnect(struct {front}_device *fdev)
{{
	xbgen_sim_user_down(fdev);
	__real_{front}_user_disconnect(fdev);
}}

int xbgen_sim_call(void *fdev)
{{
	struct {name}_request req;
	struct {name}_response rsp;
{decls}	int err;

	memset(&req, 0, sizeof(req));
	/* a caller that sets fields one by one leaves garbage in the padding */
{fill_pads}{call}
	/* the answer names its request: the backend must not get that one again */
	if (!err)
		xbgen_sim_answered(rsp.id);
	return err;
}}
"""

#: A ring tree's backend handler, wrapped: the user's NAMEback_handle() may
#: sleep, and the model makes it sleep once per call (sched.c).
HANDLER = """// SPDX-License-Identifier: GPL-2.0-only
/* xbgen verify: {back}_handle() sleeps, as a user handler may. */
#include <linux/string.h>

#include "{back}.h"

void xbgen_sim_handler_enter(void);
void xbgen_sim_handler_leave(void);
void xbgen_sim_request(unsigned long long id);
void __real_{back}_handle({params});

void xbgen_sim_padding_leak(const char *field);

void __wrap_{back}_handle({params})
{{
{check_pads}	xbgen_sim_request(req->id);
	xbgen_sim_handler_enter();
	__real_{back}_handle({args});
	xbgen_sim_handler_leave();
}}
"""


#: The guest program's call: without a buffer, or with one of two segments
#: (a page and a byte) that goes to the backend, and comes back if it can.
_CALLS = {
    None: ("", "\terr = {front}_call(fdev, &req, &rsp);\n"),
    "send": (
        "\tu8 data[XEN_PAGE_SIZE + 1];\n",
        "\tmemset(data, 0x5a, sizeof(data));\n"
        "\terr = {front}_call_buf(fdev, &req, data, sizeof(data), &rsp);\n",
    ),
    "reply": (
        "\tu8 data[XEN_PAGE_SIZE + 1];\n\tsize_t got;\n",
        "\tmemset(data, 0x5a, sizeof(data));\n"
        "\terr = {front}_call_buf(fdev, &req, data, sizeof(data), &rsp, &got);\n"
        "\tif (!err && got > sizeof(data))\n\t\txbgen_sim_bad_length(got);\n",
    ),
}


@dataclass
class Model:
    """A compiled model of one tree."""

    binary: Path
    config: Path
    name: str

    def run(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the model's ``explore`` or ``replay`` with the sanitizers' options."""
        return subprocess.run(
            [str(self.binary), str(self.config), command, *args],
            capture_output=True,
            text=True,
            env={**os.environ, **SANITIZER_ENV},
        )

    @contextlib.contextmanager
    def stream(self, command: str, *args: str) -> Iterator[Streamed]:
        """Run the model, its output read line by line while it runs.

        The caller parses the lines as they come (on the other core), not
        after the last one; stderr goes to a file (a sanitizer's report is
        read once the model has stopped).
        """
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(
                [str(self.binary), str(self.config), command, *args],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1 << 16,
                env={**os.environ, **SANITIZER_ENV},
            )
            with contextlib.suppress(AttributeError, OSError):
                # room for bursts of records: the explorer need not wait for the parser
                fcntl.fcntl(proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)  # type: ignore[union-attr]
            streamed = Streamed(proc, err)
            try:
                yield streamed
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.stdout.close()  # type: ignore[union-attr]
                proc.wait()


class Streamed:
    """A running model: its stdout's lines, then its exit code and stderr."""

    def __init__(self, proc: subprocess.Popen[str], err: IO[str]) -> None:
        self._proc = proc
        self._err = err
        self.returncode = 0
        self.stderr = ""

    def lines(self) -> Iterator[str]:
        """Each line of stdout without its newline; then the exit code and stderr are set."""
        for line in self._proc.stdout:  # type: ignore[union-attr]
            yield line[:-1] if line.endswith("\n") else line
        self.returncode = self._proc.wait()
        self._err.seek(0)
        self.stderr = self._err.read()


def features(kernel: str) -> list[str]:
    """The -D flags of the kernel API ``kernel`` (one of `KERNELS`)."""
    if kernel not in KERNELS:
        raise UsageError(f"kernel {kernel!r}: choose one of {', '.join(KERNELS)}")
    return feature_defines(KERNELS[kernel])


def _compile(gcc: str, units: list[tuple[Path, Path, list[str]]]) -> None:
    """Compile (source, object, flags) units in parallel."""
    procs = []
    for path, obj, extra in units:
        cmd = [gcc, *CFLAGS, *extra, "-c", str(path), "-o", str(obj)]
        procs.append((path, subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)))
    failed = []
    for path, proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            failed.append(f"compiling {path} for the model failed:\n{err.strip()}")
    if failed:
        raise VerifyError(failed[0])


def _cached(folder: Path, make: Callable[[Path], None]) -> Path:
    """``folder``, made by ``make`` in a temporary folder renamed into place."""
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=folder.parent))
    try:
        make(work)
        with contextlib.suppress(OSError):  # made meanwhile by another run
            work.rename(folder)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _simulation(gcc: str, defines: list[str], progress: Progress | None) -> Path:
    """The simulation's objects (sim.o, explore.o) for a kernel API, shared by all trees.

    sim.c is a unity build: it includes the parts (sim/*.c, sim/kernel/*.c),
    so the compiler sees them as one file.  Measured with callgrind on the
    ring tree (env 1): the parts as separate units cost 12% more
    instructions than the unity build, and linked into one object with
    -flto (at -O1) 13% more; LTO at each tree's link would instead redo the
    simulation's code generation (about 3 s of CPU with the sanitizers) for
    every tree, where this object is compiled once per kernel API and
    cached.  The unity build also keeps the helpers the parts share static:
    none of their names meets a name of the drivers' at the link.
    """
    sim = sim_dir()
    digest = hashlib.sha256(" ".join((*CFLAGS, *SIM_CFLAGS, *EXPLORER_CFLAGS, *defines)).encode())
    for path in sorted([*sim_files(), *FAKE_INCLUDE.rglob("*.h")]):
        digest.update(str(path.relative_to(path.parent.parent)).encode())
        digest.update(path.read_bytes())

    def make(work: Path) -> None:
        if progress:
            progress("compiling the xenbus simulation")
        host = [*SIM_CFLAGS, "-I", str(FAKE_INCLUDE), "-I", str(sim)]
        explorer = [*SIM_CFLAGS, *EXPLORER_CFLAGS, "-I", str(sim)]
        _compile(
            gcc,
            [
                (sim / "sim.c", work / "sim.o", [*host, "-DXBGEN_SIM_HOST", *defines]),
                (sim / "explore.c", work / "explore.o", explorer),
            ],
        )

    return _cached(cache_dir() / "verify" / f"sim-{digest.hexdigest()[:20]}", make)


def build(tree: Path, progress: Progress | None = None, kernel: str = DEFAULT_KERNEL) -> Model:
    """Compile the tree's drivers with the simulation (both cached by content).

    `kernel` picks the kernel API the drivers are compiled for (`KERNELS`).
    """
    src = tree_sources(tree)
    defines = features(kernel)
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ToolMissingError("gcc not found: install gcc (Debian: apt-get install gcc)")
    objects = _simulation(gcc, defines, progress)
    config = "\n".join(config_lines(tree, src.name)) + "\n"
    digest = hashlib.sha256(str(objects).encode())
    for path in (*src.front, *src.back, *src.headers):
        digest.update(str(path.relative_to(tree)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for part in (
        config,
        " ".join((*CFLAGS, *DRIVER_CFLAGS, *defines)),
        LINKER_SCRIPT,
        CALLER,
        HANDLER,
    ):
        digest.update(part.encode())
        digest.update(b"\0")

    def make(work: Path) -> None:
        if progress:
            names = ", ".join(path.name for path in (*src.front, *src.back))
            progress(f"compiling {names} with the xenbus simulation")
        (work / "config").write_text(config)
        (work / "drivers.lds").write_text(LINKER_SCRIPT)
        units: list[tuple[Path, Path, list[str]]] = []
        wraps: list[str] = []
        for role, files in (("front", src.front), ("back", src.back)):
            flags = [
                *DRIVER_CFLAGS,
                "-nostdinc",
                "-D__KERNEL__",
                f'-DKBUILD_MODNAME="{src.name}{role}"',
                f"-DXBGEN_SIM_ROLE={role}",
                *defines,
                "-I",
                str(tree / f"{role}end"),
                "-I",
                str(tree / "include"),
                "-I",
                str(FAKE_INCLUDE),
            ]
            units += [(path, work / f"xbgen-drv-{role}-{path.stem}.o", flags) for path in files]
            if role == "front" and src.ring:
                caller = work / "xbgen-call.c"
                front = f"{src.name}front"
                fill = "".join(
                    f"\tmemset(req.{pad}, 0xa5, sizeof(req.{pad}));\n"
                    for pad in src.request_padding()
                )
                decls, call = _CALLS[src.buffer_call()]
                caller.write_text(
                    CALLER.format(
                        front=front,
                        name=src.name,
                        fill_pads=fill,
                        decls=decls,
                        call=call.format(front=front),
                    )
                )
                units.append((caller, work / "xbgen-drv-front-call.o", flags))
                wraps = [f"-Wl,--wrap={front}_user_connect,--wrap={front}_user_disconnect"]
            if role == "back" and src.ring:
                handler = work / "xbgen-handle.c"
                back = f"{src.name}back"
                check = "".join(
                    f"\tif (memchr_inv(req->{pad}, 0, sizeof(req->{pad})))\n"
                    f'\t\txbgen_sim_padding_leak("{pad}");\n'
                    for pad in src.request_padding()
                )
                params = (
                    f"struct {back}_device *bdev, const struct {src.name}_request *req, "
                    f"struct {src.name}_response *rsp"
                )
                args = "bdev, req, rsp"
                if src.buffer_call():
                    params += f", struct {back}_buf *buf"
                    args += ", buf"
                handler.write_text(
                    HANDLER.format(
                        back=back, name=src.name, check_pads=check, params=params, args=args
                    )
                )
                units.append((handler, work / "xbgen-drv-back-handle.o", flags))
                wraps.append(f"-Wl,--wrap={back}_handle")
        _compile(gcc, units)
        objs = [str(obj) for _, obj, _ in units]
        objs += [str(objects / "sim.o"), str(objects / "explore.o")]
        link = subprocess.run(
            [
                gcc,
                *CFLAGS,
                *objs,
                *wraps,
                f"-Wl,-T,{work / 'drivers.lds'}",
                "-o",
                str(work / "explore"),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        if link.returncode:
            raise VerifyError(f"linking the model failed:\n{link.stderr.strip()}")
        for _, obj, _ in units:
            obj.unlink()

    folder = _cached(cache_dir() / "verify" / digest.hexdigest()[:20], make)
    return Model(folder / "explore", folder / "config", src.name)
