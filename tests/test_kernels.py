"""Kernel build trees and Debian package handling, against Debian's real archive.

No mocks: these talk to the machine's Debian mirror through apt with a private
state under the XDG cache, and never touch the system's apt configuration.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from xbgen import debian, kernels
from xbgen.errors import FetchError

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

LINES = list(kernels.LINES)
ABI = re.compile(r"^(?P<ver>\d+\.\d+)\.\d+(?:-\d+|\+deb\d+)-amd64$")


def _apt_config_digest() -> str:
    digest = hashlib.sha256()
    etc = Path("/etc/apt")
    for path in sorted(etc.rglob("*")):
        if path.is_file():
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def apt_config_before() -> str:
    return _apt_config_digest()


@pytest.fixture(scope="session")
def trees(apt_config_before: str) -> dict[str, kernels.KernelTree]:
    return kernels.fetch_many(LINES)


# --------------------------------------------------------------------------- debian.py


def test_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert debian.cache_dir() == tmp_path / "xbgen"
    assert debian.cache_dir().is_dir()


def test_releases_reuse_the_machines_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(debian.MIRROR_ENV, raising=False)
    assert set(debian.RELEASES) >= {"bullseye", "bookworm", "bookworm-backports", "trixie", "sid"}
    apt = debian._apt_mirror()
    assert apt is not None, "this machine's apt sources name no Debian archive"
    assert debian.mirror() == apt
    for release in debian.RELEASES:
        for line in debian.release_sources(release).splitlines():
            assert line.split()[2].startswith(apt), (release, line)


def test_mirror_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(debian.MIRROR_ENV, "http://mirror.example/debian/")
    assert debian.mirror() == "http://mirror.example/debian"
    assert "http://mirror.example/debian-security trixie-security" in debian.release_sources(
        "trixie"
    )
    monkeypatch.setenv(debian.MIRROR_ENV, "not a url")
    with pytest.raises(FetchError, match="not a URL"):
        debian.mirror()


def test_no_mirror_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(debian.MIRROR_ENV, raising=False)
    monkeypatch.setattr(debian, "_source_files", lambda: [])
    debian._apt_mirror.cache_clear()
    try:
        with pytest.raises(FetchError, match="--mirror URL or set XBGEN_DEBIAN_MIRROR"):
            debian.mirror()
    finally:
        debian._apt_mirror.cache_clear()


def test_no_registry_host_is_written_into_the_code() -> None:
    """Mirrors come from apt's configuration or --mirror, never from a literal host."""
    from conftest import REPO

    url = re.compile(r"\b(?:https?|ftp)://([A-Za-z0-9.-]+)")
    # www.debian.org is not an archive: it names the copyright format (DEP-5).
    allowed = {"HOST", "mirror.example", "example.com", "localhost", "127.0.0.1", "www.debian.org"}
    offenders = []
    for path in [*REPO.glob("xbgen/**/*"), *REPO.glob("templates/**/*"), *REPO.glob(".ci/*")]:
        if not path.is_file() or path.suffix in {".pyc", ".gpg"}:
            continue
        for host in url.findall(path.read_text(errors="replace")):
            if host not in allowed:
                offenders.append(f"{path.relative_to(REPO)}: {host}")
    assert offenders == []


@pytest.mark.parametrize("release", ["bookworm", "sid"])
def test_resolve_linux_image_metapackage(release: str) -> None:
    image = debian.resolve("linux-image-amd64", release)
    assert re.fullmatch(r"linux-image-\d+\.\d+\.\d+\S*-amd64", image), image
    headers = debian.resolve("linux-headers-amd64", release)
    assert headers == image.replace("linux-image-", "linux-headers-")


def test_resolve_unknown_package_is_actionable() -> None:
    with pytest.raises(FetchError, match="not available in Debian bookworm"):
        debian.resolve("xbgen-no-such-package", "bookworm")


def test_unknown_release_is_actionable() -> None:
    with pytest.raises(FetchError, match="known: "):
        debian.apt_lists("hamm")


def test_download_reuses_the_cached_file_and_unpacks(tmp_path: Path) -> None:
    messages: list[str] = []
    (first,) = debian.download(["linux-kbuild-6.1"], "bookworm", messages.append)
    mtime = first.path.stat().st_mtime_ns
    messages.clear()
    (again,) = debian.download(["linux-kbuild-6.1"], "bookworm", messages.append)
    assert again == first and again.path.stat().st_mtime_ns == mtime
    assert not any("downloading" in m for m in messages), messages
    debian.unpack(again, tmp_path)
    assert (tmp_path / "usr/lib/linux-kbuild-6.1/scripts/basic/fixdep").is_file()


