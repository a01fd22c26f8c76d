"""`xbgen package TREE`: the tree as a Debian DKMS package, built with dpkg-deb.

The package ``NAME-dkms`` (version ``VERSION-1``, architecture ``all``) holds
the tree's sources in ``/usr/src/NAME-VERSION`` (every file xbgen owns, as
listed in ``.xbgen-manifest``, and the user's ``*_user.c``; never build
products), and installs them the way Debian's own DKMS packages do: its
postinst and prerm are dh_dkms's (``postinst-dkms``/``prerm-dkms``, the same
in bookworm's dkms 3.0 and trixie's 3.2), so ``/usr/lib/dkms/common.postinst``
adds, builds and installs both modules for every kernel with headers, and
``dkms remove --all`` takes them away again.  With ``scripts = "sbin"`` or
``"libexec"`` in the spec the package also installs activate.sh and
deactivate.sh there (in /usr/sbin with a man page each).

Everything the package needs besides the sources is read from the tree's
``dkms.conf``: PACKAGE_NAME, PACKAGE_VERSION, the SPDX line, and the
``# xbgen-maintainer:``/``# xbgen-description:``/``# xbgen-scripts:`` lines
rendered from the spec.  Every file in the package carries one timestamp
(``$SOURCE_DATE_EPOCH``, else the newest source file's), so the same tree
gives the same ``.deb``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import SpecError, ToolMissingError, UsageError, XbgenError
from .output import MANIFEST, is_generated_tree, read_manifest
from .render import EXECUTABLES, USER_OUTPUTS
from .spec import LICENSES, NAME_RE, SCRIPTS, VERSION_RE

DKMS_CONF = "dkms.conf"
#: The Debian revision of every package xbgen builds.
REVISION = "1"
SECTION = "kernel"

#: SPDX id of the spec -> DEP-5 short names of the licenses it offers.
DEP5_LICENSES: dict[str, tuple[str, ...]] = {
    "GPL-2.0-only": ("GPL-2",),
    "GPL-2.0-or-later": ("GPL-2+",),
    "GPL-2.0-only OR MIT": ("GPL-2", "Expat"),
    "GPL-2.0-or-later OR MIT": ("GPL-2+", "Expat"),
    "GPL-2.0-only OR BSD-2-Clause": ("GPL-2", "BSD-2-clause"),
    "GPL-2.0-only OR BSD-3-Clause": ("GPL-2", "BSD-3-clause"),
    "GPL-2.0-or-later OR BSD-3-Clause": ("GPL-2+", "BSD-3-clause"),
    "GPL-2.0-only OR MPL-1.1": ("GPL-2", "MPL-1.1"),
}
assert set(DEP5_LICENSES) == set(LICENSES)

_GPL2 = """\
This program is free software; you can redistribute it and/or modify it
under the terms of the GNU General Public License version 2 as published by
the Free Software Foundation.
"""
_GPL2_PLUS = """\
This program is free software; you can redistribute it and/or modify it
under the terms of the GNU General Public License as published by the Free
Software Foundation; either version 2 of the License, or (at your option)
any later version.
"""
_GPL_TAIL = """
This program is distributed in the hope that it will be useful, but WITHOUT
ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or
FITNESS FOR A PARTICULAR PURPOSE.  See the GNU General Public License for
more details.

On Debian systems, the complete text of the GNU General Public License
version 2 can be found in "/usr/share/common-licenses/GPL-2".
"""
_BSD_HEAD = """\
Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice,
   this list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.
"""
_BSD_THIRD = """
3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from this
   software without specific prior written permission.
"""
_BSD_TAIL = """
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE.
"""
LICENSE_TEXTS: dict[str, str] = {
    "GPL-2": _GPL2 + _GPL_TAIL,
    "GPL-2+": _GPL2_PLUS + _GPL_TAIL,
    "Expat": """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to
deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or
sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
""",
    "BSD-2-clause": _BSD_HEAD + _BSD_TAIL,
    "BSD-3-clause": _BSD_HEAD + _BSD_THIRD + _BSD_TAIL,
    "MPL-1.1": """\
The contents of this file are subject to the Mozilla Public License Version
1.1 (the "License"); you may not use this file except in compliance with
the License.

