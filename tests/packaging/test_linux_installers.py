"""The Linux installers, built from this checkout the way packaging/README.md says, then
unpacked and run as a person would run them.

One `python packaging/build.py linux` per session (light compression: the content is what is
checked here, the xz of a release build only costs minutes). The .deb is unpacked with
`dpkg -x` into a temporary root, so nothing is installed on the machine, and the installed app
runs from there with a private data folder: --version, doctor, a headless `process -p web`
whose outputs ffprobe checks, and --self-check (offscreen, and on X11 under Xvfb when present).
"""

from __future__ import annotations

import configparser
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from checkers import audio_stream, duration, ffprobe_json, jpeg_size, video_stream
from mediagen import make_clip
from reelforge.__about__ import __version__
from reelforge.storage.engine import head_revision

ROOT = Path(__file__).resolve().parents[2]
VERSION = __version__

pytestmark = [
    pytest.mark.slow,
    # The first test also pays for the build (about 1.5 minutes on 2 cores).
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        sys.platform != "linux" or platform.machine() != "x86_64" or not shutil.which("dpkg-deb"),
        reason="the .deb and the Linux tarball are built on Linux x86_64 with dpkg-deb",
    ),
]


@dataclass(frozen=True)
class Build:
    deb: Path
    tarball: Path
    bundle: Path
    output: str  # what build.py printed


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    pytest.importorskip(
        "PyInstaller", reason="PyInstaller is in the test extra: pip install -e '.[test]'"
    )
    work = tmp_path_factory.mktemp("installers")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "packaging" / "build.py"),
            "linux",
            "--fast",
            "--work",
            str(work / "build"),
            "--out",
            str(work / "dist"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"build.py linux failed:\n{output[-6000:]}"
    yield Build(
        deb=work / "dist" / f"reelforge_{VERSION}_amd64.deb",
        tarball=work / "dist" / f"reelforge-{VERSION}-linux-x86_64.tar.gz",
        bundle=work / "build" / "dist" / "reelforge",
        output=output,
    )
    shutil.rmtree(work, ignore_errors=True)  # about 2 GB: not left for pytest's tmp rotation


@pytest.fixture(scope="session")
def installed(build: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The .deb unpacked into a temporary root, as dpkg -i would lay it out."""
    root = tmp_path_factory.mktemp("root")
    subprocess.run(["dpkg-deb", "-x", str(build.deb), str(root)], check=True, timeout=300)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def control_fields(deb: Path) -> dict[str, str]:
    text = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line.startswith((" ", "\t")):
            fields[key] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def depends_packages(fields: dict[str, str]) -> set[str]:
    return {d.split("(")[0].strip() for d in fields["Depends"].split(",")}


def contents(deb: Path) -> dict[str, tuple[str, str]]:
    """path -> (mode string, owner/group) from `dpkg-deb --contents`; symlinks as 'a -> b'."""
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    entries = {}
    for line in listing.splitlines():
        parts = line.split(None, 5)
        mode, owner, path = parts[0], parts[1], parts[5]
        entries[path.removeprefix(".")] = (mode, owner)
    return entries


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


# -- the package ---------------------------------------------------------------------------------


def test_control_fields(build: Build) -> None:
    fields = control_fields(build.deb)
    assert fields["Package"] == "reelforge"
    assert fields["Version"] == VERSION
    assert fields["Architecture"] == "amd64"
    assert re.fullmatch(r".+ <[^@\s]+@[^@\s]+>", fields["Maintainer"])
    assert fields["Section"] == "video"
    assert fields["Description"].startswith("Batch media processing")
    # libc6 carries the newest glibc symbol version any bundled file needs.
    assert re.search(r"(^|, )libc6 \(>= 2\.\d+\)", fields["Depends"]), fields["Depends"]
    # What the Qt xcb plugin and the GL/Wayland integrations load from the system.
    assert {"libxcb1", "libgl1", "libegl1", "libwayland-client0"} <= depends_packages(fields)
    assert f"Depends: {fields['Depends']}" in build.output  # build.py reports what it wrote
    installed_kib = int(fields["Installed-Size"])
    assert abs(installed_kib * 1024 - du(build.bundle)) < 0.05 * du(build.bundle)

    info = subprocess.run(
        ["dpkg-deb", "-I", str(build.deb)], capture_output=True, text=True, check=True
    ).stdout
    for script in ("postinst", "postrm"):
        assert re.search(rf"^\s+\d+ bytes,\s+\d+ lines\s+\*\s+{script}\s+#!/bin/sh", info, re.M), (
            info
        )


def du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def test_contents_layout_and_ownership(build: Build) -> None:
    entries = contents(build.deb)
    assert all(owner == "root/root" for _mode, owner in entries.values())
    assert "/usr/bin/reelforge -> /opt/reelforge/reelforge" in entries
    for path in ("/opt/reelforge/reelforge", "/opt/reelforge/ffmpeg"):
        assert entries[path][0] == "-rwxr-xr-x", path
    for path in (
        "/opt/reelforge/LICENSE",
        "/opt/reelforge/THIRD-PARTY-NOTICES.txt",
        "/opt/reelforge/CHANGELOG.md",
        "/opt/reelforge/licenses/LGPL-3.0.txt",
        "/usr/share/applications/reelforge.desktop",
        "/usr/share/doc/reelforge/copyright",
        "/usr/share/icons/hicolor/scalable/apps/reelforge.svg",
        *(f"/usr/share/icons/hicolor/{s}x{s}/apps/reelforge.png" for s in (16, 32, 48, 128, 256)),
    ):
        assert path in entries, path
    assert not any(e.startswith("/home") or e.startswith("/etc") for e in entries)


def test_bundle_carries_plugins_resources_and_migrations_and_stays_lean(installed: Path) -> None:
    internal = installed / "opt" / "reelforge" / "_internal"
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for plugin in (
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "imageformats/libqsvg.so",
        "imageformats/libqjpeg.so",
        "iconengines/libqsvgicon.so",
        "xcbglintegrations/libqxcb-glx-integration.so",
    ):
        assert (plugins / plugin).is_file(), plugin
    # Every resource and every migration of this checkout, byte for byte.
    for src_root, dest in (
        (ROOT / "resources", internal / "reelforge" / "resources"),
        (
            ROOT / "app" / "reelforge" / "storage" / "migrations",
            internal / "reelforge" / "storage" / "migrations",
        ),
    ):
        for src in src_root.rglob("*"):
            if src.is_file() and "__pycache__" not in src.parts and src.suffix != ".pyc":
                if src.name == "__init__.py" and src_root.name == "resources":
                    continue  # the package marker is compiled into the archive instead
                copy = dest / src.relative_to(src_root)
                assert copy.is_file() and copy.read_bytes() == src.read_bytes(), copy
    # Lean: no QML/Quick, no WebEngine, no kiosk platforms, no Qt translations, no test tools.
    names = [p.name for p in internal.rglob("*")]
    for unwanted in (
        "Qt6Qml",
        "Qt6Quick",
        "WebEngine",
        "Qt6Pdf",
        "libqeglfs",
        "libqvnc",
        "qtbase_",
    ):
        assert not [n for n in names if unwanted in n], unwanted
    # The Python side: modules frozen into the executable's archive, and its start-up hooks.
    from PyInstaller.archive.readers import CArchiveReader

    exe = CArchiveReader(str(installed / "opt" / "reelforge" / "reelforge"))
    frozen = {name.split(".")[0] for name in exe.open_embedded_archive("PYZ.pyz").toc}
    assert {"reelforge", "alembic", "av", "sqlmodel", "PySide6"} <= frozen
    unused = {"imageio_ffmpeg", "pytest", "hypothesis", "tkinter", "setuptools", "pkg_resources"}
    assert not frozen & unused
    assert "pyi_rth_pkgres" not in exe.toc  # pkg_resources at start-up cost 0.4 s a launch


def test_desktop_entry_opens_videos_and_icons_render(installed: Path, tmp_path: Path) -> None:
    desktop = installed / "usr" / "share" / "applications" / "reelforge.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(desktop, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "reelforge %F"  # several files at once, as local paths
    assert entry["Icon"] == "reelforge"
    mime = set(filter(None, entry["MimeType"].split(";")))
    assert {"video/mp4", "video/quicktime", "video/x-matroska", "video/webm"} <= mime
    assert all(m.startswith(("video/", "application/mxf")) for m in mime)
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(
            ["desktop-file-validate", str(desktop)], capture_output=True, text=True
        )
        assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    if shutil.which("update-desktop-database"):  # what postinst runs: the "Open with" cache
        apps = tmp_path / "applications"
        shutil.copytree(desktop.parent, apps)
        subprocess.run(["update-desktop-database", str(apps)], check=True, timeout=60)
        cache = (apps / "mimeinfo.cache").read_text(encoding="utf-8")
        for kind in ("video/mp4", "video/x-matroska", "video/quicktime"):
            assert f"{kind}=reelforge.desktop;" in cache.splitlines(), kind
    hicolor = installed / "usr" / "share" / "icons" / "hicolor"
    for png in hicolor.glob("*x*/apps/reelforge.png"):
        size = int(png.parent.parent.name.split("x")[0])
        assert png_size(png) == (size, size)
    # Rendered, not blank: the icon's orange corner is opaque in the 48 px rendering.
    from PySide6.QtGui import QImage

    image = QImage(str(hicolor / "48x48" / "apps" / "reelforge.png"))
    assert image.pixelColor(24, 24).alpha() == 255 and image.pixelColor(0, 0).alpha() < 255


def test_depends_cover_every_library_loaded_from_the_system(build: Build, installed: Path) -> None:
    """Independently of build.py: ldd every ELF file of the installed tree."""
    opt = installed / "opt" / "reelforge"
    env = dict(os.environ, LD_LIBRARY_PATH=str(opt / "_internal"), LC_ALL="C")
    outside: set[str] = set()
    for path in opt.rglob("*"):
        if not path.is_file() or path.is_symlink() or path.read_bytes()[:4] != b"\x7fELF":
            continue
        done = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
        if "not a dynamic executable" in done.stdout + done.stderr:
            continue
        assert "not found" not in done.stdout, f"{path}:\n{done.stdout}"
        for target in re.findall(r"=> (/\S+)", done.stdout):
            if not Path(target).resolve().is_relative_to(opt):
                outside.add(target)
    assert outside, "ldd found no system library at all"
    depends = depends_packages(control_fields(build.deb))
    for lib in sorted(outside):
        owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(
                ["dpkg", "-S", os.path.realpath(lib)], capture_output=True, text=True
            )
        package = owner.stdout.split(":")[0]
        assert package in depends, f"{lib} comes from {package or '?'}, not in Depends {depends}"


# -- the installed app ---------------------------------------------------------------------------


@pytest.fixture
def app_env(installed: Path, tmp_path: Path) -> dict[str, str]:
    """PATH leads to a `reelforge` link like /usr/bin's; a private, empty data folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "reelforge").symlink_to(installed / "opt" / "reelforge" / "reelforge")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "QT_"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        REELFORGE_HOME=str(tmp_path / "home"),
        QT_QPA_PLATFORM="offscreen",
    )
    return env


def reelforge(env: dict[str, str], *args: str, cwd: Path | None = None, timeout: float = 120):
    return subprocess.run(
        ["reelforge", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def bundled_ffmpeg_version(installed: Path) -> str:
    out = subprocess.run(
        [str(installed / "opt" / "reelforge" / "ffmpeg"), "-version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()[2]


def test_version_and_doctor(installed: Path, app_env: dict[str, str]) -> None:
    done = reelforge(app_env, "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"Reelforge {VERSION}", done

    done = reelforge(app_env, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = dict(
        (line[:15].strip(), line[15:].strip())
        for line in done.stdout.splitlines()
        if line[:15].strip()
    )
    ffmpeg = installed / "opt" / "reelforge" / "ffmpeg"
    assert lines["Reelforge"] == VERSION
    assert lines["ffmpeg"] == f"{bundled_ffmpeg_version(installed)} (bundled: {ffmpeg})"
    assert (
        f"head {head_revision()}" in lines["database"]
        and f"schema {head_revision()}" in lines["database"]
    )
    assert "offscreen" in lines["Qt platform"] and "xcb" in lines["Qt platform"]


def test_headless_web_process_with_verified_outputs_and_provenance(
    installed: Path, app_env: dict[str, str], tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", size="1280x720", seconds=2.0)
    out = tmp_path / "out"
    done = reelforge(
        app_env, "process", str(clip), "-p", "web", "--out", str(out), "--json", timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = [json.loads(line) for line in done.stdout.splitlines()]
    ffmpeg_version = bundled_ffmpeg_version(installed)
    assert jobs and all(j["status"] == "succeeded" for j in jobs), jobs
    assert {j["app_version"] for j in jobs} == {VERSION}
    assert {j["ffmpeg_version"] for j in jobs} == {ffmpeg_version}

    folder = out / "clip"
    assert sorted(p.name for p in folder.iterdir()) == [
        "clip.480p.mp4",
        "clip.720p.mp4",
        "clip.poster.jpg",
    ]
    for name, size in (("clip.720p.mp4", (1280, 720)), ("clip.480p.mp4", (854, 480))):
        info = ffprobe_json(folder / name)
        video, audio = video_stream(info), audio_stream(info)
        assert video is not None and video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
        assert (video["width"], video["height"]) == size
        assert audio is not None and audio["codec_name"] == "aac"
        assert abs(duration(info) - 2.0) < 0.15, name
    assert jpeg_size(folder / "clip.poster.jpg")[0] > 0

    # Every history record keeps the versions that produced it.
    history = reelforge(app_env, "history", "--json")
    assert history.returncode == 0, history.stderr
    records = [json.loads(line) for line in history.stdout.splitlines()]
    assert {r["job"] for r in records} == {j["job"] for j in jobs}
    assert {(r["app_version"], r["ffmpeg_version"]) for r in records} == {(VERSION, ffmpeg_version)}


def self_check_lines(stdout: str) -> dict[str, str]:
    checks = {}
    for line in stdout.splitlines():
        match = re.match(r"(ok|FAIL)\s+([^:]+): (.*)", line)
        if match:
            checks[match.group(2)] = f"{match.group(1)} {match.group(3)}"
    return checks


def test_self_check_offscreen_proves_window_resources_migrations_and_ffmpeg(
    installed: Path, app_env: dict[str, str]
) -> None:
    done = reelforge(app_env, "--self-check")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = self_check_lines(done.stdout)
    internal = installed / "opt" / "reelforge" / "_internal"
    assert (
        checks["resources"].startswith("ok ")
        and str(internal / "reelforge" / "resources") in checks["resources"]
    )
    assert checks["database and migrations"].startswith(f"ok migrated to {head_revision()}")
    assert checks["ffmpeg"].startswith(f"ok {bundled_ffmpeg_version(installed)} (bundled)")
    assert checks["window"].startswith("ok shown and rendered on the 'offscreen' platform")
    assert "self-check passed" in done.stdout
    # It ran in a temporary data folder: the person's own stays untouched.
    assert not (Path(app_env["REELFORGE_HOME"]) / "history.sqlite3").exists()


@pytest.mark.skipif(
    not shutil.which("xvfb-run"), reason="xvfb-run not installed (apt-get install xvfb)"
)
def test_self_check_on_x11_loads_the_bundled_xcb_plugin(app_env: dict[str, str]) -> None:
    env = dict(app_env, QT_QPA_PLATFORM="xcb")
    done = subprocess.run(
        ["xvfb-run", "-a", "reelforge", "--self-check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert self_check_lines(done.stdout)["window"].startswith(
        "ok shown and rendered on the 'xcb' platform"
    )


# -- the portable tarball ------------------------------------------------------------------------


def test_tarball_holds_the_same_folder_and_runs(
    build: Build, installed: Path, tmp_path: Path
) -> None:
    top = f"reelforge-{VERSION}"
    with tarfile.open(build.tarball) as tar:
        members = tar.getmembers()
        assert {m.name.split("/")[0] for m in members} == {top}
        assert all(m.uid == 0 and m.gid == 0 for m in members)
        tar.extractall(tmp_path, filter="tar")
    unpacked = tmp_path / top
    opt = installed / "opt" / "reelforge"
    assert sorted(str(p.relative_to(unpacked)) for p in unpacked.rglob("*")) == sorted(
        str(p.relative_to(opt)) for p in opt.rglob("*")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    env["REELFORGE_HOME"] = str(tmp_path / "home")
    done = subprocess.run(
        [str(unpacked / "reelforge"), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"Reelforge {VERSION}", done
    shutil.rmtree(unpacked)
