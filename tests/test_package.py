"""`xbgen package`: the Debian DKMS package of a tree, and DKMS itself installing it.

The unit tests read the .deb back with dpkg-deb and run lintian on it.  The
integration test (kernel, slow) installs Debian's dkms and the package in a
bookworm and a trixie chroot and checks that DKMS builds, installs and
removes both modules for that chroot's kernel.  The chroots are never
written: each run mounts an overlay over one inside a private mount
namespace held by a helper process, so every mount goes away with that
process, whatever happens to the test.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from conftest import PHASE_TIMINGS
from typer.testing import CliRunner

from xbgen import debian, kernels
from xbgen.cli import app
from xbgen.generate import generate
from xbgen.output import MANIFEST
from xbgen.package import build_package, read_info
from xbgen.spec import Spec, default_spec

NAME = "xbpkg"
VERSION = "1.2.3~rc1+x"
AUTHOR = "Jürgen Groß <jgross@example.org>"


def _spec(ring: bool = True, **update: object) -> Spec:
    spec = default_spec(NAME, ring=ring)
    return spec.model_copy(update={"version": VERSION, "author": AUTHOR, **update})


def _tree(tmp: Path, spec: Spec) -> Path:
    tree = generate(Spec.model_validate(spec.model_dump()), out=tmp).tree
    # Build products and stray files must stay out of the package.
    front = spec.frontend_module
    for junk in (f"frontend/{front}.ko", f"frontend/.{front}.o.cmd", "Module.symvers",
                 "backend/modules.order", "notes.txt"):  # fmt: skip
        (tree / junk).write_text("junk\n")
    return tree


def _deb_files(deb: Path) -> dict[str, tarfile.TarInfo]:
    proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        return {
            m.name.removeprefix("./").rstrip("/"): m for m in tar.getmembers() if m.name != "./"
        }


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def _control_file(deb: Path, name: str, tmp: Path) -> Path:
    dest = tmp / "control"
    if not dest.exists():
        subprocess.run(["dpkg-deb", "--control", str(deb), str(dest)], check=True)
    return dest / name


def lintian(*debs: Path) -> list[str]:
    """lintian's tags (E:, W:, I:, P:) on `debs`, every level shown."""
    tool = shutil.which("lintian")
    assert tool, "lintian is required (Debian package: lintian)"
    proc = subprocess.run(
        [tool, "--no-cfg", "--display-info", "--pedantic", *map(str, debs)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    tags = [line for line in proc.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    assert "internal error" not in proc.stderr.lower(), proc.stderr
    return tags


@pytest.fixture(scope="module")
def ring_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ring")
    return build_package(_tree(tmp / "out", _spec()), tmp / "debs")


# --------------------------------------------------------------------------- contents


def test_the_package_holds_the_sources_and_docs_and_nothing_built(
    ring_deb: Path, tmp_path: Path
) -> None:
    assert ring_deb.name == f"{NAME}-dkms_{VERSION}-1_all.deb"
    files = _deb_files(ring_deb)
    src = f"usr/src/{NAME}-{VERSION}"
    sources = sorted(p.removeprefix(src + "/") for p, m in files.items()
                     if p.startswith(src + "/") and m.isfile())  # fmt: skip
    assert sources == sorted(
        [
            MANIFEST, "Makefile", "README.md", "activate.sh", "deactivate.sh", "dkms.conf",
            f"include/{NAME}_ring.h",
            "backend/Kbuild", "backend/Makefile", f"backend/{NAME}back_core.c",
            f"backend/{NAME}back.h", f"backend/{NAME}back_user.c",
            "frontend/Kbuild", "frontend/Makefile", f"frontend/{NAME}front_core.c",
            f"frontend/{NAME}front.h", f"frontend/{NAME}front_user.c",
        ]
    )  # fmt: skip
    others = sorted(p for p, m in files.items() if m.isfile() and not p.startswith(src + "/"))
    assert others == [
        f"usr/share/doc/{NAME}-dkms/changelog.Debian.gz",
        f"usr/share/doc/{NAME}-dkms/copyright",
    ]
    for path, member in files.items():
        assert (member.uname, member.gname, member.uid, member.gid) == ("root", "root", 0, 0)
        executable = path.endswith(".sh") or member.isdir()
        assert member.mode == (0o755 if executable else 0o644), path
    assert len({m.mtime for m in files.values()}) == 1


def test_control_fields_come_from_the_spec(ring_deb: Path) -> None:
    assert _field(ring_deb, "Package") == f"{NAME}-dkms"
    assert _field(ring_deb, "Version") == f"{VERSION}-1"
    assert _field(ring_deb, "Architecture") == "all"
    assert _field(ring_deb, "Maintainer") == AUTHOR
    assert _field(ring_deb, "Depends") == "dkms"
    assert _field(ring_deb, "Section") == "kernel"
    assert _field(ring_deb, "Priority") == "optional"
    assert _field(ring_deb, "Suggests") == ""
    description = _field(ring_deb, "Description").splitlines()
    assert description[0] == "Xen split driver example (DKMS)"
    assert f"{NAME}front" in "\n".join(description) and f"{NAME}back" in "\n".join(description)
    assert all(len(line) <= 80 for line in description)
    assert int(_field(ring_deb, "Installed-Size")) > 50


def test_a_device_name_with_underscores_gets_a_debian_package_name(tmp_path: Path) -> None:
    # A device name is a C identifier; a Debian package name has no '_'.
    deb = build_package(_tree(tmp_path / "out", _spec(name="my_dev")), tmp_path)
    assert deb.name == f"my-dev-dkms_{VERSION}-1_all.deb"
    assert _field(deb, "Package") == "my-dev-dkms"
    assert f"usr/src/my_dev-{VERSION}/dkms.conf" in _deb_files(deb)
    assert "usr/share/doc/my-dev-dkms/copyright" in _deb_files(deb)


def test_maintainer_scripts_hand_over_to_dkms(ring_deb: Path, tmp_path: Path) -> None:
    postinst = _control_file(ring_deb, "postinst", tmp_path)
    prerm = _control_file(ring_deb, "prerm", tmp_path)
    for script in (postinst, prerm):
        assert script.stat().st_mode & 0o777 == 0o755
        text = script.read_text()
        assert text.startswith("#!/bin/sh\n") and "\nset -e\n" in text
        assert f"DKMS_NAME={NAME}\n" in text and f"DKMS_VERSION={VERSION}\n" in text
        subprocess.run(["sh", "-n", str(script)], check=True)
    assert "/usr/lib/dkms/common.postinst" in postinst.read_text()
    assert "configure)" in postinst.read_text()
    assert "dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all" in prerm.read_text()
    md5sums = _control_file(ring_deb, "md5sums", tmp_path).read_text()
    assert f"usr/src/{NAME}-{VERSION}/dkms.conf" in md5sums
    assert sorted(p.name for p in postinst.parent.iterdir()) == [
        "control", "md5sums", "postinst", "prerm"
    ]  # fmt: skip


def test_copyright_and_changelog(ring_deb: Path, tmp_path: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(ring_deb), str(tmp_path / "x")], check=True)
    doc = tmp_path / "x" / "usr" / "share" / "doc" / f"{NAME}-dkms"
    copyright_text = (doc / "copyright").read_text()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/")
    assert re.search(rf"^Copyright: \d{{4}} {re.escape(AUTHOR)}$", copyright_text, re.M)
    assert "License: GPL-2\n" in copyright_text
    assert "/usr/share/common-licenses/GPL-2" in copyright_text
    changelog = subprocess.run(
        ["gzip", "-dc", str(doc / "changelog.Debian.gz")], capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    assert changelog.startswith(f"{NAME}-dkms ({VERSION}-1) unstable; urgency=medium\n")
    assert f" -- {AUTHOR}  " in changelog
    header = (doc / "changelog.Debian.gz").read_bytes()[:10]
    assert header[4:8] == b"\0\0\0\0" and header[8] == 2  # no timestamp, gzip -9


#: Trees lintian checks: with and without a ring, every place for the
#: scripts, every license family (one lintian run for all of them).
LINTIAN_VARIANTS = [
    (True, "none", "GPL-2.0-only"),
    (False, "none", "GPL-2.0-or-later"),
    (True, "sbin", "GPL-2.0-only OR MIT"),
    (False, "libexec", "GPL-2.0-only OR BSD-3-Clause"),
    (True, "libexec", "GPL-2.0-only OR BSD-2-Clause"),
    (False, "sbin", "GPL-2.0-only OR MPL-1.1"),
]


def test_lintian_reports_no_errors(tmp_path: Path) -> None:
    debs = []
    for index, (ring, scripts, license) in enumerate(LINTIAN_VARIANTS):
        spec = _spec(ring=ring, scripts=scripts, license=license, name=f"{NAME}{index}")
        debs.append(build_package(_tree(tmp_path / str(index), spec), tmp_path))
    tags = lintian(*debs)
    assert {t.split()[1] for t in tags} <= {f"{NAME}{i}-dkms:" for i in range(len(debs))}
    errors = [t for t in tags if t.startswith(("E:", "X:"))]
    assert errors == [], "\n".join(tags)
    # What lintian still says, for reasons the package cannot change: the
    # changelog closes no ITP bug (this is not a Debian upload), and the
    # generated README.md belongs with the sources in /usr/src.
    expected = {
        "initial-upload-closes-no-bugs",
        "package-contains-documentation-outside-usr-share-doc",
    }
    assert {t.split()[2] for t in tags} <= expected, "\n".join(tags)


def test_scripts_go_where_the_spec_says(tmp_path: Path) -> None:
    found = {}
    for scripts in ("none", "sbin", "libexec"):
        tree = _tree(tmp_path / scripts, _spec(ring=False, scripts=scripts))
        deb = build_package(tree, tmp_path / scripts)
        found[scripts] = {p: m for p, m in _deb_files(deb).items() if not p.startswith("usr/src")}
        if scripts != "none":
            assert _field(deb, "Suggests") == "xenstore-utils"
    assert not [p for p in found["none"] if "sbin" in p or "libexec" in p]
    sbin = found["sbin"]
    for script in ("activate", "deactivate"):
        assert sbin[f"usr/sbin/{NAME}-{script}"].mode == 0o755
        assert sbin[f"usr/share/man/man8/{NAME}-{script}.8.gz"].mode == 0o644
        assert found["libexec"][f"usr/libexec/{NAME}/{script}.sh"].mode == 0o755


def test_the_installed_script_is_the_trees(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "out", _spec(ring=False, scripts="sbin"))
    deb = build_package(tree, tmp_path)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "x")], check=True)
    installed = tmp_path / "x" / "usr" / "sbin" / f"{NAME}-activate"
    assert installed.read_bytes() == (tree / "activate.sh").read_bytes()
    proc = subprocess.run([str(installed)], capture_output=True, text=True, check=False)
    assert (
        proc.returncode == 2
        and f"usage: [BACKEND_DOMID=N] {installed} [--unpause] DOMU_ID" in proc.stderr
    )