On Debian systems, the complete text of the Mozilla Public License version
1.1 can be found in "/usr/share/common-licenses/MPL-1.1".
""",
}

#: dh_dkms's postinst-dkms (bookworm's dkms 3.0.10 and trixie's 3.2.2 ship the
#: same): hand over to DKMS's common.postinst, which adds the module and
#: builds and installs it for every kernel that has headers.
POSTINST = """\
#!/bin/sh
# postinst of {package}, written by xbgen {xbgen}: dh_dkms's postinst-dkms
# (template-dkms-mkdeb/debian/postinst in the DKMS tarball), which hands the
# work to DKMS's common.postinst: dkms add, then build and install for every
# kernel whose headers are installed.
set -e

DKMS_NAME={name}
DKMS_PACKAGE_NAME=$DKMS_NAME-dkms
DKMS_VERSION={version}

postinst_found=0

case "$1" in
	configure)
		for DKMS_POSTINST in /usr/lib/dkms/common.postinst \\
				/usr/share/$DKMS_PACKAGE_NAME/postinst; do
			if [ -f $DKMS_POSTINST ]; then
				$DKMS_POSTINST $DKMS_NAME $DKMS_VERSION /usr/share/$DKMS_PACKAGE_NAME "" $2
				postinst_found=1
				break
			fi
		done
		if [ "$postinst_found" -eq 0 ]; then
			echo "ERROR: DKMS version is too old and $DKMS_PACKAGE_NAME was not"
			echo "built with legacy DKMS support."
			echo "You must either rebuild $DKMS_PACKAGE_NAME with legacy postinst"
			echo "support or upgrade DKMS to a more current version."
			exit 1
		fi
	;;
esac

exit 0
"""

#: dh_dkms's prerm-dkms: remove the module from DKMS, for every kernel.
PRERM = """\
#!/bin/sh
# prerm of {package}, written by xbgen {xbgen}: dh_dkms's prerm-dkms, which
# removes the modules DKMS built from every kernel.
set -e

DKMS_NAME={name}
DKMS_VERSION={version}

case "$1" in
	remove|upgrade|deconfigure)
		if [ "$(dkms status -m $DKMS_NAME -v $DKMS_VERSION)" ]; then
			dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all
		fi
	;;
esac

exit 0
"""

_MAINTAINER_RE = re.compile(r"^(?P<name>[^<>,]*[^<>,\s])\s*<(?P<email>[^<>@\s]+@[^<>@\s]+)>$")
_CONF_RE = re.compile(r'^(PACKAGE_NAME|PACKAGE_VERSION)="([^"$`\\]*)"$')
_META_RE = re.compile(r"^# xbgen-(maintainer|description|scripts): (.*)$")
_SPDX_RE = re.compile(r"^# SPDX-License-Identifier: (.+)$")


@dataclass(frozen=True)
class PackageInfo:
    """What the package is called and says about itself (from dkms.conf)."""

    name: str
    version: str  # upstream version: PACKAGE_VERSION
    maintainer: str
    description: str
    license: str  # SPDX id, one of spec.LICENSES
    scripts: str  # one of spec.SCRIPTS

    @property
    def package(self) -> str:
        return f"{self.name}-dkms"

    @property
    def deb_version(self) -> str:
        return f"{self.version}-{REVISION}"

    @property
    def filename(self) -> str:
        return f"{self.package}_{self.deb_version}_all.deb"

    @property
    def source_dir(self) -> str:
        """Where the sources go, without the leading slash."""
        return f"usr/src/{self.name}-{self.version}"


def read_info(tree: Path) -> PackageInfo:
    """Read the package's name, version and metadata from `tree`/dkms.conf."""
    conf = tree / DKMS_CONF
    try:
        text = conf.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{conf}: cannot read: {exc.strerror}") from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        for regex in (_CONF_RE, _META_RE):
            m = regex.match(line)
            if m:
                values.setdefault(m[1].lower(), m[2])
        m = _SPDX_RE.match(line)
        if m:
            values.setdefault("license", m[1].strip())
    wanted = {
        "package_name": "PACKAGE_NAME",
        "package_version": "PACKAGE_VERSION",
        "maintainer": "# xbgen-maintainer:",
        "description": "# xbgen-description:",
        "scripts": "# xbgen-scripts:",
        "license": "# SPDX-License-Identifier:",
    }
    missing = [line for key, line in wanted.items() if not values.get(key)]
    if missing:
        raise UsageError(
            f"{conf}: no {', '.join(missing)} line; it was not written by this xbgen "
            "(run `xbgen render SPEC` to bring the tree up to date)"
        )
    info = PackageInfo(
        name=values["package_name"],
        version=values["package_version"],
        maintainer=values["maintainer"],
        description=values["description"],
        license=values["license"],
        scripts=values["scripts"],
    )
    _check_info(conf, info)
    return info


