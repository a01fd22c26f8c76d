"""A spec's values and what follows from them, without pydantic.

:mod:`xbgen.spec` validates spec files with pydantic models built on what is
here: the limits and tables, the check of a device name, the message layout
(:class:`Message`: explicit padding, identical on 32- and 64-bit guests, so
templates and tests share one answer) and what the templates derive from a
spec (:class:`SpecInfo`, :class:`RingInfo`).

:func:`starter` is the spec `xbgen new NAME` writes, as plain values that
render exactly as the validated model does (a test holds that): `xbgen new`
checks its one input, NAME, and never imports pydantic, whose import alone
would cost it more than rendering and checking the tree.
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import SpecError

#: ``struct xenbus_device_id.devicetype`` is ``char[32]``: 31 characters and a NUL.
MAX_NAME_LEN = 31

#: Largest domain id Xen hands out to a guest (DOMID_FIRST_RESERVED - 1).
MAX_DOMID = 0x7FEF

#: Device types that drivers in mainline Linux already bind to.
LINUX_DEVICE_TYPES = frozenset(
    {
        "vif",
        "vbd",
        "vkbd",
        "vfb",
        "pci",
        "vscsi",
        "vtpm",
        "9pfs",
        "pvcalls",
        "vsnd",
        "vdispl",
        "vusb",
        "console",
    }
)

C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for
    goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool
    _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local asm typeof bool
    true false nullptr alignas alignof constexpr static_assert thread_local""".split()
)

#: SPDX identifier -> the string MODULE_LICENSE() takes for it.  Only licenses
#: the kernel treats as GPL-compatible: the xenbus API is EXPORT_SYMBOL_GPL.
LICENSES: dict[str, str] = {
    "GPL-2.0-only": "GPL",
    "GPL-2.0-or-later": "GPL",
    "GPL-2.0-only OR MIT": "Dual MIT/GPL",
    "GPL-2.0-or-later OR MIT": "Dual MIT/GPL",
    "GPL-2.0-only OR BSD-2-Clause": "Dual BSD/GPL",
    "GPL-2.0-only OR BSD-3-Clause": "Dual BSD/GPL",
    "GPL-2.0-or-later OR BSD-3-Clause": "Dual BSD/GPL",
    "GPL-2.0-only OR MPL-1.1": "Dual MPL/GPL",
}

#: MODULE_LICENSE() spellings people write out of habit, and the SPDX id meant.
LICENSE_ALIASES: dict[str, str] = {
    "GPL": "GPL-2.0-only",
    "GPL v2": "GPL-2.0-only",
    "GPLv2": "GPL-2.0-only",
    "GPL-2.0": "GPL-2.0-only",
    "GPL-2.0+": "GPL-2.0-or-later",
    "Dual MIT/GPL": "GPL-2.0-only OR MIT",
    "Dual BSD/GPL": "GPL-2.0-only OR BSD-3-Clause",
    "Dual MPL/GPL": "GPL-2.0-only OR MPL-1.1",
}

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Sizes of the scalar types a message field may have.
SCALARS: dict[str, int] = {
    "u8": 1,
    "u16": 2,
    "u32": 4,
    "u64": 8,
    "s8": 1,
    "s16": 2,
    "s32": 4,
    "s64": 8,
}
FIELD_TYPE_RE = re.compile(r"^(?P<base>[us](?:8|16|32|64))(?:\[(?P<count>[0-9]+)\])?$")
FIELD_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Longest field name: room for the generated code's prefixes within 80 columns.
MAX_FIELD_NAME = 31
#: Largest array a field may be: one slot of a 16-page ring.
MAX_ARRAY = 4096
#: Names the generated message structs use themselves.
RESERVED_FIELDS = frozenset({"id"})
#: Ring sizes blkif-style multi-page negotiation allows (a power of two).
RING_PAGES = (1, 2, 4, 8, 16)
#: Xen's ring page size and the size of the shared ring's header
#: (req_prod, req_event, rsp_prod, rsp_event and 48 bytes of padding).
XEN_PAGE_SIZE = 4096
SRING_HEADER = 64
#: Longest device name whose ring driver stays within 100 columns.
RING_NAME_FITS = 20
#: Fewest request slots a ring must hold.
MIN_RING_SLOTS = 4
#: Bounds of [ring.buffer] max: one Xen page .. what 1024 segments carry.
BUFFER_MIN = XEN_PAGE_SIZE
BUFFER_MAX = 4 << 20
#: Segments a request carries in its slot; beyond, in indirect pages.
INLINE_SEGMENTS = 16
#: Segment descriptors (grant ref, offset, length: 8 bytes) in an indirect page.
SEGMENTS_PER_INDIRECT = XEN_PAGE_SIZE // 8
BUFFER_DIRECTIONS = ("to_backend", "from_backend", "both")
BUFFER_TRANSFERS = ("copy", "map")
#: The largest buffer transfer = "map" takes: the backend keeps a mapping of
#: every page a whole buffer in each slot needs (blkback keeps at most 1056).
MAP_MAX = 256 << 10
_SIZE_RE = re.compile(r"^\s*(?P<n>[0-9]+)\s*(?P<unit>KiB|MiB)?\s*$")


