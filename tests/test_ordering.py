"""What keeps the generated C right on weakly ordered CPUs (arm64) and with
Linux pages larger than Xen's (arm64 16/64 KiB): each value one CPU publishes
for another is read the way its writer publishes it, each such pairing says
so in a comment, and PAGE_SIZE appears only where Linux memory is counted.

x86 is strongly ordered and has 4 KiB pages, so neither a missing
release/acquire nor a Xen page counted as a Linux page shows in the x86
boots or in the model (xbgen verify runs each domain on one CPU, with
4 KiB pages): these tests read the rendered C instead.
"""

from __future__ import annotations

import re

import pytest

from xbgen.render import render
from xbgen.spec import Spec, default_spec

NAME = "mydevice"
FRONT = f"frontend/{NAME}front_core.c"
BACK = f"backend/{NAME}back_core.c"
RING_H = f"include/{NAME}_ring.h"


def _spec(**ring: object) -> Spec:
    base = default_spec(NAME).model_dump()
    features = ring.pop("feature", [])
    if "buffer" in ring:
        ring["response"] = {**base["ring"]["response"], "sum": "u32"}
    return Spec.model_validate({**base, "ring": {**base["ring"], **ring}, "feature": features})


#: Ring trees whose C differs where ordering and page sizes matter.
SPECS = {
    "default": lambda: default_spec(NAME),
    "features,pages=4": lambda: _spec(
        pages=4, feature=[{"name": "flush", "default": True}, {"name": "discard"}]
    ),
    "reissue,pages=16": lambda: _spec(pages=16, on_resume="reissue"),
    "copy,64KiB": lambda: _spec(buffer={"max": "64KiB", "direction": "both"}),
    "copy,4MiB,reissue": lambda: _spec(
        on_resume="reissue", buffer={"max": "4MiB", "direction": "from_backend"}
    ),
    "map,128KiB": lambda: _spec(buffer={"max": "128KiB", "direction": "both", "transfer": "map"}),
    "map,256KiB,reissue": lambda: _spec(
        on_resume="reissue",
        buffer={"max": "256KiB", "direction": "to_backend", "transfer": "map"},
    ),
}


@pytest.fixture(scope="module", params=list(SPECS))
def tree(request: pytest.FixtureRequest) -> dict[str, str]:
    return render(SPECS[request.param]())


def function(text: str, name: str) -> str:
    """The body of C function `name` in `text` (its definition, not a call)."""
    head = re.search(rf"^\w[^;{{]*\b{name}\([^;{{]*\)\n{{\n", text, re.M)
    assert head, f"no definition of {name}()"
    end = text.index("\n}\n", head.end())
    return text[head.end() : end]


def code(text: str) -> str:
    """`text` without its comments."""
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def comment_before(text: str, needle: str) -> str:
    """The comment that ends at most one line above the first `needle` in `text`."""
    at = text.index(needle)
    before = text[:at]
    end = before.rfind("*/")
    assert end != -1 and before[end:].count("\n") <= 2, f"no comment just above {needle!r}"
    return " ".join(before[before.rfind("/*", 0, end) : end].split())


# --------------------------------------------------------------------------- release/acquire

