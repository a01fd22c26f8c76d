"""Every command and exit code, through typer's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import spec_text, tree_files
from typer.testing import CliRunner

from xbgen import __version__
from xbgen.cli import app


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_new_writes_spec_and_tree_and_says_what_next(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "mydevice"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mydevice.toml").is_file()
    tree = tmp_path / "out" / "mydevice"
    assert sorted(tree_files(tree)) == sorted(
        [
            ".xbgen-manifest", "Makefile", "README.md", "activate.sh", "deactivate.sh",
            "dkms.conf", "include/mydevice_ring.h",
            "backend/Kbuild", "backend/Makefile", "backend/mydeviceback_core.c",
            "backend/mydeviceback.h", "backend/mydeviceback_user.c",
            "frontend/Kbuild", "frontend/Makefile", "frontend/mydevicefront_core.c",
            "frontend/mydevicefront.h", "frontend/mydevicefront_user.c",
        ]
    )  # fmt: skip
    assert os.access(tree / "activate.sh", os.X_OK)
    for word in ("insmod", "activate.sh", "mydeviceback_core.c", "mydeviceback_user.c"):
        assert word in result.stdout


def test_new_refuses_to_overwrite_without_force(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    spec = tmp_path / "mydevice.toml"
    spec.write_text(spec.read_text() + "# my edits\n")
    result = runner.invoke(app, ["new", "mydevice"])
    assert result.exit_code == 1
    assert "--force" in result.stderr
    assert "# my edits" in spec.read_text()


def test_new_refuses_if_only_the_tree_exists(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "out" / "mydevice").mkdir(parents=True)
    result = runner.invoke(app, ["new", "mydevice"])
    assert result.exit_code == 1
    assert not (tmp_path / "mydevice.toml").exists()


def test_new_force_replaces_edited_files_and_keeps_the_rest(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    tree = tmp_path / "out" / "mydevice"
    (tree / "stray.o").write_text("x")
    (tree / "activate.sh").write_text("edited")
    user = tree / "backend" / "mydeviceback_user.c"
    user.write_text(user.read_text() + "/* mine */\n")
    refused = runner.invoke(app, ["new", "mydevice"])
    assert refused.exit_code == 1
    assert "activate.sh" in refused.stderr and "--force" in refused.stderr
    assert runner.invoke(app, ["new", "mydevice", "--force"]).exit_code == 0
    assert (tree / "stray.o").read_text() == "x"
    assert "xenstore-chmod" in (tree / "activate.sh").read_text()
    assert os.access(tree / "activate.sh", os.X_OK)
    assert user.read_text().endswith("/* mine */\n")


def test_force_never_replaces_a_folder_xbgen_did_not_make(
    runner: CliRunner, tmp_path: Path
) -> None:
    precious = tmp_path / "out" / "mydevice"
    precious.mkdir(parents=True)
    (precious / "thesis.tex").write_text("years of work")
    result = runner.invoke(app, ["new", "mydevice", "--force"])
    assert result.exit_code == 1
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_new_with_out_dir(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["new", "pvfoo", "--out", "build/drivers"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "build/drivers/pvfoo/frontend/pvfoofront_core.c").is_file()


@pytest.mark.parametrize("name", ["int", "My-Dev", "", "a" * 40])
def test_new_bad_name_exits_2_and_writes_nothing(
    runner: CliRunner, tmp_path: Path, name: str
) -> None:
    result = runner.invoke(app, ["new", name])
    assert result.exit_code == 2
    assert "NAME" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_linux_type_warns(runner: CliRunner) -> None:
    result = runner.invoke(app, ["new", "vif"])
    assert result.exit_code == 0
    assert "warning" in result.stderr and "vif" in result.stderr


def test_render_from_edited_spec(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text(spec_text(name="blk2", log_messages=False))
    result = runner.invoke(app, ["render", "d.toml"])
    assert result.exit_code == 0, result.output
    front = tmp_path / "out/blk2/frontend/blk2front.c"
    assert "Hello World!" not in front.read_text()
    assert runner.invoke(app, ["render", "d.toml"]).exit_code == 0  # up to date
    # An edited spec updates a tree nobody edited, without --force.
    (tmp_path / "d.toml").write_text(spec_text(name="blk2", log_messages=True))
    again = runner.invoke(app, ["render", "d.toml"])
    assert again.exit_code == 0, again.output
    assert "Hello World!" in front.read_text()
    # A hand-edited file is refused without --force, and named.
    front.write_text(front.read_text() + "/* mine */\n")
    (tmp_path / "d.toml").write_text(spec_text(name="blk2", log_messages=False))
    refused = runner.invoke(app, ["render", "d.toml"])
    assert refused.exit_code == 1
    assert "frontend/blk2front.c" in refused.stderr and "--force" in refused.stderr
    assert front.read_text().endswith("/* mine */\n")
    assert runner.invoke(app, ["render", "d.toml", "--force"]).exit_code == 0
    assert "Hello World!" not in front.read_text()


def test_render_missing_spec_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["render", "nope.toml"])
    assert result.exit_code == 2
    assert "nope.toml" in result.stderr


def test_render_directory_as_spec_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["render", str(tmp_path)])
    assert result.exit_code == 2


def test_check_passes_on_a_generated_tree(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(app, ["new", "mydevice"])
    result = runner.invoke(app, ["check", "out/mydevice"])
    assert result.exit_code == 0, result.output
    c_files = [
        "out/mydevice/frontend/mydevicefront_core.c",
        "out/mydevice/backend/mydeviceback_core.c",
        "out/mydevice/backend/mydeviceback_user.c",
    ]
    assert runner.invoke(app, ["check", *c_files]).exit_code == 0


def test_check_failure_exits_3_with_location(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(app, ["new", "mydevice"])
    c_file = tmp_path / "out/mydevice/backend/mydeviceback_core.c"
    c_file.write_text(c_file.read_text().replace("kfree(conn);", "kfre(conn);"))
    result = runner.invoke(app, ["check", str(c_file)])
    assert result.exit_code == 3
    assert f"{c_file}:" in result.stderr
    assert "kfre" in result.stderr


def test_check_missing_path_is_usage_error(runner: CliRunner) -> None:
    assert runner.invoke(app, ["check", "nothere.c"]).exit_code == 2


def test_check_needs_a_path(runner: CliRunner) -> None:
    assert runner.invoke(app, ["check"]).exit_code == 2


def test_render_fails_with_3_and_writes_nothing_when_check_fails(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real broken template: copy the templates and plant a C error in one.
    import shutil

    from xbgen import render as render_mod

    templates = tmp_path / "templates"
    shutil.copytree(render_mod.templates_dir(), templates)
    front = templates / "frontend" / "front.c.j2"
    front.write_text(front.read_text().replace("kfree(info);", "kfree(info)"))
    monkeypatch.setattr(render_mod, "templates_dir", lambda: templates)
    render_mod.environment.cache_clear()
    try:
        result = runner.invoke(app, ["new", "mydevice"])
    finally:
        render_mod.environment.cache_clear()
    assert result.exit_code == 3
    assert "mydevicefront_core.c:" in result.stderr
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "mydevice.toml").exists()


def test_schema_is_json_schema_of_every_key(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) >= {"name", "license", "backend_domid", "on_invalid_state"}
    assert schema["required"] == ["name"]


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize("command", ["new", "render", "check", "schema"])
def test_every_command_has_help(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_unknown_command_and_option_exit_2(runner: CliRunner) -> None:
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2
    assert runner.invoke(app, ["new", "x", "--bogus"]).exit_code == 2


def test_rerender_is_byte_identical(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(app, ["new", "mydevice"])
    first = tree_files(tmp_path / "out/mydevice")
    runner.invoke(app, ["render", "mydevice.toml", "--force"])
    assert tree_files(tmp_path / "out/mydevice") == first


def test_new_is_idempotent_and_keeps_build_products(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    product = tmp_path / "out" / "mydevice" / "frontend" / "mydevicefront.ko"
    product.write_text("built")
    again = runner.invoke(app, ["new", "mydevice"])
    assert again.exit_code == 0, again.output
    assert "up to date" in again.stdout
    assert product.read_text() == "built"


def test_new_refuses_when_the_tree_was_edited(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    c_file = tmp_path / "out/mydevice/backend/mydeviceback_core.c"
    c_file.write_text(c_file.read_text() + "/* my change */\n")
    result = runner.invoke(app, ["new", "mydevice"])
    assert result.exit_code == 1
    assert "my change" in c_file.read_text()


def test_new_in_the_repository_root_is_up_to_date(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The README's first command runs `xbgen new mydevice` in the clone: on
    # a spec and tree as it wrote them (the default golden) it rewrites nothing.
    import shutil

    from golden.regen import GOLDEN

    shutil.copy(GOLDEN / "default" / "mydevice.toml", tmp_path)
    shutil.copytree(GOLDEN / "default" / "mydevice", tmp_path / "out" / "mydevice")
    result = runner.invoke(app, ["new", "mydevice"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.stdout


@pytest.mark.parametrize("command", [["build"], ["kernels", "fetch"], ["kernels", "list"]])
def test_kernel_commands_have_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_build_rejects_a_folder_that_is_not_a_tree(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a generated driver tree" in result.stderr


@pytest.mark.parametrize("debian_tree", [["--kernel", "6.1"], ["--arch", "arm64"]])
def test_build_rejects_kdir_and_kernel_together(runner: CliRunner, debian_tree: list[str]) -> None:
    runner.invoke(app, ["new", "mydevice"])
    result = runner.invoke(app, ["build", "out/mydevice", "--kdir", "/x", *debian_tree])
    assert result.exit_code == 2
    assert "--kdir or --kernel/--arch" in result.stderr


def test_build_with_missing_kdir_names_it_and_suggests_fetch(runner: CliRunner) -> None:
    runner.invoke(app, ["new", "mydevice"])
    result = runner.invoke(app, ["build", "out/mydevice", "--kdir", "/nonexistent/kdir"])
    assert result.exit_code == 1
    assert "/nonexistent/kdir" in result.stderr
    assert "xbgen kernels fetch" in result.stderr


def test_kernels_fetch_rejects_an_unknown_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["kernels", "fetch", "4.19"])
    assert result.exit_code != 0
    assert "4.19" in result.stderr


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("command", ["fetch", "build"])
def test_a_line_without_the_arch_is_a_clear_error_writing_nothing(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Debian ships 16 KiB-page arm64 headers for 6.12 and 7.2 only: asking for 6.1's
    names the line, its release, the arch and where the headers are, exits non-zero,
    and neither the kernel cache nor the tree gains a file."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    runner.invoke(app, ["new", "mydevice"])
    before = _files_under(tmp_path)
    args = {
        "fetch": ["kernels", "fetch", "6.1", "--arch", "arm64-16k"],
        "build": ["build", "out/mydevice", "--kernel", "6.1", "--arch", "arm64-16k"],
    }[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [
        "error: kernel 6.1 (Debian bookworm) has no arm64-16k headers: "
        "Debian ships linux-headers-*-arm64-16k for 6.12, 7.2 only"
    ]
    assert _files_under(tmp_path) == before
    assert not (tmp_path / "cache" / "kernels").exists()


def test_an_unknown_arch_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["kernels", "fetch", "6.1", "--arch", "arm64-64k"])
    assert result.exit_code == 1
    assert "unknown architecture 'arm64-64k'; supported: amd64, arm64, arm64-16k" in result.stderr


def test_e2e_has_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["e2e", "--help"])
    assert result.exit_code == 0
    assert "--no-guest" in result.stdout


def test_e2e_rejects_a_folder_that_is_not_a_tree(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["e2e", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a generated driver tree" in result.stderr


def test_e2e_rejects_a_bad_accel(runner: CliRunner) -> None:
    runner.invoke(app, ["new", "mydevice"])
    result = runner.invoke(app, ["e2e", "out/mydevice", "--accel", "warp"])
    assert result.exit_code == 2


def test_render_after_a_field_is_added_keeps_the_user_files(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    tree = tmp_path / "out" / "mydevice"
    handler = tree / "backend" / "mydeviceback_user.c"
    handler.write_text(handler.read_text().replace("rsp->value = req->value;", "rsp->value = 42;"))
    frontend_user = tree / "frontend" / "mydevicefront_user.c"
    before_front_user = frontend_user.read_text()
    spec = tmp_path / "mydevice.toml"
    spec.write_text(spec.read_text().replace('op = "u32"\n', 'op = "u32"\nflags = "u16"\n', 1))
    result = runner.invoke(app, ["render", "mydevice.toml"])
    assert result.exit_code == 0, result.output
    assert "kept your files" in result.stdout
    header = (tree / "include" / "mydevice_ring.h").read_text()
    assert "u16 flags;" in header
    assert "rsp->value = 42;" in handler.read_text()
    assert frontend_user.read_text() == before_front_user
    # The generated files are xbgen's again: the next edit needs no --force.
    spec.write_text(spec.read_text().replace('flags = "u16"\n', 'flags = "u32"\n'))
    assert runner.invoke(app, ["render", "mydevice.toml"]).exit_code == 0
    assert "u32 flags;" in (tree / "include" / "mydevice_ring.h").read_text()


def test_a_tree_from_an_earlier_xbgen_is_updated_without_force(
    runner: CliRunner, tmp_path: Path
) -> None:
    # An earlier xbgen wrote other text (files without the notes that say who
    # owns them, say) and a manifest of it: `render` rewrites its files
    # without --force and leaves the user's files as they were written then.
    from xbgen.output import MANIFEST, manifest_text, read_manifest

    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    tree = tmp_path / "out" / "mydevice"
    current = tree_files(tree)
    owned = read_manifest(tree)
    assert owned
    earlier = {rel: (tree / rel).read_text() + "written by an earlier xbgen\n" for rel in owned}
    for rel, text in earlier.items():
        (tree / rel).write_text(text)
    (tree / MANIFEST).write_text(manifest_text(earlier))
    user = [tree / "frontend" / "mydevicefront_user.c", tree / "backend" / "mydeviceback_user.c"]
    for path in user:
        path.write_text(path.read_text().replace("Yours to edit: xbgen", "xbgen"))
    kept = [path.read_bytes() for path in user]
    result = runner.invoke(app, ["render", "mydevice.toml"])
    assert result.exit_code == 0, result.output
    assert "kept your files" in result.stdout
    now = tree_files(tree)
    assert {rel: now[rel] for rel in [*owned, MANIFEST]} == {
        rel: current[rel] for rel in [*owned, MANIFEST]
    }
    assert [path.read_bytes() for path in user] == kept


def test_a_deleted_user_file_comes_back_and_a_dropped_ring_removes_its_files(
    runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["new", "mydevice"]).exit_code == 0
    tree = tmp_path / "out" / "mydevice"
    (tree / "frontend" / "mydevicefront_user.c").unlink()
    assert runner.invoke(app, ["render", "mydevice.toml"]).exit_code == 0
    assert (tree / "frontend" / "mydevicefront_user.c").is_file()
    spec = tmp_path / "mydevice.toml"
    text = spec.read_text()
    spec.write_text(text[: text.index("[ring]")])
    result = runner.invoke(app, ["render", "mydevice.toml"])
    assert result.exit_code == 0, result.output
    assert (tree / "frontend" / "mydevicefront.c").is_file()
    assert not (tree / "frontend" / "mydevicefront_core.c").exists()
    assert not (tree / "include" / "mydevice_ring.h").exists()
    assert "removed" in result.stdout
    # The user's files are never removed: they may hold their work.
    assert (tree / "backend" / "mydeviceback_user.c").is_file()


def test_mirror_option_is_validated_before_any_work(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XBGEN_DEBIAN_MIRROR", raising=False)
    result = runner.invoke(app, ["--mirror", "not a url", "kernels", "list"])
    assert "XBGEN_DEBIAN_MIRROR" not in os.environ
    assert result.exit_code == 2
    assert "--mirror" in result.stderr and "not a URL" in result.stderr


def test_mirror_option_reaches_the_fetchers(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xbgen import debian

    monkeypatch.delenv(debian.MIRROR_ENV, raising=False)
    result = runner.invoke(app, ["--mirror", "http://mirror.example/debian", "schema"])
    assert result.exit_code == 0
    assert debian.mirror() == "http://mirror.example/debian"
    os.environ.pop(debian.MIRROR_ENV)  # not monkeypatch: it would put the value back


def test_shell_completion_is_offered(runner: CliRunner) -> None:
    import shutil
    import subprocess

    xbgen = shutil.which("xbgen")
    assert xbgen, "the xbgen console script is not installed"
    shown = subprocess.run(
        [xbgen, "--show-completion", "bash"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "_XBGEN_COMPLETE" in shown.stdout
    env = {**os.environ, "_XBGEN_COMPLETE": "complete_bash", "COMP_WORDS": "xbgen ren",
           "COMP_CWORD": "1"}  # fmt: skip
    words = subprocess.run([xbgen], env=env, capture_output=True, text=True, check=False)
    assert words.stdout.split() == ["render"]


# --------------------------------------------------------------------------- the console script


@pytest.mark.parametrize(
    ("args", "parsed"),
    [
        (["new", "mydevice"], ("mydevice", Path("out"), False)),
        (["new", "x", "--out", "o", "--force"], ("x", Path("o"), True)),
        (["new", "-f", "-o", "a/b", "x"], ("x", Path("a/b"), True)),
        (["new", "x", "--force", "--force"], None),
        (["new", "x", "-o", "a", "--out", "b"], None),
        (["new", "x", "--out=o"], None),
        (["new", "x", "--out"], None),
        (["new", "x", "--out", "--force"], None),
        (["new", "x", "--help"], None),
        (["new", "x", "y"], None),
        (["new", "--", "x"], None),
        (["new", ""], None),
        (["new"], None),
        (["render", "x.toml"], None),
        (["--version"], None),
        ([], None),
    ],
)
def test_the_script_reads_only_plain_new_itself(
    args: list[str], parsed: tuple[str, Path, bool] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xbgen.__main__ import plain_new

    monkeypatch.delenv("_XBGEN_COMPLETE", raising=False)
    monkeypatch.delenv("XBGEN_DEBIAN_MIRROR", raising=False)
    assert plain_new(args) == parsed
    for variable in ("_XBGEN_COMPLETE", "XBGEN_DEBIAN_MIRROR"):
        monkeypatch.setenv(variable, "x")
        assert plain_new(args) is None
        monkeypatch.delenv(variable)


def _plain_env(**env: str) -> dict[str, str]:
    """The environment, less what sends `xbgen new` to typer."""
    skip = ("_XBGEN_COMPLETE", "XBGEN_DEBIAN_MIRROR")
    return {**{k: v for k, v in os.environ.items() if k not in skip}, **env}


def _script(args: list[str], cwd: Path) -> tuple[int, str, str]:
    import shutil
    import subprocess

    xbgen = shutil.which("xbgen")
    assert xbgen, "the xbgen console script is not installed"
    proc = subprocess.run([xbgen, *args], cwd=cwd, capture_output=True, text=True,
                          env=_plain_env(), check=False)  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("name", ["mydevice", "vif", "int"])
def test_the_scripts_own_new_does_what_typer_does(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    fast, typer_run = tmp_path / "fast", tmp_path / "typer"
    fast.mkdir()
    typer_run.mkdir()
    monkeypatch.chdir(typer_run)
    for _ in range(2):  # the second run finds everything up to date
        result = runner.invoke(app, ["new", name])
        expected = (result.exit_code, result.stdout, result.stderr)
        assert _script(["new", name], fast) == expected
    assert tree_files(fast) == tree_files(typer_run)


def test_the_scripts_own_new_loads_neither_typer_rich_nor_pydantic(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.argv = ['xbgen', 'new', 'mydevice']\n"
        "from xbgen.__main__ import main; main()\n"
        "print(*[m for m in ('typer', 'rich', 'pydantic_core', 'pycparser') if m in sys.modules])"
    )
    env = _plain_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    loaded = [
        subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                       capture_output=True, text=True).stdout.splitlines()[-1]
        for _ in range(2)
    ]  # fmt: skip
    # pycparser parses only what the check cache lacks.
    assert loaded == ["pycparser", ""]


@pytest.mark.parametrize(
    "text",
    [
        "wrote spec  mydevice.toml",
        "\nnext steps:",
        "  xbgen build out/mydevice  # or: make -C out/mydevice",
        "  ~!@#$%^&*()_+-=;'\",./<>?|`{}\\ ",
        "[bold]x[/]",
        "a[b]c",
        "x :smile: y",
        "a:b:c",
        "tab\there",
        "bell\a",
        "caf\u00e9",
    ],
)
@pytest.mark.parametrize("terminal", [False, True])
def test_plain_lines_are_written_as_rich_would(text: str, terminal: bool) -> None:
    import io

    from rich.console import Console

    from xbgen.console import _plain

    buffer = io.StringIO()
    rich = Console(file=buffer, force_terminal=terminal, highlight=False, soft_wrap=True, width=20)
    rich.print(text)
    if _plain(text):
        assert buffer.getvalue() == text + "\n"
    else:
        assert any(c in text for c in "[:\t\a\u00e9")