def parse_size(value: str | int) -> int:
    """'64KiB', '4MiB' or a number of bytes; a ValueError says what is wrong."""
    if isinstance(value, int):
        return value
    m = _SIZE_RE.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a size: write bytes, 'NKiB' or 'NMiB' (e.g. '64KiB')")
    return int(m["n"]) << {"KiB": 10, "MiB": 20, None: 0}[m["unit"]]


def format_size(size: int) -> str:
    """The spelling the starter spec and the README use: '64KiB', '4MiB', '5000'."""
    if size % (1 << 20) == 0:
        return f"{size >> 20}MiB"
    if size % (1 << 10) == 0:
        return f"{size >> 10}KiB"
    return str(size)


#: Largest number of negotiated features.
MAX_FEATURES = 32

#: A Debian upstream version as xbgen accepts it: a digit first, then digits,
#: letters, '.', '+' and '~'.  No '-' (the package appends its own revision)
#: and no ':' (an epoch is not part of the upstream version).
VERSION_RE = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")
MAX_VERSION_LEN = 64

#: Where `xbgen package` installs activate.sh/deactivate.sh.
SCRIPTS = ("none", "sbin", "libexec")


def check_name(value: str) -> str:
    """NAME as a device type: a ValueError says what is wrong with it."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_NAME_LEN:
        raise ValueError(
            f"is {len(value)} characters long; at most {MAX_NAME_LEN} fit "
            "struct xenbus_device_id.devicetype"
        )
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a lower-case C identifier (start with a-z, then a-z, 0-9 or _)"
        )
    if value in C_KEYWORDS or keyword.iskeyword(value):
        raise ValueError(f"{value!r} is a C keyword")
    return value


class MessageField(NamedTuple):
    """One member of an emitted message struct (padding included)."""

    name: str
    base: str  # u8 .. s64
    count: int | None  # array length, None for a scalar
    offset: int
    pad: bool = False

    @property
    def size(self) -> int:
        return SCALARS[self.base] * (self.count or 1)

    @property
    def type(self) -> str:
        """The spec's spelling: 'u32', 'u8[16]'."""
        return self.base if self.count is None else f"{self.base}[{self.count}]"

    @property
    def declaration(self) -> str:
        """The C member declaration: 'u8 data[16]'."""
        suffix = "" if self.count is None else f"[{self.count}]"
        return f"{self.base} {self.name}{suffix}"


