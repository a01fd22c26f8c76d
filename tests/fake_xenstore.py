"""A stand-in for the xenstore-* command-line tools, backed by a JSON file.

``python3 fake_xenstore.py STORE TOOL ARGS...`` behaves like ``xenstore-TOOL ARGS...``
for the subset the generated scripts use (read, write, rm, exists, chmod) and
appends ``[TOOL, *ARGS]`` to ``STORE.log`` (one JSON list per line), so a test can
check which writes happened and in which order. :func:`install` puts one wrapper
per tool into a folder meant to go first on ``PATH``.

Permissions are kept as xenstored keeps them for dom0, the only caller here: a
node that a write creates, the written one or a missing parent, gets its
parent's permissions (xenstored's ``construct_node``; an unprivileged caller
would own it instead), ``chmod`` replaces a node's list, ``rm`` drops them.
A node without an entry in ``perms`` has none recorded (the test did not set
its parent's).
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

TOOLS = ("read", "write", "rm", "exists", "chmod", "list")


def install(folder: Path, store: Path) -> None:
    """Write ``xenstore-TOOL`` wrappers into ``folder`` that use the JSON ``store``."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        wrapper = folder / f"xenstore-{tool}"
        wrapper.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "{store}" {tool} "$@"\n'
        )
        wrapper.chmod(0o755)


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def _main(store: Path, tool: str, args: list[str]) -> int:
    with open(f"{store}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(store.read_text()) if store.exists() else {}
        nodes: dict[str, str] = data.setdefault("nodes", {})
        perms: dict[str, list[str]] = data.setdefault("perms", {})
        with open(f"{store}.log", "a") as log:
            log.write(json.dumps([tool, *args]) + "\n")
        status = 0
        if tool == "read":
            for path in args:
                if path not in nodes:
                    print(f"xenstore-read: couldn't read path {path}", file=sys.stderr)
                    return 1
                print(nodes[path])
        elif tool == "exists":
            status = 0 if all(path in nodes for path in args) else 1
        elif tool == "write":
            if not args or len(args) % 2:
                print("Usage: xenstore-write [-h] [-s] [-R] key value...", file=sys.stderr)
                return 1
            for path, value in zip(args[::2], args[1::2], strict=True):
                for node in [*_parents(path), path]:
                    if node not in nodes:
                        nodes[node] = ""
                        parent = node.rsplit("/", 1)[0] or "/"
                        if parent in perms:
                            perms[node] = list(perms[parent])
                nodes[path] = value
        elif tool == "rm":
            for path in args:
                if path not in nodes:
                    print(f"xenstore-rm: could not remove path {path}", file=sys.stderr)
                    return 1
                for key in [k for k in nodes if k == path or k.startswith(path + "/")]:
                    del nodes[key]
                    perms.pop(key, None)
        elif tool == "list":
            (path,) = args
            if path not in nodes:
                print(f"xenstore-list: could not list path {path}", file=sys.stderr)
                return 1
            prefix = path.rstrip("/") + "/"
            for key in sorted(nodes):
                if key.startswith(prefix) and "/" not in key[len(prefix) :]:
                    print(key[len(prefix) :])
        elif tool == "chmod":
            path, *wanted = args
            if path not in nodes:
                print(f"xenstore-chmod: could not set permissions on {path}", file=sys.stderr)
                return 1
            perms[path] = wanted
        else:
            print(f"fake xenstore: unknown tool {tool}", file=sys.stderr)
            return 1
        store.write_text(json.dumps(data, indent=1, sort_keys=True))
        return status


if __name__ == "__main__":
    sys.exit(_main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:]))
