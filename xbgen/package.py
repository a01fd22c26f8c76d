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

The texts (control, copyright with its licence texts, changelog, postinst,
prerm, the man pages) are the templates in ``templates/package/``, rendered
with :func:`xbgen.render.environment`; this module lays out the files.
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
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2

from . import __version__
from .errors import SpecError, ToolMissingError, UsageError, XbgenError
from .output import MANIFEST, is_generated_tree, read_manifest
from .render import EXECUTABLES, USER_OUTPUTS, environment
from .spec import LICENSES, NAME_RE, SCRIPTS, VERSION_RE

DKMS_CONF = "dkms.conf"
#: The Debian revision of every package xbgen builds.
REVISION = "1"

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
        # Debian package names have no '_' (policy 5.6.1); device names may.
        return f"{self.name.replace('_', '-')}-dkms"

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


def _text(template: str, info: PackageInfo, **context: object) -> str:
    """Render ``templates/package/<template>`` about `info` (render.py's Jinja environment)."""
    try:
        page = environment().get_template(f"package/{template}")
        return page.render(info=info, xbgen_version=__version__, **context)
    except jinja2.TemplateError as exc:
        raise XbgenError(f"package/{template}: template error: {exc}") from None


def _control(info: PackageInfo, installed_kib: int) -> str:
    return _text("control.j2", info, installed_kib=installed_kib)


def _copyright(info: PackageInfo, year: int) -> str:
    return _text("copyright.j2", info, year=year, names=DEP5_LICENSES[info.license])


def _changelog(info: PackageInfo, when: int) -> str:
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(when))
    return _text("changelog.j2", info, date=date)


def _manpage(info: PackageInfo, script: str, when: int) -> str:
    """A man page for /usr/sbin/NAME-activate or NAME-deactivate."""
    date = time.strftime("%Y-%m-%d", time.gmtime(when))
    return _text("manpage.8.j2", info, script=script, date=date)


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
    control = {
        "control": (_control(info, kib), 0o644),
        "md5sums": (md5sums, 0o644),
        "postinst": (_text("postinst.j2", info), 0o755),
        "prerm": (_text("prerm.j2", info), 0o755),
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