class Message(NamedTuple):
    """A laid-out message: members at their natural alignment, padded to 8 bytes.

    The id comes first; every field is placed at a multiple of its own size
    and the gaps are filled with explicit ``u8 _padN[]`` members, and the
    whole is padded to a multiple of 8.  So the layout does not depend on the
    ABI's alignment of u64 (4 on i386, 8 on x86_64): 32- and 64-bit guests
    see the same bytes.
    """

    fields: tuple[MessageField, ...]
    size: int

    @classmethod
    def layout(cls, declared: dict[str, str]) -> Message:
        out = [MessageField("id", "u64", None, 0)]
        offset, pads = 8, 0
        for name, spelled in declared.items():
            m = FIELD_TYPE_RE.match(spelled)
            assert m is not None, spelled
            base, count = m["base"], int(m["count"]) if m["count"] else None
            align = SCALARS[base]
            if offset % align:
                gap = align - offset % align
                out.append(MessageField(f"_pad{pads}", "u8", gap, offset, pad=True))
                pads, offset = pads + 1, offset + gap
            out.append(MessageField(name, base, count, offset))
            offset += SCALARS[base] * (count or 1)
        if offset % 8:
            gap = 8 - offset % 8
            out.append(MessageField(f"_pad{pads}", "u8", gap, offset, pad=True))
            offset += gap
        return cls(tuple(out), offset)

    @property
    def data_fields(self) -> tuple[MessageField, ...]:
        """The spec's own fields: no id, no padding."""
        return tuple(f for f in self.fields if not f.pad and f.name != "id")


def ring_slots(pages: int, entry_size: int) -> int:
    """Slots of a ring of `pages` pages, as __CONST_RING_SIZE computes them."""
    fit = (pages * XEN_PAGE_SIZE - SRING_HEADER) // entry_size
    return 1 << (fit.bit_length() - 1) if fit else 0