def test_unpack_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no such package file"):
        debian.unpack(tmp_path / "nope.deb", tmp_path)


# --------------------------------------------------------------------------- kernels.py


@pytest.mark.parametrize("line", LINES)
def test_fetched_tree_matches_its_line(line: str, trees: dict[str, kernels.KernelTree]) -> None:
    tree = trees[line]
    match = ABI.match(tree.abi)
    assert match and match.group("ver") == line, tree.abi
    assert (tree.kdir / "Makefile").is_file()
    assert (tree.kdir / "Module.symvers").is_file()
    uts = (tree.kdir / "include/generated/utsrelease.h").read_text()
    assert f'UTS_RELEASE "{tree.abi}"' in uts
    assert tree.image_package == f"linux-image-{tree.abi}"
    assert kernels.find(line) == tree


def test_61_tree_is_relocated_debs(trees: dict[str, kernels.KernelTree]) -> None:
    tree = trees["6.1"]
    assert tree.chroot is None
    makefile = (tree.kdir / "Makefile").read_text()
    assert "/usr/src/" not in makefile
    assert (tree.kdir / "scripts/basic/fixdep").is_file()  # the kbuild symlink resolves


def _compiler_of(tree: kernels.KernelTree) -> str:
    """CONFIG_CC_VERSION_TEXT: the ``--version`` line of the compiler the kernel was built with."""
    config = (tree.kdir / ".config").read_text()
    match = re.search(r'^CONFIG_CC_VERSION_TEXT="(.*)"$', config, re.M)
    assert match, tree.kdir
    return match.group(1)


@pytest.mark.parametrize("line", LINES)
def test_tree_builds_with_the_kernels_own_compiler(
    line: str, trees: dict[str, kernels.KernelTree]
) -> None:
    tree = trees[line]
    expected = _compiler_of(tree)
    argv = [expected.split()[0], "--version"]
    if tree.chroot is not None:
        argv = kernels.chroot_command(tree.chroot, argv)
    out = subprocess.run(argv, env=kernels.chroot_env(), capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0] == expected


@pytest.mark.parametrize("line", ["5.10", "6.12", "7.2"])
def test_chroot_make_sees_the_headers(line: str, trees: dict[str, kernels.KernelTree]) -> None:
    tree = trees[line]
    assert tree.chroot is not None
    argv = ["make", "-s", "-C", tree.make_kdir, "kernelversion"]
    out = subprocess.run(
        kernels.chroot_command(tree.chroot, argv),
        env=kernels.chroot_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert tree.version.startswith(out.stdout.strip().splitlines()[-1])


def test_arm64_61_tree_is_debians_arm64_headers_for_the_cross_compiler() -> None:
    tree = kernels.fetch("6.1", arch="arm64")
    assert tree.arch == "arm64" and tree.chroot is None
    assert re.fullmatch(r"6\.1\.0-\d+-arm64", tree.abi), tree.abi
    assert tree.kdir.is_relative_to(kernels.line_dir("6.1", "arm64"))
    assert kernels.find("6.1", "arm64") == tree
    assert kernels.find("6.1") != tree  # the amd64 tree has its own folder
    uts = (tree.kdir / "include/generated/utsrelease.h").read_text()
    assert f'UTS_RELEASE "{tree.abi}"' in uts
    assert "CONFIG_ARM64=y" in (tree.kdir / ".config").read_text()
    assert (tree.kdir / "Module.symvers").is_file()
    # The kernel's gcc-12, as Debian's cross compiler of the same release.
    expected = _compiler_of(tree)
    assert expected.startswith("gcc-12 "), expected
    out = subprocess.run(
        ["aarch64-linux-gnu-gcc-12", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[0].split()[-1] == expected.split()[-1]  # 12.2.0
    assert debian.candidate(tree.image_package, debian.for_arch(tree.release, "arm64"))


def test_61_image_package_exists_for_the_abi(trees: dict[str, kernels.KernelTree]) -> None:
    tree = trees["6.1"]
    assert debian.candidate(tree.image_package, tree.release)


def test_fetch_does_not_touch_system_apt_config(
    trees: dict[str, kernels.KernelTree], apt_config_before: str
) -> None:
    assert _apt_config_digest() == apt_config_before


def test_unknown_line_is_actionable() -> None:
    with pytest.raises(FetchError, match=r"supported: 5\.10, 6\.1, 6\.12, 7\.2"):
        kernels.fetch("4.19")