def _check_info(conf: Path, info: PackageInfo) -> None:
    if not NAME_RE.match(info.name):
        raise UsageError(f"{conf}: PACKAGE_NAME {info.name!r} is not a device name")
    if not VERSION_RE.match(info.version):
        raise UsageError(
            f"{conf}: PACKAGE_VERSION {info.version!r} is not a Debian upstream version"
        )
    if info.license not in LICENSES:
        raise UsageError(f"{conf}: SPDX license {info.license!r} is not one xbgen knows")
    if info.scripts not in SCRIPTS:
        raise UsageError(f"{conf}: xbgen-scripts {info.scripts!r} is not one of {SCRIPTS}")
    if not _MAINTAINER_RE.match(info.maintainer):
        raise SpecError(
            f"{conf}: author {info.maintainer!r} has no e-mail address: the package's "
            "Maintainer field needs 'Name <address>'; set author in the spec and run "
            "`xbgen render`"
        )


def source_files(tree: Path, info: PackageInfo) -> list[str]:
    """The tree's sources, relative to it: xbgen's files (manifest) and the user's."""
    manifest = read_manifest(tree)
    if manifest is None:
        raise UsageError(
            f"{tree}: no {MANIFEST}; run `xbgen render SPEC` to bring the tree up to date"
        )
    user = [out.format(name=info.name) for out in USER_OUTPUTS.values()]
    owned = sorted(manifest)
    rings = any(rel.endswith("_core.c") for rel in owned)
    links = [rel for rel in [*owned, *user] if (tree / rel).is_symlink()]
    if links:
        raise XbgenError(f"{tree}: {', '.join(links)}: a symbolic link, not a source file")
    missing = [rel for rel in owned if not (tree / rel).is_file()]
    if rings:
        missing += [rel for rel in user if not (tree / rel).is_file()]
    if missing:
        raise XbgenError(
            f"{tree}: {', '.join(missing)} missing; run `xbgen render SPEC` to write "
            "the files xbgen owns again (the *_user.c files are yours to restore)"
        )
    present_user = [rel for rel in user if (tree / rel).is_file()]
    return sorted({*owned, *present_user, MANIFEST})


def _timestamp(tree: Path, files: list[str]) -> int:
    """One mtime for every file of the package: SOURCE_DATE_EPOCH or the newest source."""
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isdigit():
        return int(env)
    return max(int((tree / rel).stat().st_mtime) for rel in files)