class BufferInfo:
    """What the templates derive from a [ring.buffer] table's values.

    A call's buffer travels as segments: (grant ref, offset, length), each
    within one Xen page.  Up to INLINE_SEGMENTS of them sit in the request
    itself; more go in indirect pages the frontend grants read-only, whose
    refs the request carries instead.
    """

    if TYPE_CHECKING:
        max: str | int
        direction: str
        transfer: str

    @property
    def max_bytes(self) -> int:
        return parse_size(self.max)

    @property
    def max_text(self) -> str:
        return format_size(self.max_bytes)

    @property
    def segments(self) -> int:
        """Segments of the largest buffer (the frontend fills whole pages)."""
        return -(-self.max_bytes // XEN_PAGE_SIZE)

    @property
    def indirect(self) -> bool:
        return self.segments > INLINE_SEGMENTS

    @property
    def indirect_pages(self) -> int:
        return -(-self.segments // SEGMENTS_PER_INDIRECT) if self.indirect else 0

    @property
    def to_backend(self) -> bool:
        return self.direction in ("to_backend", "both")

    @property
    def from_backend(self) -> bool:
        return self.direction in ("from_backend", "both")

    @property
    def request_extra(self) -> int:
        """Bytes the buffer adds to a request: len, counts, then segments or
        indirect refs (padded to 8)."""
        if self.indirect:
            return 8 + 4 * (self.indirect_pages + self.indirect_pages % 2)
        return 8 + 8 * self.segments

    @property
    def response_extra(self) -> int:
        """Bytes the buffer adds to a response: the length written back, padding."""
        return 8


class RingInfo:
    """What the templates derive from a [ring] table's values."""

    if TYPE_CHECKING:
        pages: int
        on_resume: str
        selftest: bool
        request: dict[str, str]
        response: dict[str, str]
        buffer: BufferInfo | None

    @property
    def request_message(self) -> Message:
        return Message.layout(self.request)

    @property
    def response_message(self) -> Message:
        return Message.layout(self.response)

    @property
    def request_size(self) -> int:
        extra = self.buffer.request_extra if self.buffer is not None else 0
        return self.request_message.size + extra

    @property
    def response_size(self) -> int:
        extra = self.buffer.response_extra if self.buffer is not None else 0
        return self.response_message.size + extra

    @property
    def entry_size(self) -> int:
        return max(self.request_size, self.response_size)

    @property
    def slots(self) -> int:
        return ring_slots(self.pages, self.entry_size)

    @property
    def max_order(self) -> int:
        return self.pages.bit_length() - 1

    @property
    def buffer_sum(self) -> bool:
        """Does the starter handler put the crc32 of what the frontend sent in
        a response field `sum` (u32, not echoed from the request)?"""
        if self.buffer is None or not self.buffer.to_backend or "sum" in self.echoed:
            return False
        return any(f.name == "sum" and f.type == "u32" for f in self.response_message.data_fields)

    @property
    def echoed(self) -> tuple[str, ...]:
        """Response fields the default handler copies from the request."""
        request = {f.name: f.type for f in self.request_message.data_fields}
        return tuple(
            f.name for f in self.response_message.data_fields if request.get(f.name) == f.type
        )


class SpecInfo:
    """What the templates and reports derive from a spec's values."""

    if TYPE_CHECKING:
        name: str
        description: str
        author: str
        license: str
        backend_domid: int
        devid: int
        log_messages: bool
        on_invalid_state: str
        version: str
        scripts: str
        ring: RingInfo | None
        feature: list[Any]

    @property
    def module_license(self) -> str:
        return LICENSES[self.license]

    @property
    def frontend_module(self) -> str:
        return f"{self.name}front"

    @property
    def backend_module(self) -> str:
        return f"{self.name}back"

    def warnings(self) -> list[str]:
        """Things that are valid but probably not what the user wants."""
        out = []
        if self.name in LINUX_DEVICE_TYPES:
            out.append(
                f"name: {self.name!r} is a device type Linux already drives; the in-tree "
                "driver may bind to these devices instead of yours"
            )
        if self.ring is not None and len(self.name) > RING_NAME_FITS:
            out.append(
                f"name: {self.name!r} is {len(self.name)} characters long; with a [ring] some "
                f"lines of the emitted C pass 100 columns beyond {RING_NAME_FITS} (checkpatch "
                "LONG_LINE)"
            )
        return out


#: The value of every key that has a default: the models' defaults, the starter's values.
SPEC_DEFAULTS: dict[str, Any] = {
    "description": "Xen split driver example",
    "author": "Your Name <you@example.com>",
    "license": "GPL-2.0-only",
    "backend_domid": 0,
    "devid": 0,
    "log_messages": True,
    "on_invalid_state": "warn",
    "version": "0.1.0",
    "scripts": "none",
}

#: The ring of the starter spec `xbgen new` writes.
STARTER_RING = {
    "pages": 1,
    "on_resume": "fail",
    "selftest": True,
    "request": {"op": "u32", "value": "u64", "data": "u8[16]"},
    "response": {"status": "s32", "value": "u64", "data": "u8[16]"},
}


class StarterRing(RingInfo):
    """STARTER_RING as plain values."""

    def __init__(self) -> None:
        vars(self).update(STARTER_RING, request={**STARTER_RING["request"]},
                          response={**STARTER_RING["response"]}, buffer=None)  # fmt: skip


class Starter(SpecInfo):
    """The starter spec as plain values (see :func:`starter`)."""

    def __init__(self, name: str, ring: bool) -> None:
        vars(self).update(SPEC_DEFAULTS, name=name, ring=StarterRing() if ring else None)
        self.feature: list[Any] = []


def starter(name: str, ring: bool = True) -> Starter:
    """The spec `xbgen new NAME` writes; a bad NAME is a SpecError.

    `ring=False` gives the handshake-only driver (no [ring] table).
    :func:`xbgen.spec.default_spec` is the same spec as a validated model.
    """
    try:
        check_name(name)
    except ValueError as exc:
        raise SpecError(f"NAME {name!r}: {exc}") from None
    return Starter(name, ring)
