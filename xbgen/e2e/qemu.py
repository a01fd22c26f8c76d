"""Boot Xen + Linux under QEMU with a hard timeout and a saved serial log."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from xbgen.errors import E2EError, ToolMissingError, UsageError

QEMU = "qemu-system-x86_64"
QEMU_ARM = "qemu-system-aarch64"
DEBUG_EXIT_PORT = 0xF4
#: isa-debug-exit makes QEMU exit with ``(value << 1) | 1``.
EXIT_PASS = (0x10 << 1) | 1
EXIT_FAIL = (0x20 << 1) | 1
#: smap=0: under TCG dom0 faults at once in create_bounce_frame with SMAP on.
#: dom0_max_vcpus=1 dom0_vcpus_pin (and the guest pinned to CPU 1): whenever Xen
#: switches one physical CPU between vCPUs of different domains under TCG, user
#: processes in both domains crash now and then (segfaults reading TLS, malloc
#: corruption). One vCPU per physical CPU never switches and never crashed.
XEN_CMDLINE = (
    "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 dom0_vcpus_pin "
    "loglvl=all guest_loglvl=all smap=0 pcid=0 noreboot"
)
LINUX_CMDLINE = "console=hvc0 earlyprintk=xen ignore_loglevel"
#: Xen on Arm: its console on the device tree's UART (the virt board's
#: PL011); one dom0 vCPU pinned as on x86.  No isa-debug-exit there: dom0's
#: poweroff reaches QEMU through Xen's PSCI SYSTEM_OFF, so QEMU exits 0.
XEN_ARM_CMDLINE = (
    "console=dtuart dom0_mem=1024M,max:1024M dom0_max_vcpus=1 dom0_vcpus_pin "
    "loglvl=all guest_loglvl=all"
)
LINUX_ARM_CMDLINE = "console=hvc0 ignore_loglevel"
#: Where QEMU's guest-loader puts dom0's kernel (Xen finds it, and the
#: initramfs put after it, through the device tree QEMU writes): past Xen,
#: which -kernel loads at the start of RAM (0x40000000 on the virt board).
ARM_KERNEL_ADDR = 0x49000000
ARM_ALIGN = 2 << 20


@dataclass(frozen=True)
class BootResult:
    """What one QEMU run produced."""

    returncode: int
    timed_out: bool
    seconds: float
    serial_log: Path
    #: QEMU's exit status when dom0 says PASS: isa-debug-exit's on x86; on
    #: Arm QEMU exits 0 on any poweroff, so the console's PASS line decides.
    pass_code: int = EXIT_PASS

    @property
    def exit_pass(self) -> bool:
        return not self.timed_out and self.returncode == self.pass_code


def choose_accel(accel: str) -> str:
    """``auto`` means KVM only when the CPU exposes vmx/svm (Xen needs nested VT)."""
    if accel not in ("auto", "tcg", "kvm"):
        raise UsageError(f"unknown accelerator {accel!r}: use auto, tcg or kvm")
    usable = _has_nested_virt() and os.access("/dev/kvm", os.R_OK | os.W_OK)
    if accel == "kvm" and not usable:
        raise E2EError(
            "--accel kvm needs /dev/kvm and vmx or svm in /proc/cpuinfo (Xen runs its guests "
            "with hardware virtualization); this machine has none: use --accel tcg"
        )
    if accel != "auto":
        return accel
    return "kvm" if usable else "tcg"


def accel_for(arch: str, accel: str) -> str:
    """QEMU's accelerator for a boot of ``arch`` (:func:`choose_accel` on x86)."""
    return choose_accel(accel) if arch == "amd64" else arm_accel(accel)


def arm_accel(accel: str) -> str:
    """Xen on Arm boots under TCG: this host's KVM (if any) runs x86 only."""
    if accel not in ("auto", "tcg", "kvm"):
        raise UsageError(f"unknown accelerator {accel!r}: use auto, tcg or kvm")
    if accel == "kvm":
        raise UsageError("--accel kvm: an arm64 run boots under QEMU's TCG (use auto or tcg)")
    return "tcg"


def _has_nested_virt() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(re.search(rf"^flags\s*:.*\b{flag}\b", flags, re.M) for flag in ("vmx", "svm"))


#: The CPU QEMU's TCG emulates for a run with a PVH guest: AMD SVM with
#: nested paging, so Xen has HAP (Debian's bookworm Xen has no shadow paging,
#: the other way to page an HVM/PVH guest).  ``max`` and ``EPYC`` with SVM
#: crash Xen under TCG, and SVM without ``npt`` gives no HAP; this one also
#: boots the PV dom0.
HVM_CPU = "qemu64,+svm,+npt"
#: The CPU for runs with PV guests only.
PV_CPU = "max,-smap,-fsgsbase"


