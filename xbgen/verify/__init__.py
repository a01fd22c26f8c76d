"""``xbgen verify``: model-check the emitted drivers over every interleaving.

The tree's C is compiled unchanged, with AddressSanitizer and UBSan, against
a simulation of the kernel's xenbus, grant-table and event-channel API
(``sim/``, one file per kernel file it models), and the explorer
(``sim/explore.c``) walks every configuration within the bounds; then the
properties are checked on the whole graph and each violation is replayed
into its shortest schedule.

Pipeline, one module a step: :mod:`.sources` (the tree's C, the
configuration) -> :mod:`.compiler` (compile, cached by content) ->
:mod:`.explore` (run the explorer) -> :mod:`.model` (the graph, the
properties) -> :mod:`.schedule` (replays, counterexamples) ->
:mod:`.report` (text, Graphviz).  :mod:`.toolstack` reads the scripts'
xenstore steps; :mod:`.results` holds the types.
"""

from __future__ import annotations

from . import model, toolstack
from .compiler import Model, build
from .explore import verify
from .model import PROPERTIES
from .results import KERNELS, Bounds, Counterexample, Replay, Step, VerifyError, VerifyResult
from .schedule import replay

__all__ = [
    "KERNELS",
    "PROPERTIES",
    "Bounds",
    "Counterexample",
    "Model",
    "Replay",
    "Step",
    "VerifyError",
    "VerifyResult",
    "build",
    "model",
    "replay",
    "toolstack",
    "verify",
]
