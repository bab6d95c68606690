"""What can be checked here of the installers without building them: one version source, the
changelog, the licence, and the Windows and macOS recipes that only those systems can run."""

from __future__ import annotations

import importlib.util
import plistlib
import re
import struct
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from reelforge.__about__ import __version__

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
)
# The video types each platform's recipe offers "Open with" for, by file extension.
WINDOWS_EXTENSIONS = {
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "wmv", "flv", "mpg", "mpeg", "ts", "mts", "m2ts",
    "3gp", "3g2", "mxf", "ogv",
}  # fmt: skip


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reelforge_build", PACKAGING / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_version_source() -> None:
    assert SEMVER.fullmatch(__version__), __version__
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "reelforge.__about__.__version__"
    }
    assert load_build_script().version() == __version__  # what the installers are named after
    spec = (PACKAGING / "reelforge.spec").read_text(encoding="utf-8")
    assert "__about__.py" in spec and not re.search(r"\d+\.\d+\.\d+", spec)


def test_changelog_keeps_a_changelog_with_semver_versions() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    headings = re.findall(r"^## \[([^\]]+)\](.*)$", text, re.M)
    assert headings and headings[0][0] == "Unreleased"
    released = []
    for name, rest in headings[1:]:
        assert SEMVER.fullmatch(name), name
        assert re.fullmatch(r" - \d{4}-\d{2}-\d{2}", rest), f"{name}{rest}: needs ' - YYYY-MM-DD'"
        released.append(tuple(int(x) for x in name.split("-")[0].split(".")[:3]))
    assert released == sorted(released, reverse=True), "newest release first"
    # The code's version is either the one being prepared or the newest release.
    current = tuple(int(x) for x in __version__.split("-")[0].split(".")[:3])
    assert not released or current >= released[0]
    for section in re.findall(r"^### (.+)$", text, re.M):
        assert section.split(" (")[0] in {
            "Added", "Changed", "Deprecated", "Removed", "Fixed", "Security",
        }, section  # fmt: skip


def test_license_is_the_gpl_the_package_declares() -> None:
    gpl = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in gpl and "Version 3, 29 June 2007" in gpl
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == {"text": "GPL-3.0-or-later"}
    lgpl = (PACKAGING / "licenses" / "LGPL-3.0.txt").read_text(encoding="utf-8")
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in lgpl and "Version 3, 29 June 2007" in lgpl


def test_third_party_packages_are_the_runtime_requirements() -> None:
    build = load_build_script()
    names = {d.metadata["Name"].lower().replace("_", "-") for d in build.runtime_distributions()}
    # Direct requirements and some of theirs; never the test or build tools.
    assert {"pyside6-essentials", "shiboken6", "sqlalchemy", "alembic", "av", "pydantic"} <= names
    assert not names & {"pytest", "pyinstaller", "ruff", "hypothesis", "reelforge"}
    for dist in build.runtime_distributions():
        assert build.license_of(dist).strip(), dist.metadata["Name"]


def test_windows_and_macos_targets_print_their_steps_elsewhere() -> None:
    for target, other, marker in (
        ("windows", "win32", "ISCC.exe"),
        ("macos", "darwin", "notarytool submit"),
    ):
        if sys.platform == other:
            continue
        done = subprocess.run(
            [sys.executable, str(PACKAGING / "build.py"), target],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert marker in done.stdout and "packaging/README.md" in done.stdout
        assert "built on" in done.stderr


def test_inno_setup_script_registers_open_with_and_keeps_history_by_default() -> None:
    iss = (PACKAGING / "windows" / "reelforge.iss").read_text(encoding="utf-8")
    sections = set(re.findall(r"^\[(\w+)\]", iss, re.M))
    assert {"Setup", "Files", "Icons", "Registry", "Code"} <= sections
    assert "AppVersion={#AppVersion}" in iss and "#error Pass /DAppVersion" in iss
    assert re.search(r"^ChangesAssociations=yes$", iss, re.M)
    assert re.search(r'^Name: "\{autoprograms\}\\\{#AppName\}"', iss, re.M)  # Start menu
    open_with = set(re.findall(r'Subkey: "Software\\Classes\\\.(\w+)\\OpenWithProgids"', iss))
    supported = set(re.findall(r'SupportedTypes"; ValueType: string; ValueName: "\.(\w+)"', iss))
    assert open_with == supported == WINDOWS_EXTENSIONS
    # The extensions' default value is never written: Reelforge is offered, not imposed.
    assert not re.search(r'Subkey: "Software\\Classes\\\.\w+"; ValueType', iss)
    assert '\\shell\\open\\command"; ValueType: string; ValueName: ""; ValueData: ' in iss
    assert '"""{app}\\{#AppExe}"" ""%1"""' in iss
    code = iss[iss.index("[Code]") :]
    assert "procedure CurUninstallStepChanged" in code and "usPostUninstall" in code
    assert "MB_DEFBUTTON2" in code  # "No" is the default answer: the history is kept
    assert "UninstallSilent" in code  # and a silent uninstall never deletes it
    assert '#define DataDir "{localappdata}\\Reelforge"' in iss


def test_macos_info_plist_declares_video_documents_and_takes_the_version() -> None:
    template = (PACKAGING / "macos" / "Info.plist").read_text(encoding="utf-8")
    assert "@VERSION@" in template
    info = plistlib.loads(template.replace("@VERSION@", __version__).encode())
    assert info["CFBundleShortVersionString"] == info["CFBundleVersion"] == __version__
    (doc,) = info["CFBundleDocumentTypes"]
    assert doc["CFBundleTypeRole"] == "Viewer" and doc["LSHandlerRank"] == "Alternate"
    types = set(doc["LSItemContentTypes"])
    assert {"public.movie", "public.mpeg-4", "com.apple.quicktime-movie"} <= types
    imported = {t["UTTypeIdentifier"] for t in info["UTImportedTypeDeclarations"]}
    assert {"org.matroska.mkv", "org.webmproject.webm"} <= imported <= types
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert entitlements == {"com.apple.security.cs.allow-unsigned-executable-memory": True}


def test_icons_render_from_the_svg_and_pack_into_an_ico(qapp, tmp_path: Path) -> None:
    build = load_build_script()
    pngs = build.render_pngs(build.ICON_SVG, (16, 32, 256), tmp_path)
    ico = build.write_ico(pngs, tmp_path / "reelforge.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, 3)
    for n, size in enumerate((16, 32, 256)):
        w, h, _, _, planes, bpp, length, offset = struct.unpack(
            "<BBBBHHII", ico[6 + 16 * n : 22 + 16 * n]
        )
        assert (w, h) == ((size, size) if size < 256 else (0, 0)) and (planes, bpp) == (1, 32)
        assert ico[offset : offset + length] == pngs[size].read_bytes()


@pytest.mark.parametrize("script", ["postinst", "postrm"])
def test_maintainer_scripts_are_posix_sh_and_never_touch_home(script: str) -> None:
    path = PACKAGING / "linux" / script
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n") and path.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(path)], check=True)
    assert "update-desktop-database" in text and "gtk-update-icon-cache" in text
    assert "$HOME" not in text and "/home" not in text and "rm " not in text