def _usable(binary: str, package: str, paths: tuple[Path, ...], bad: str, taker: str) -> None:
    """``binary`` is installed and no path in ``paths`` holds a character of
    ``bad``, which ``taker`` cannot take in a file name."""
    if shutil.which(binary) is None:
        raise ToolMissingError(f"{binary} is needed: apt-get install {package}")
    for path in paths:
        found = [f"'{c}'" for c in bad if c in str(path)]
        if found:
            raise E2EError(f"path {path} contains {' or '.join(found)}, which {taker} cannot take")


def qemu_command(
    xen: Path,
    kernel: Path,
    initrd: Path,
    accel: str,
    memory_mb: int = 2048,
    cpus: int = 2,
    *,
    hvm: bool = False,
) -> list[str]:
    """QEMU's command line for x86; ``hvm``: a guest runs in hardware
    virtualization (PVH)."""
    _usable(QEMU, "qemu-system-x86", (xen, kernel, initrd), ", ", "QEMU's multiboot")
    tcg_cpu = HVM_CPU if hvm else PV_CPU
    cpu = tcg_cpu if accel == "tcg" else "host"
    return [
        QEMU, "-accel", accel, "-cpu", cpu, "-m", str(memory_mb), "-smp", str(cpus),
        "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", "none",
        "-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04",
        "-kernel", str(xen), "-append", XEN_CMDLINE,
        "-initrd", f"{kernel} {LINUX_CMDLINE},{initrd}",
    ]  # fmt: skip


#: The Arm CPU: Cortex-A57 (its 4 KiB granule is all a 4 KiB-page kernel
#: needs); the 16 KiB-page kernel needs the 16 KiB granule, which the A57
#: does not implement and QEMU's ``max`` does.
ARM_CPU = "cortex-a57"
ARM_CPU_16K = "max"


def arm_command(
    xen: Path,
    kernel: Path,
    initrd: Path,
    memory_mb: int = 2048,
    cpus: int = 2,
    cpu: str = ARM_CPU,
) -> list[str]:
    """QEMU's command line for Xen on Arm (arm64): the virt board with EL2
    (virtualization=on) and GICv3, Cortex-A57s under TCG; Xen is the
    -kernel, dom0's kernel and initramfs come by ``guest-loader`` devices
    (QEMU names them in the device tree's /chosen, where Xen looks)."""
    _usable(QEMU_ARM, "qemu-system-arm", (xen, kernel, initrd), ",", "QEMU's -device options")
    initrd_addr = _align(ARM_KERNEL_ADDR + kernel.stat().st_size + ARM_ALIGN)
    return [
        QEMU_ARM, "-accel", "tcg", "-machine", "virt,virtualization=on,gic-version=3",
        "-cpu", cpu, "-m", str(memory_mb), "-smp", str(cpus),
        "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", "none",
        "-kernel", str(xen), "-append", XEN_ARM_CMDLINE,
        "-device", f"guest-loader,addr={ARM_KERNEL_ADDR:#x},kernel={kernel},"
                   f"bootargs={LINUX_ARM_CMDLINE}",
        "-device", f"guest-loader,addr={initrd_addr:#x},initrd={initrd}",
    ]  # fmt: skip


def _align(addr: int) -> int:
    return (addr + ARM_ALIGN - 1) & ~(ARM_ALIGN - 1)


def command_for(
    arch: str, xen: Path, kernel: Path, initrd: Path, accel: str, cpus: int, *, hvm: bool = False
) -> tuple[list[str], int]:
    """(QEMU's command line, its exit status on PASS) for a boot of kernel
    flavour ``arch`` (:data:`xbgen.kernels.ARCHES`)."""
    if arch.startswith("arm64"):
        cpu = ARM_CPU_16K if arch == "arm64-16k" else ARM_CPU
        return arm_command(xen, kernel, initrd, cpus=cpus, cpu=cpu), 0
    return qemu_command(xen, kernel, initrd, accel, cpus=cpus, hvm=hvm), EXIT_PASS


def boot(
    cmd: list[str], serial_log: Path, timeout: float, on_line=None, pass_code: int = EXIT_PASS
) -> BootResult:
    """Run QEMU, tee its serial console into ``serial_log``, kill it after ``timeout``."""
    serial_log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with serial_log.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        timed_out = _pump(proc, log, start + timeout, on_line)
    seconds = time.monotonic() - start
    return BootResult(proc.returncode, timed_out, seconds, serial_log, pass_code)


def _pump(proc: subprocess.Popen[bytes], log, deadline: float, on_line) -> bool:
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    pending = b""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _kill(proc)
                return True
            if not sel.select(timeout=min(left, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            log.write(chunk)
            log.flush()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            if on_line:
                for line in lines:
                    on_line(line.decode(errors="replace").rstrip("\r"))
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        return False
    except subprocess.TimeoutExpired:
        _kill(proc)
        return True
    finally:
        sel.close()
        if proc.poll() is None:
            _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