#: (what, file, field, the function that publishes, the one that reads, what
#: the release publishes, written before it).
RELEASE_ACQUIRE = [
    ("ready: the irq and ring, to the work", BACK, "conn->ready", "back_connect", "back_work",
     ["BACK_RING_ATTACH(&conn->ring", "conn->irq = err;"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "path", "field", "writer", "reader", "data"),
    RELEASE_ACQUIRE,
    ids=[pair[0].split(":")[0] for pair in RELEASE_ACQUIRE],
)
def test_release_and_acquire_pair(
    tree: dict[str, str],
    what: str,
    path: str,
    field: str,
    writer: str,
    reader: str,
    data: list[str],
) -> None:
    text = tree[path]
    store = f"smp_store_release(&{field}, true);"
    load = f"smp_load_acquire(&{field})"
    publish = function(text, f"{NAME}{writer}")
    read = function(text, f"{NAME}{reader}")
    assert store in publish, what
    assert load in read, what
    for item in data:
        # what the flag guards is written before the release
        assert -1 < publish.index(item) < publish.index(store), (what, item)
    # every other access would bypass the pairing
    plain = code(text)
    member = field.split("->")[1]
    assert len(re.findall(rf"->{member}\b", plain)) == 2, what
    assert plain.count(store) == plain.count(load) == 1, what
    # each end names the other
    assert f"{NAME}{reader}()" in comment_before(publish, store), what
    assert f"{NAME}{writer}()" in comment_before(read, load), what


# --------------------------------------------------------------------------- ring indexes

#: (file, the other end's producer index read by hand, the push it pairs with,
#: the function, how the slots are then read).
PRODUCERS = [
    (BACK, "conn->ring.sring->req_prod", "RING_PUSH_REQUESTS_AND_CHECK_NOTIFY", "back_process",
     "RING_COPY_REQUEST"),
    (FRONT, "info->ring.sring->rsp_prod", "RING_PUSH_RESPONSES_AND_CHECK_NOTIFY",
     "front_responses", "RING_COPY_RESPONSE"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "index", "push", "reader", "copy"),
    PRODUCERS,
    ids=["req_prod-to-backend", "rsp_prod-to-frontend"],
)
def test_a_producer_index_read_by_hand_is_followed_by_virt_rmb(
    tree: dict[str, str], path: str, index: str, push: str, reader: str, copy: str
) -> None:
    body = function(tree[path], f"{NAME}{reader}")
    plain = code(body)
    read = f"rp = READ_ONCE({index});"
    # the slots are read only after the barrier that orders them after the index
    assert re.search(rf"{re.escape(read)}\s*virt_rmb\(\);", plain), plain
    assert plain.index("virt_rmb();") < plain.index(copy)
    assert push in comment_before(body, "virt_rmb();")
    assert "pairs with" in comment_before(body, "virt_rmb();")


@pytest.mark.parametrize("path", [FRONT, BACK])
def test_shared_indexes_move_only_through_the_ring_macros(tree: dict[str, str], path: str) -> None:
    plain = code(tree[path])
    # no hand-written store to a shared producer or event index (the macros
    # put virt_wmb() before it and virt_mb() after)
    assert not re.search(r"sring->(req|rsp)_(prod|event)\s*=[^=]", plain)
    # the only hand-written reads of the shared page's indexes: the other end's
    # producer (above) and our own rsp_prod when the backend re-attaches
    reads = set(re.findall(r"READ_ONCE\(([\w>.-]*sring->\w+)\)", plain))
    if path == FRONT:
        assert reads == {"info->ring.sring->rsp_prod"}
    else:
        assert reads == {"conn->ring.sring->req_prod", "sring->rsp_prod"}
    # a slot written is pushed in the same function
    for func in re.findall(r"^\w[^;{]*\b(\w+)\([^;{]*\)\n\{\n", tree[path], re.M):
        body = code(function(tree[path], func))
        for kind in ("REQUEST", "RESPONSE"):
            written = re.search(rf"\*RING_GET_{kind}\([^;]*\)\s*=[^=]", body)
            if written:
                assert f"RING_PUSH_{kind}S_AND_CHECK_NOTIFY" in body[written.end() :], func


# --------------------------------------------------------------------------- lockless hints


def _lockless_fields(text: str, var: str) -> set[str]:
    return set(re.findall(rf"READ_ONCE\({var}->(\w+)\)", code(text)))


@pytest.mark.parametrize(
    ("path", "var", "expected"),
    [
        (FRONT, "info", {"up", "broken", "in_use"}),
        (BACK, "conn", {"stopping"}),
    ],
    ids=["front:slot_or_error-hint", "back:stopping"],
)
def test_a_field_read_without_its_lock_is_stored_with_write_once(
    tree: dict[str, str], path: str, var: str, expected: set[str]
) -> None:
    text = code(tree[path])
    fields = _lockless_fields(text, var) - {"ring"}
    assert fields == expected
    # init_slots runs in probe, before anyone else can see the device
    init = code(function(tree[path], f"{NAME}front_init_slots")) if path == FRONT else ""
    for field in fields:
        plain = re.findall(rf"->{field}\s*(?:[-+]?=[^=]|\+\+|--)", text.replace(init, ""))
        assert not plain, f"{field} is read with READ_ONCE() but stored plainly: {plain}"
        assert f"WRITE_ONCE({var}->{field}," in text


def test_feature_flags_user_code_reads_any_time_are_marked() -> None:
    text = code(render(SPECS["features,pages=4"]())[FRONT])
    for feature in ("flush", "discard"):
        assert f"return READ_ONCE(fdev->has_{feature});" in text
        assert f"WRITE_ONCE(info->has_{feature}, has);" in text
        assert not re.search(rf"->has_{feature}\s*=[^=]", text)


def test_each_lockless_hint_says_what_orders_it(tree: dict[str, str]) -> None:
    hint = function(tree[FRONT], f"{NAME}front_slot_or_error")
    head = tree[FRONT][: tree[FRONT].index(f"{NAME}front_slot_or_error(struct")]
    comment = " ".join(head[head.rindex("/*") :].split())
    assert "as a hint" in comment and "Pairs with the WRITE_ONCE()s" in comment, comment
    assert "wake_up()" in comment
    assert "READ_ONCE(info->up)" in hint
    back = tree[BACK]
    assert "nothing is published" in comment_before(back, "WRITE_ONCE(conn->stopping, true);")


def test_flags_without_a_lock_of_ours_say_what_serialises_them(tree: dict[str, str]) -> None:
    front = tree[FRONT]
    assert "xenwatch_mutex" in comment_before(front, "\tbool connected;")
    back = tree[BACK]
    assert "Read only under state_lock" in comment_before(back, f"struct {NAME}back_device *conn;")


def test_handshake_flags_say_what_serialises_them() -> None:
    files = render(default_spec(NAME, ring=False))
    for path in (f"frontend/{NAME}front.c", f"backend/{NAME}back.c"):
        assert "bool connected;\t\t/* xenbus callbacks only: run one at a time */" in files[path]


# --------------------------------------------------------------------------- page sizes

#: Every line that counts in Linux pages (PAGE_SIZE, not XEN_PAGE_SIZE): the
#: copy transfer's buffer pages.  Grants, ring pages, segments and indirect
#: pages count in Xen pages.  A new PAGE_SIZE needs a look: is it Linux
#: memory, or something a grant covers?
LINUX_PAGE_LINES = {
    f"#define {NAME.upper()}FRONT_BUF_PAGES\tDIV_ROUND_UP({NAME.upper()}_BUF_MAX, PAGE_SIZE)",
    "for (i = 0; i < DIV_ROUND_UP(len, PAGE_SIZE); i++) {",
    "chunk = min_t(unsigned int, len - i * PAGE_SIZE, PAGE_SIZE);",
    "memcpy(page_address(b->pages[i]), data + i * PAGE_SIZE, chunk);",
    "for (i = 0; i * PAGE_SIZE < len; i++) {",
    "memcpy(data + i * PAGE_SIZE, page_address(b->pages[i]), chunk);",
}


def test_page_size_counts_only_linux_memory(tree: dict[str, str]) -> None:
    for path, text in tree.items():
        if not path.endswith((".c", ".h")):
            continue
        for line in code(text).splitlines():
            if re.search(r"(?<!XEN_)\bPAGE_(SIZE|SHIFT|MASK)\b", line):
                assert line.strip() in LINUX_PAGE_LINES, f"{path}: {line.strip()}"


def test_a_linux_page_holds_xen_pfn_per_page_grants(tree: dict[str, str]) -> None:
    text = code(tree[FRONT])
    if "b->pages[" not in text:
        return  # no copy buffer: the ring is the only grant of several Xen pages
    # segment i is Xen page i % XEN_PFN_PER_PAGE of Linux page i / XEN_PFN_PER_PAGE
    sub = r"b->pages\[i / XEN_PFN_PER_PAGE\],\s*i % XEN_PFN_PER_PAGE\b"
    grants = len(re.findall(r"_grant\(domid, b->pages\[|_gfn\(b->pages\[", text))
    assert grants and len(re.findall(sub, text)) == grants
    assert "end_grant(b->gref[i], b->pages[i / XEN_PFN_PER_PAGE]);" in text


def test_the_ring_is_sized_in_xen_pages(tree: dict[str, str]) -> None:
    front, back, ring_h = code(tree[FRONT]), code(tree[BACK]), tree[RING_H]
    assert "FRONT_RING_INIT(&info->ring, sring, nr_pages * XEN_PAGE_SIZE);" in front
    assert "alloc_pages_exact(nr_pages * XEN_PAGE_SIZE," in front
    assert "nr_pages * XEN_PAGE_SIZE);" in back  # BACK_RING_ATTACH's size
    assert f"__CONST_RING_SIZE({NAME}, {NAME.upper()}_MAX_RING_PAGES * XEN_PAGE_SIZE)" in ring_h


def test_each_ring_grant_holds_its_own_page_reference(tree: dict[str, str]) -> None:
    # gnttab_end_foreign_access() with a page drops a reference per grant: with
    # 16/64 KiB pages one Linux page holds several ring grants, so each grant
    # but the first in a page takes a reference first, before any ends
    body = code(function(tree[FRONT], f"{NAME}front_free_ring"))
    extra = "if (i % XEN_PFN_PER_PAGE)\n\t\t\tget_page(virt_to_page(page + i * XEN_PAGE_SIZE));"
    assert extra in body
    assert body.index(extra) < body.index("gnttab_end_foreign_access(")


def test_ring_grants_end_with_their_pages_on_every_kernel(tree: dict[str, str]) -> None:
    # xenbus_teardown_ring() ends the grants without their pages: a grant the
    # backend still maps is then deferred with a page found from its frame
    # number in Linux page units, wrong with 16/64 KiB pages (an oops on
    # Debian's arm64-16k 6.12 at every disconnect)
    body = code(function(tree[FRONT], f"{NAME}front_free_ring"))
    assert "xenbus_teardown_ring" not in body
    assert "gnttab_end_foreign_access(info->ring_ref[i], virt_to_page(page));" in body