def test_same_tree_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path / "out", _spec())
    first = build_package(tree, tmp_path / "a").read_bytes()
    assert build_package(tree, tmp_path / "b").read_bytes() == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    deb = build_package(tree, tmp_path / "c")
    assert {m.mtime for m in _deb_files(deb).values()} == {1700000000}


def test_dkms_conf_carries_what_the_package_needs(tmp_path: Path) -> None:
    tree = _tree(tmp_path, _spec(scripts="libexec", description="My $HOME `pipe` 'x'"))
    info = read_info(tree)
    assert (info.name, info.version, info.maintainer) == (NAME, VERSION, AUTHOR)
    assert (info.description, info.scripts, info.license) == (
        "My $HOME `pipe` 'x'", "libexec", "GPL-2.0-only"
    )  # fmt: skip


# --------------------------------------------------------------------------- the command


def test_cli_prints_the_path_in_the_current_folder_by_default(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _tree(tmp_path / "out", _spec())
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["package", str(tree)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{NAME}-dkms_{VERSION}-1_all.deb"
    assert (tmp_path / result.stdout.strip()).is_file()
    result = runner.invoke(app, ["package", str(tree), "--out", "debs/new"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"debs/new/{NAME}-dkms_{VERSION}-1_all.deb"


def _refused(runner: CliRunner, args: list[str], code: int, *words: str) -> None:
    result = runner.invoke(app, ["package", *args])
    assert result.exit_code == code, result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and len(message.splitlines()) == 1, message
    assert "Traceback" not in result.output
    for word in words:
        assert word in message, message


def test_cli_refuses_what_is_not_a_generated_tree(runner: CliRunner, tmp_path: Path) -> None:
    _refused(runner, [str(tmp_path / "nope")], 2, "no such folder")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "Makefile").write_text("all:\n")
    _refused(runner, [str(tmp_path / "plain")], 2, "not a generated driver tree")
    tree = _tree(tmp_path / "out", _spec())
    (tree / "dkms.conf").unlink()
    _refused(runner, [str(tree)], 2, "dkms.conf", "xbgen render")
    assert not list(tmp_path.glob("*.deb"))


def test_cli_refuses_a_tree_missing_its_sources(runner: CliRunner, tmp_path: Path) -> None:
    tree = _tree(tmp_path / "out", _spec())
    (tree / "backend" / f"{NAME}back_user.c").unlink()
    _refused(runner, [str(tree), "--out", str(tmp_path)], 1, f"{NAME}back_user.c", "missing")
    (tree / MANIFEST).unlink()
    _refused(runner, [str(tree), "--out", str(tmp_path)], 2, MANIFEST)


def test_cli_refuses_an_author_without_an_address(runner: CliRunner, tmp_path: Path) -> None:
    tree = _tree(tmp_path / "out", _spec(author="Just A Name"))
    _refused(runner, [str(tree), "--out", str(tmp_path)], 2, "author", "Maintainer", "<address>")


def test_cli_refuses_without_dpkg_deb(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _tree(tmp_path / "out", _spec())
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    _refused(runner, [str(tree), "--out", str(tmp_path)], 1, "dpkg-deb", "apt-get install dpkg")


# --------------------------------------------------------------------------- DKMS in chroots


class Chroot:
    """An overlay over `lower`, mounted (with /proc, /sys, /dev) in a private mount namespace.

    The namespace is held by a helper that exits when its stdin closes: at
    :meth:`close`, or when the test process dies.  Commands enter it with
    nsenter; `lower` is never written (changes land in `scratch`/upper).
    """

    HOLD = r"""
set -e
lower=$1 scratch=$2 root=$2/root
mkdir -p "$scratch/upper" "$scratch/work" "$root"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo ready
exec cat >/dev/null
"""

    def __init__(self, lower: Path, scratch: Path) -> None:
        self.scratch, self.root = scratch, scratch / "root"
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--",
             "sh", "-c", self.HOLD, "xbgen-dkms-test", str(lower), str(scratch)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.holder.stdout is not None
        if self.holder.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"could not mount an overlay over {lower}")

    def run(
        self, *argv: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        ns = f"--mount=/proc/{self.holder.pid}/ns/mnt"
        proc = subprocess.run(
            ["nsenter", ns, "--", "chroot", str(self.root), *argv],
            capture_output=True, text=True, env=kernels.chroot_env(), check=False, timeout=timeout,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)}: exit {proc.returncode}\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")  # fmt: skip
        return proc

    def put(self, src: Path, dest: str) -> None:
        ns = f"--mount=/proc/{self.holder.pid}/ns/mnt"
        subprocess.run(["nsenter", ns, "--", "cp", str(src), f"{self.root}{dest}"], check=True)

    def close(self) -> None:
        if self.holder.stdin is not None:
            self.holder.stdin.close()
        try:
            self.holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.holder.kill()
            self.holder.wait()
        if self.holder.stdout is not None:
            self.holder.stdout.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _bookworm_chroot() -> Path:
    """A bookworm chroot with linux-headers-amd64, made once under <cache>/dkms-test.

    The 6.1 kernel tree is unpacked debs, not a chroot, so DKMS gets its own
    (made as xbgen.kernels makes the 5.10/6.12/7.2 chroots).
    """
    base = debian.cache_dir() / "dkms-test" / "bookworm"
    root = base / "root"
    with debian.locked(base / ".lock"):
        if (root / kernels.META).is_file():
            return root
        work = base / f"tmp-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        try:
            tree = kernels._fetch_chroot("6.1", kernels.Line("bookworm", "chroot"), work,
                                         debian.stderr_progress)  # fmt: skip
            (work / kernels.META).write_text(tree.to_json())
            work.rename(root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return root


def _chroot_of(release: str) -> tuple[Path, str]:
    """(chroot, kernel ABI of its headers) for `release`; trixie's is the 6.12 line's."""
    if release == "trixie":
        tree = kernels.find("6.12") or kernels.fetch("6.12")
        assert tree.chroot is not None
        return tree.chroot, tree.abi
    root = _bookworm_chroot()
    return root, kernels.KernelTree.from_json((root / kernels.META).read_text()).abi


@pytest.fixture
def chroot_tools() -> None:
    if os.geteuid() != 0:
        pytest.fail("the DKMS test needs root (overlay mounts, chroot)")
    for tool in ("unshare", "nsenter", "chroot", "debootstrap"):
        assert shutil.which(tool), f"{tool} is required"


@pytest.fixture(scope="module")
def dkms_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dkms")
    spec = default_spec(NAME).model_copy(update={"version": VERSION, "author": AUTHOR})
    return build_package(generate(spec, out=tmp / "out").tree, tmp)


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("release", ["bookworm", "trixie"])
def test_dkms_builds_installs_and_removes_both_modules(
    release: str, dkms_deb: Path, tmp_path: Path, chroot_tools: None
) -> None:
    timings: list[str] = []
    started = last = time.monotonic()

    def phase(what: str) -> None:
        nonlocal last
        now = time.monotonic()
        timings.append(f"{what} {now - last:.1f}s")
        last = now

    lower, abi = _chroot_of(release)
    phase("chroot")
    chroot = Chroot(lower, tmp_path / "overlay")
    try:
        phase("mount")
        chroot.run("apt-get", "-q", "-y", "update")
        phase("apt-get update")
        chroot.run("apt-get", "-q", "-y", "--no-install-recommends", "install", "dkms")
        phase("apt-get install dkms")
        chroot.put(dkms_deb, "/tmp/pkg.deb")
        installed = chroot.run("dpkg", "-i", "/tmp/pkg.deb")
        phase("dpkg -i (dkms build+install)")

        status = chroot.run("dkms", "status", "-m", NAME, "-v", VERSION, "-k", abi).stdout
        assert re.search(rf"^{NAME}/{re.escape(VERSION)}, {re.escape(abi)}, x86_64: installed",
                         status, re.M), status + installed.stdout  # fmt: skip
        for module, alias in (
            (f"{NAME}front", f"xen:{NAME}"),
            (f"{NAME}back", f"xen-backend:{NAME}"),
        ):
            info = chroot.run("modinfo", "-k", abi, module).stdout
            fields: dict[str, list[str]] = {}
            for line in info.splitlines():
                key, _, value = line.partition(":")
                fields.setdefault(key, []).append(value.strip())
            assert fields["name"] == [module], info
            assert fields["license"] == ["GPL"], info
            assert alias in fields["alias"], info
            assert fields["vermagic"][0].startswith(abi + " "), info
            assert f"/lib/modules/{abi}/updates/dkms/{module}.ko" in fields["filename"][0], info
        # DKMS ran the tree's Makefiles: the Kbuild feature tests read this
        # kernel's include/xen (xenbus_setup_ring is 5.19's API, so
        # XBGEN_XENBUS_SETUP_RING was defined) and ../include held the ring
        # header, without a warning.
        front = chroot.run("modinfo", "-k", abi, "-F", "filename", f"{NAME}front").stdout.strip()
        symbols = chroot.run("modprobe", "--dump-modversions", front).stdout
        assert re.search(r"\sxenbus_setup_ring$", symbols, re.M), symbols
        log = chroot.run("cat", f"/var/lib/dkms/{NAME}/{VERSION}/{abi}/x86_64/log/make.log").stdout
        assert "make -C frontend modules" in log and "make -C backend modules" in log, log
        assert "warning:" not in log, log
        phase("checks")

        chroot.run("dpkg", "-r", f"{NAME}-dkms")
        phase("dpkg -r")
        assert NAME not in chroot.run("dkms", "status").stdout
        left = chroot.run("find", f"/lib/modules/{abi}", "-name", f"{NAME}*").stdout
        assert left.strip() == ""
        assert chroot.run("modinfo", "-k", abi, f"{NAME}front", check=False).returncode != 0
        assert chroot.run("test", "-e", f"/usr/src/{NAME}-{VERSION}", check=False).returncode != 0
    finally:
        chroot.close()
        phase("unmount")
        line = f"dkms {release} ({abi}): {', '.join(timings)}; total {last - started:.1f}s"
        PHASE_TIMINGS.append(line)
        print(line)
    assert not (tmp_path / "overlay").exists()


@pytest.mark.kernel
@pytest.mark.slow
def test_the_arch_all_package_builds_for_arm64(dkms_deb: Path, tmp_path: Path) -> None:
    """``Architecture: all`` is right: the package holds only sources, and what DKMS
    runs on an arm64 machine (the dkms.conf's make against that kernel's headers)
    builds both modules for aarch64.  Here cross-built against Debian's arm64 6.1
    headers."""
    from xbgen import build

    assert _field(dkms_deb, "Architecture") == "all"
    subprocess.run(["dpkg-deb", "-x", str(dkms_deb), str(tmp_path)], check=True)
    source = tmp_path / "usr" / "src" / f"{NAME}-{VERSION}"
    result = build.build_modules(source, kernels.fetch("6.1", arch="arm64"), clean=False)
    assert result.ok and result.warnings == [], result.summary()
    assert [m.name for m in result.modules] == [f"{NAME}back.ko", f"{NAME}front.ko"]
    for module in result.modules:
        assert module.read_bytes()[18:20] == (183).to_bytes(2, "little"), module  # EM_AARCH64
