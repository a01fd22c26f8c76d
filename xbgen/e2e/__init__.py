"""``xbgen e2e``: boot Xen + Linux in QEMU and prove a generated driver connects.

:func:`run` takes a driver tree and a :class:`Scenario` and returns an
:class:`E2EResult`, or raises :class:`E2EFailed` (carrying it) when anything
failed; it prints nothing (progress goes to a callback).  One module a job:

- :mod:`.scenario`   what a run boots and proves, and its checks
- :mod:`.pipeline`   the run, step by step
- :mod:`.assets`     Xen and the kernel, from Debian's packages
- :mod:`.driver`     the tree's modules, built against the release's headers
- :mod:`.images`     the dom0 and guest initramfs (``init/``: their scripts)
- :mod:`.initramfs`  the cpio archive format
- :mod:`.qemu`       the boot under a timeout, the serial log
- :mod:`.live`       the console while it boots: progress, marker times
- :mod:`.report`     the serial log read back: steps, states, figures, verdict
- :mod:`.result`     the outcome and its printed report
"""

from __future__ import annotations

from .assets import DEFAULT_RELEASE
from .live import Progress
from .pipeline import run
from .result import E2EFailed, E2EResult, format_result
from .scenario import Scenario, line_of, release_of

__all__ = [
    "DEFAULT_RELEASE",
    "E2EFailed",
    "E2EResult",
    "Progress",
    "Scenario",
    "format_result",
    "line_of",
    "release_of",
    "run",
]