def _gzip(data: bytes) -> bytes:
    """gzip -9n: maximum compression, no name, no timestamp (as lintian expects)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buffer.getvalue()


def _control(info: PackageInfo, installed_kib: int) -> str:
    synopsis = info.description.rstrip(".").strip() + " (DKMS)"
    body = (
        f"DKMS source of the {info.name} Xen split driver: the frontend module "
        f"{info.name}front, for the guest, and the backend module {info.name}back, for "
        "the driver domain. DKMS builds both for every kernel whose headers are "
        "installed, and again for each new kernel."
    )
    if info.scripts != "none":
        body += (
            " The activate and deactivate scripts plug a device between the driver "
            "domain and a guest through xenstore."
        )
    lines = textwrap.wrap(body, width=72)
    lines += [".", f"Generated by xbgen {__version__}."]
    fields = [
        f"Package: {info.package}",
        f"Version: {info.deb_version}",
        "Architecture: all",
        f"Maintainer: {info.maintainer}",
        f"Installed-Size: {installed_kib}",
        "Depends: dkms",
    ]
    if info.scripts != "none":
        fields.append("Suggests: xenstore-utils")
    fields += [
        f"Section: {SECTION}",
        "Priority: optional",
        f"Description: {synopsis}",
        *(f" {line}" for line in lines),
    ]
    return "\n".join(fields) + "\n"


def _copyright(info: PackageInfo, year: int) -> str:
    names = DEP5_LICENSES[info.license]
    holder = info.maintainer
    parts = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {info.name}\n"
        f"Upstream-Contact: {holder}\n"
        f"Comment: Generated by xbgen {__version__} from the {info.name} spec\n"
        f" (SPDX-License-Identifier: {info.license}).\n",
        f"Files: *\nCopyright: {year} {holder}\nLicense: {' or '.join(names)}\n",
    ]
    for name in names:
        text = "\n".join(f" {line}" if line else " ." for line in LICENSE_TEXTS[name].splitlines())
        parts.append(f"License: {name}\n{text}\n")
    return "\n".join(parts)


def _changelog(info: PackageInfo, when: int) -> str:
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    return (
        f"{info.package} ({info.deb_version}) unstable; urgency=medium\n\n"
        f"  * Generated by xbgen {__version__} from the {info.name} spec.\n\n"
        f" -- {info.maintainer}  {date}\n"
    )


def _manpage(info: PackageInfo, script: str, when: int) -> str:
    """A man page for /usr/sbin/NAME-activate or NAME-deactivate."""
    command = f"{info.name}-{script}"
    date = time.strftime("%Y-%m-%d", time.gmtime(when))
    other = "deactivate" if script == "activate" else "activate"
    what = (
        "plug a {n} device between the backend domain and a guest"
        if script == "activate"
        else "unplug a {n} device again"
    ).format(n=info.name)
    desc = (
        f"writes the xenstore directories of device DEVID of the guest DOMU_ID and "
        f"of its backend, with the permissions the Xen toolstack uses, so that "
        f"{info.name}back and {info.name}front probe and connect."
        if script == "activate"
        else "takes the backend offline, asks both ends to close, waits until both "
        "are Closed and removes both xenstore directories, as the Xen toolstack "
        f"does; then {info.name}back can be unloaded."
    )
    roff = "\\-"
    return (
        f'.TH {command.upper()} 8 "{date}" '
        f'"{info.name} {info.version}" "System Administration"\n'
        ".SH NAME\n"
        f"{command.replace('-', roff)} {roff} {what}\n"
        ".SH SYNOPSIS\n"
        f".B {command.replace('-', roff)}\n"
        ".I DOMU_ID\n"
        ".RI [ DEVID ]\n"
        ".SH DESCRIPTION\n"
        f".B {command.replace('-', roff)}\n"
        f"{desc}\n"
        "Run it as root in dom0, where the xenstore tools are installed, whichever\n"
        "domain runs the backend: only dom0 may create the guest's device directory.\n"
        ".PP\n"
        "DOMU_ID is the domain id of the guest (0: dom0 itself);\n"
        "DEVID is the device id; without it, the one the driver was generated with.\n"
        ".SH ENVIRONMENT\n"
        ".TP\n"
        ".B BACKEND_DOMID\n"
        "the domain id of the backend's domain, instead of the one the driver was\n"
        "generated with: a driver domain gets a new one each time it starts\n"
        "(\\fBxl domid\\fR \\fINAME\\fR); give both scripts the same.  A decimal number\n"
        "without a leading zero; anything else, empty included, is a usage error.\n"
        ".SH EXIT STATUS\n"
        "0 on success, 1 on failure, 2 on bad arguments.\n"
        ".SH SEE ALSO\n"
        f".BR {info.name}{roff}{other} (8),\n"
        f".I /usr/src/{info.name}{roff}{info.version}/README.md\n"
    )


def _scripts(info: PackageInfo, when: int) -> dict[str, tuple[str, bool]]:
    """Package path -> (source path in the tree or literal text, is_tree_file)."""
    out: dict[str, tuple[str, bool]] = {}
    for script in ("activate", "deactivate"):
        if info.scripts == "sbin":
            out[f"usr/sbin/{info.name}-{script}"] = (f"{script}.sh", True)
            page = f"usr/share/man/man8/{info.name}-{script}.8.gz"
            out[page] = (_manpage(info, script, when), False)
        elif info.scripts == "libexec":
            out[f"usr/libexec/{info.name}/{script}.sh"] = (f"{script}.sh", True)
    return out


def _write(path: Path, data: bytes, mode: int, when: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (when, when))


def stage(tree: Path, root: Path) -> PackageInfo:
    """Lay out the package's file system and DEBIAN/ under `root` (an empty folder)."""
    info = read_info(tree)
    files = source_files(tree, info)
    when = _timestamp(tree, files)
    payload: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    for rel in files:
        payload[f"{info.source_dir}/{rel}"] = (tree / rel).read_bytes()
        modes[f"{info.source_dir}/{rel}"] = 0o755 if rel in EXECUTABLES else 0o644
    for path, (what, from_tree) in _scripts(info, when).items():
        if from_tree:
            payload[path], modes[path] = (tree / what).read_bytes(), 0o755
        else:
            payload[path], modes[path] = _gzip(what.encode()), 0o644
    doc = f"usr/share/doc/{info.package}"
    payload[f"{doc}/copyright"] = _copyright(info, time.gmtime(when).tm_year).encode()
    payload[f"{doc}/changelog.Debian.gz"] = _gzip(_changelog(info, when).encode())
    for path, data in sorted(payload.items()):
        _write(root / path, data, modes.get(path, 0o644), when)

    kib = sum((len(data) + 1023) // 1024 for data in payload.values())
    kib += sum(1 for p in root.rglob("*") if p.is_dir())
    debian = root / "DEBIAN"
    debian.mkdir()
    md5sums = "".join(
        f"{hashlib.md5(data).hexdigest()}  {path}\n" for path, data in sorted(payload.items())
    )
    fmt = {"package": info.package, "name": info.name, "version": info.version}
    control = {
        "control": (_control(info, kib), 0o644),
        "md5sums": (md5sums, 0o644),
        "postinst": (POSTINST.format(xbgen=__version__, **fmt), 0o755),
        "prerm": (PRERM.format(xbgen=__version__, **fmt), 0o755),
    }
    for name, (text, mode) in control.items():
        _write(debian / name, text.encode(), mode, when)
    for folder in sorted(p for p in root.rglob("*") if p.is_dir()):
        folder.chmod(0o755)
        os.utime(folder, (when, when))
    root.chmod(0o755)
    os.utime(root, (when, when))
    return info


def build_package(tree: Path, out: Path | None = None) -> Path:
    """Build ``NAME-dkms_VERSION-1_all.deb`` from `tree` into `out` (default: cwd)."""
    out = out if out is not None else Path()
    if not tree.is_dir():
        raise UsageError(f"{tree}: no such folder; see `xbgen new`")
    if not is_generated_tree(tree):
        raise UsageError(f"{tree}: not a generated driver tree (no xbgen README); see `xbgen new`")
    if not (tree / DKMS_CONF).is_file():
        raise UsageError(
            f"{tree}: no {DKMS_CONF}; the tree comes from an older xbgen: run "
            "`xbgen render SPEC` to add it"
        )
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise ToolMissingError("dpkg-deb is not installed; install it with: apt-get install dpkg")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XbgenError(f"cannot create {out}: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="xbgen-package.") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        info = stage(tree, root)
        deb = out / info.filename
        partial = Path(tmp) / info.filename
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(int(root.stat().st_mtime))}
        proc = subprocess.run(
            [dpkg_deb, "--root-owner-group", "-Zxz", "--build", str(root), str(partial)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-8:])
            raise XbgenError(f"dpkg-deb failed (exit {proc.returncode}):\n{tail}")
        _move_into(partial, deb)
    return deb


def _move_into(built: Path, deb: Path) -> None:
    """Put the finished package at `deb` atomically (never a half-written .deb)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{deb.name}.", dir=deb.parent)
        os.close(fd)
    except OSError as exc:
        raise XbgenError(f"cannot write {deb}: {exc.strerror or exc}") from None
    try:
        shutil.copyfile(built, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, deb)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise XbgenError(f"cannot write {deb}: {exc.strerror or exc}") from None
