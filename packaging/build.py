#!/usr/bin/env python3
"""Builds Reelforge's installers from a checkout (run from the repository root, in the venv
the README's install made):

    python packaging/build.py linux    dist/reelforge_<v>_amd64.deb and
                                       dist/reelforge-<v>-linux-x86_64.tar.gz
    python packaging/build.py windows  dist/reelforge-<v>-windows-x64-setup.exe (on Windows)
    python packaging/build.py macos    dist/Reelforge-<v>-macos-<arch>.dmg (on macOS)

Each freezes the app with PyInstaller (packaging/reelforge.spec, one folder), adds LICENSE,
THIRD-PARTY-NOTICES.txt and the licence texts, then wraps the folder in the platform's
installer. On the wrong OS, windows and macos print their exact steps and exit 2.
packaging/README.md explains every step.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.metadata as md
import os
import platform
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "reelforge.spec"
ICON_SVG = ROOT / "resources" / "icons" / "reelforge.svg"
HICOLOR_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
SUMMARY = "Batch media processing: drop videos, get verified renditions and thumbnails"
DESCRIPTION = """\
Reelforge turns dropped videos into verified web renditions (H.264/AAC ladders),
posters, contact sheets, audio extracts and animated previews, with a full local
history of every job. A Qt desktop app and a headless CLI (`reelforge process`)
on one engine. Ships its own ffmpeg build and Python runtime under /opt/reelforge."""
# Used when neither --maintainer nor DEBFULLNAME/DEBEMAIL is given. ".invalid" is reserved
# (RFC 2606): clearly not a real mailbox, rather than a made-up one.
DEFAULT_MAINTAINER = "Reelforge developers <maintainers@reelforge.invalid>"


class BuildError(Exception):
    """A step failed; str() is one line a person can act on."""


def version() -> str:
    """The one version source, app/reelforge/__about__.py, parsed rather than imported."""
    tree = ast.parse((ROOT / "app" / "reelforge" / "__about__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__version__":
            return str(ast.literal_eval(node.value))
    raise BuildError("no __version__ in app/reelforge/__about__.py")


def run(cmd: Sequence[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    args = [str(c) for c in cmd]
    print("+ " + shlex.join(args), flush=True)
    return subprocess.run(args, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def need_tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BuildError(f"{name} not found: {hint}")
    return found


def du(path: Path) -> int:
    """Bytes on disk like `du -sb`, symlinks not followed."""
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB"


# -- freezing ----------------------------------------------------------------------------------


def freeze(work: Path, *, ffmpeg: str | None, icon: Path | None) -> Path:
    """PyInstaller one-folder build; returns dist folder holding reelforge/ (and Reelforge.app)."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise BuildError(
            "PyInstaller is not installed: pip install -e '.[test]' (it is in the test extra)"
        ) from None
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    env = dict(os.environ)
    if ffmpeg:
        env["REELFORGE_BUILD_FFMPEG"] = str(Path(ffmpeg).resolve())
    if icon:
        env["REELFORGE_BUILD_ICON"] = str(icon)
    started = time.monotonic()
    run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
            "--distpath",
            dist,
            "--workpath",
            work / "pyinstaller",
            SPEC,
        ],
        env=env,
        cwd=ROOT,
    )
    print(f"frozen in {time.monotonic() - started:.0f} s", flush=True)
    return dist


def add_legal_files(target: Path, *, ffmpeg_exe: Path, system_libs: dict[str, str]) -> None:
    """LICENSE, CHANGELOG.md, THIRD-PARTY-NOTICES.txt and licenses/ into the bundle folder."""
    shutil.copy2(ROOT / "LICENSE", target / "LICENSE")
    shutil.copy2(ROOT / "CHANGELOG.md", target / "CHANGELOG.md")
    texts = target / "licenses"
    shutil.rmtree(texts, ignore_errors=True)
    texts.mkdir()
    notices = third_party_notices(texts, ffmpeg_exe=ffmpeg_exe, system_libs=system_libs)
    (target / "THIRD-PARTY-NOTICES.txt").write_text(notices, encoding="utf-8")


def runtime_distributions() -> list[md.Distribution]:
    """reelforge's runtime requirements, transitively (extras left out): what the bundle holds."""
    seen: dict[str, md.Distribution] = {}
    todo = ["reelforge"]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # a platform-specific requirement that this platform does not install
        seen[key] = dist
        for req in dist.requires or []:
            if "extra ==" in req.replace('extra=="', 'extra == "'):
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req)
            if match:
                todo.append(match.group(0))
    seen.pop("reelforge", None)
    return sorted(seen.values(), key=lambda d: d.metadata["Name"].lower())


def license_of(dist: md.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and text != "UNKNOWN" and "\n" not in text and len(text) < 80:
        return text
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    return "; ".join(c for c in classifiers if c != "OSI Approved") or "see its licence file"


def ffmpeg_build_info(ffmpeg_exe: Path) -> tuple[str, str]:
    """(first line of `ffmpeg -version`, its configuration line)."""
    out = subprocess.run(
        [str(ffmpeg_exe), "-hide_banner", "-version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    config = next((line for line in out if line.startswith("configuration:")), "")
    return (out[0] if out else "ffmpeg"), config


def third_party_notices(texts: Path, *, ffmpeg_exe: Path, system_libs: dict[str, str]) -> str:
    import PySide6

    first, config = ffmpeg_build_info(ffmpeg_exe)
    gpl = "--enable-gpl" in config
    dists = runtime_distributions()
    lines = [
        f"Reelforge {version()}: third-party software in this bundle",
        "",
        "Reelforge is free software under the GNU General Public License, version 3 or later",
        "(LICENSE). It is GPL on purpose: the ffmpeg it ships is built with GPL encoders",
        "(libx264, libx265), and PyAV's bundled FFmpeg libraries are too. Full licence texts of",
        "everything below are in the licenses/ folder next to this file (LGPL-3.0.txt for Qt,",
        "python/ for each Python package, debian/ for libraries copied from the build system).",
        "",
        "ffmpeg (the ffmpeg executable next to reelforge)",
        f"  {first}",
        "  licence: "
        + ("GPL-3.0-or-later (built with --enable-gpl)" if gpl else "LGPL-2.1-or-later"),
        f"  {config}",
        "  Its corresponding source is FFmpeg's at the git revision in the version string above",
        "  plus the libraries named in the configuration line. Whoever distributes this bundle",
        "  must offer that source with it (GPL-3.0 section 6); packaging/README.md says how.",
        "",
        f"Qt {PySide6.__version_info__[0]}.{PySide6.__version_info__[1]}."
        f"{PySide6.__version_info__[2]} (_internal/PySide6/Qt/lib, plugins) via PySide6",
        "  licence: LGPL-3.0-only (licenses/LGPL-3.0.txt; also offered under GPL-2.0/3.0).",
        "  The Qt libraries are shared libraries in _internal/PySide6/Qt/lib: you may replace",
        "  them with your own build of the same Qt version. Qt's ICU data (libicu*) is under",
        "  the Unicode licence.",
        "",
        f"Python {platform.python_version()} runtime (_internal/libpython*, base_library.zip)",
        "  licence: PSF-2.0",
        "",
        "PyInstaller bootloader (the reelforge executable's start-up code)",
        "  licence: GPL-2.0-or-later with the bootloader exception",
        "  (licenses/pyinstaller-bootloader)",
        "",
        "Python packages (name, version, licence from the package's metadata):",
    ]
    width = max(len(d.metadata["Name"]) for d in dists) + 2
    for dist in dists:
        name, ver = dist.metadata["Name"], dist.version
        note = ""
        if name.lower() == "imageio-ffmpeg":
            note = "  (its ffmpeg binary is the ffmpeg above; the Python module is not bundled)"
        elif name.lower() == "av":
            note = "  (bundles FFmpeg's libraries in _internal/av.libs, built with GPL parts)"
        lines.append(f"  {name:<{width}}{ver:<12}{license_of(dist)}{note}")
        copy_license_files(dist, texts / "python" / f"{name}-{ver}")
    if system_libs:
        lines += [
            "",
            "Shared libraries copied from the build system (library: Debian package, version);",
            "their Debian copyright files, with the licences, are in licenses/debian/:",
        ]
        width = max(len(lib) for lib in system_libs) + 2
        for lib, pkg in sorted(system_libs.items()):
            lines.append(f"  {lib:<{width}}{pkg}")
        for pkg_name in sorted({p.split()[0] for p in system_libs.values()}):
            copyright_file = Path("/usr/share/doc") / pkg_name / "copyright"
            if copyright_file.is_file():
                (texts / "debian").mkdir(parents=True, exist_ok=True)
                shutil.copy2(copyright_file, texts / "debian" / f"{pkg_name}.copyright")
    lines.append("")
    # PySide6's wheels carry no licence text: Qt's LGPL-3.0 ships from packaging/licenses
    # (LGPL-3.0 builds on the GPL-3.0 text, which is LICENSE).
    shutil.copy2(PACKAGING / "licenses" / "LGPL-3.0.txt", texts / "LGPL-3.0.txt")
    with contextlib.suppress(md.PackageNotFoundError):  # the bootloader in the executable
        copy_license_files(md.distribution("pyinstaller"), texts / "pyinstaller-bootloader")
    return "\n".join(lines)


def copy_license_files(dist: md.Distribution, target: Path) -> None:
    for f in dist.files or []:
        name = f.name.upper()
        if f.suffix == ".pyc" or not any(k in name for k in ("LICEN", "COPYING", "NOTICE")):
            continue
        src = Path(str(dist.locate_file(f)))
        if src.is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / f.name)


# -- icons -------------------------------------------------------------------------------------


def render_pngs(svg: Path, sizes: Iterable[int], out: Path) -> dict[int, Path]:
    """PNG renderings of the SVG icon with Qt's SVG renderer (offscreen: no display needed)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # read when the application is made
        _app = QGuiApplication(["reelforge-build"])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise BuildError(f"cannot read the icon {svg}")
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        path = out / f"reelforge-{size}.png"
        if not image.save(str(path), "PNG"):
            raise BuildError(f"could not write {path}")
        made[size] = path
    return made


def write_ico(pngs: dict[int, Path], target: Path) -> Path:
    """A Windows .ico holding PNG images (Vista and later read them), largest last."""
    sizes = sorted(s for s in pngs if s <= 256)
    blobs = [pngs[s].read_bytes() for s in sizes]
    offset = 6 + 16 * len(sizes)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    entries = b""
    for size, blob in zip(sizes, blobs, strict=True):
        dim = 0 if size == 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        offset += len(blob)
    target.write_bytes(header + entries + b"".join(blobs))
    return target


# -- Linux -------------------------------------------------------------------------------------


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def linked_libraries(bundle: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Libraries the bundle's ELF files load from outside the bundle, and the ones not found.

    ldd runs with the bundle's library folder on LD_LIBRARY_PATH, as the PyInstaller
    bootloader sets it, so what it resolves inside the bundle is what the app loads.
    Both maps go from the library (path, or soname when missing) to the files needing it.
    """
    internal = bundle / "_internal"
    env = dict(os.environ, LD_LIBRARY_PATH=str(internal), LC_ALL="C")
    outside: dict[str, set[str]] = {}
    missing: dict[str, set[str]] = {}
    for elf in elf_files(bundle):
        done = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env)
        if done.returncode != 0:  # "not a dynamic executable": the static ffmpeg
            continue
        user = str(elf.relative_to(bundle))
        for line in done.stdout.splitlines():
            soname, _, rest = line.strip().partition(" => ")
            target = rest.split(" (")[0].strip()
            if target == "not found":
                missing.setdefault(soname, set()).add(user)
            elif target.startswith("/") and not Path(target).resolve().is_relative_to(bundle):
                outside.setdefault(target, set()).add(user)
    return outside, missing


def debian_package_of(paths: Iterable[str]) -> dict[str, str]:
    """path -> Debian package owning it (via dpkg -S; tries the /usr-merged twin path too)."""
    owners: dict[str, str] = {}
    for path in paths:
        candidates = [path, os.path.realpath(path)]
        candidates += [
            c.removeprefix("/usr") if c.startswith("/usr/") else "/usr" + c for c in candidates
        ]
        for candidate in dict.fromkeys(candidates):
            done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if done.returncode == 0 and ": " in done.stdout:
                owners[path] = done.stdout.split(": ")[0].split(", ")[0].split(":")[0]
                break
    return owners


def package_version(package: str) -> str:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else "?"


def glibc_floor(bundle: Path) -> str | None:
    """The newest GLIBC_x.y symbol version any bundled ELF file needs (libc6's minimum)."""
    need_tool("objdump", "install binutils (PyInstaller needs it too)")
    best: tuple[int, ...] = ()
    for elf in elf_files(bundle):
        out = subprocess.run(["objdump", "-T", str(elf)], capture_output=True, text=True).stdout
        for match in re.finditer(r"GLIBC_(\d+(?:\.\d+)+)", out):
            best = max(best, tuple(int(x) for x in match.group(1).split(".")))
    return ".".join(map(str, best)) if best else None


def system_copies(bundle: Path) -> dict[str, str]:
    """Bundled libraries that PyInstaller copied from the build system: name -> "pkg version".

    Found by content: a bundled file identical to one in the system library folders.
    """
    libdirs = [Path("/lib/x86_64-linux-gnu"), Path("/usr/lib/x86_64-linux-gnu"), Path("/usr/lib")]
    matches: dict[str, str] = {}
    for lib in (bundle / "_internal").glob("lib*.so*"):
        if lib.is_symlink() or not lib.is_file():
            continue
        for d in libdirs:
            twin = d / lib.name
            same_size = twin.is_file() and twin.stat().st_size == lib.stat().st_size
            if same_size and twin.read_bytes() == lib.read_bytes():
                matches[lib.name] = str(twin)
                break
    owners = debian_package_of(matches.values())
    return {
        name: f"{owners[path]} {package_version(owners[path])}"
        for name, path in matches.items()
        if path in owners
    }


def debian_depends(bundle: Path) -> tuple[list[str], dict[str, set[str]]]:
    """Depends: the packages providing every library the bundle loads from the system."""
    outside, missing = linked_libraries(bundle)
    if missing:
        listing = "; ".join(
            f"{lib} (needed by {sorted(users)[0]})" for lib, users in sorted(missing.items())
        )
        raise BuildError(
            "the bundle links libraries this machine does not have, so their Debian packages "
            f"cannot be determined: {listing}. Install them (see packaging/README.md) and rebuild"
        )
    owners = debian_package_of(outside)
    unowned = sorted(set(outside) - set(owners))
    if unowned:
        raise BuildError(f"no Debian package owns {', '.join(unowned)}")
    packages = sorted(set(owners.values()))
    floor = glibc_floor(bundle)
    depends = [f"libc6 (>= {floor})" if p == "libc6" and floor else p for p in packages]
    return depends, outside


CONTROL = """\
Package: reelforge
Version: {version}
Architecture: amd64
Maintainer: {maintainer}
Installed-Size: {installed_kib}
Depends: {depends}
Section: video
Priority: optional
Description: {summary}
{description}
"""

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Reelforge

Files: *
Copyright: Reelforge developers
License: GPL-3+
 Reelforge is free software: you can redistribute it and/or modify it under the terms
 of the GNU General Public License as published by the Free Software Foundation,
 either version 3 of the License, or (at your option) any later version.
 .
 On Debian systems, the complete text of the GNU General Public License version 3 can
 be found in /usr/share/common-licenses/GPL-3.
Comment: /opt/reelforge holds a frozen Python runtime, Qt, PyAV and an ffmpeg build.
 Each of them, with its version and licence, is listed in
 /opt/reelforge/THIRD-PARTY-NOTICES.txt; the full licence texts are in
 /opt/reelforge/licenses/.
"""


def stage_deb(
    bundle: Path, root: Path, *, ver: str, maintainer: str, icons: dict[int, Path]
) -> list[str]:
    shutil.rmtree(root, ignore_errors=True)
    opt = root / "opt" / "reelforge"
    opt.parent.mkdir(parents=True)
    shutil.copytree(bundle, opt, symlinks=True, copy_function=link_or_copy)
    (root / "usr" / "bin").mkdir(parents=True)
    # Absolute, as Debian policy wants for links between top-level folders.
    (root / "usr" / "bin" / "reelforge").symlink_to("/opt/reelforge/reelforge")
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(PACKAGING / "linux" / "reelforge.desktop", apps / "reelforge.desktop")
    hicolor = root / "usr" / "share" / "icons" / "hicolor"
    for size, png in icons.items():
        folder = hicolor / f"{size}x{size}" / "apps"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, folder / "reelforge.png")
    (hicolor / "scalable" / "apps").mkdir(parents=True)
    shutil.copy2(ICON_SVG, hicolor / "scalable" / "apps" / "reelforge.svg")
    doc = root / "usr" / "share" / "doc" / "reelforge"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT, encoding="utf-8")

    depends, _ = debian_depends(opt)
    debian = root / "DEBIAN"
    debian.mkdir()
    description = "\n".join(" " + line if line else " ." for line in DESCRIPTION.splitlines())
    (debian / "control").write_text(
        CONTROL.format(
            version=ver,
            maintainer=maintainer,
            installed_kib=(du(root) + 1023) // 1024,
            depends=", ".join(depends),
            summary=SUMMARY,
            description=description,
        ),
        encoding="utf-8",
    )
    for script in ("postinst", "postrm"):
        shutil.copy2(PACKAGING / "linux" / script, debian / script)
        (debian / script).chmod(0o755)
    for path in [root, *root.rglob("*")]:  # dpkg-deb refuses group/world-writable control files
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & ~0o022)
    return depends


def link_or_copy(src: str, dst: str) -> None:
    """Hard links: the staged tree is read once by dpkg-deb, 450 MB need not be copied."""
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def make_tarball(bundle: Path, target: Path, top: str, level: int) -> None:
    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode &= ~0o022
        return info

    tmp = target.with_name(target.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=level) as tar:
        tar.add(bundle, arcname=top, filter=as_root)
    tmp.replace(target)


def default_maintainer() -> str:
    name, email = os.environ.get("DEBFULLNAME"), os.environ.get("DEBEMAIL")
    return f"{name} <{email}>" if name and email else DEFAULT_MAINTAINER


def build_linux(args: argparse.Namespace) -> int:
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        raise BuildError(
            f"the Linux packages are built on Linux x86_64, not {sys.platform} {platform.machine()}"
        )
    need_tool("dpkg-deb", "install dpkg (it is on every Debian and Ubuntu)")
    need_tool("ldd", "install libc-bin")
    ver = version()
    work, out = args.work.resolve(), args.out.resolve()
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    dist = freeze(work, ffmpeg=args.ffmpeg, icon=None)
    bundle = dist / "reelforge"
    add_legal_files(bundle, ffmpeg_exe=bundle / "ffmpeg", system_libs=system_copies(bundle))
    icons = render_pngs(ICON_SVG, HICOLOR_SIZES, work / "icons")

    root = work / "deb" / f"reelforge_{ver}_amd64"
    depends = stage_deb(bundle, root, ver=ver, maintainer=args.maintainer, icons=icons)
    deb = out / f"reelforge_{ver}_amd64.deb"
    compression = ["-Zgzip", "-z1"] if args.fast else ["-Zxz", "-z6"]
    run(
        ["dpkg-deb", "--root-owner-group", *compression, "--build", root, deb],
        stdout=subprocess.DEVNULL,
    )
    tarball = out / f"reelforge-{ver}-linux-x86_64.tar.gz"
    make_tarball(bundle, tarball, f"reelforge-{ver}", level=1 if args.fast else 6)

    print()
    print(f"bundle   {bundle}  {mib(du(bundle))}")
    print(f"deb      {deb}  {mib(deb.stat().st_size)}")
    print(f"tarball  {tarball}  {mib(tarball.stat().st_size)}")
    print(f"Depends: {', '.join(depends)}")
    print(f"built in {time.monotonic() - started:.0f} s")
    return 0


# -- Windows and macOS -------------------------------------------------------------------------

WINDOWS_STEPS = """\
On Windows 10/11 x64, in the repository root (Python 3.11+, Inno Setup 6 installed):

  py -3.11 -m venv .venv
  .venv\\Scripts\\pip install -e ".[test]"
  .venv\\Scripts\\python packaging\\build.py windows

which runs:
  1. PyInstaller with packaging\\reelforge.spec -> build\\windows\\dist\\reelforge\\
     (reelforge.exe without a console, reelforge-cli.exe with one, ffmpeg.exe, _internal\\)
  2. LICENSE, CHANGELOG.md, THIRD-PARTY-NOTICES.txt and licenses\\ into that folder
  3. "C:\\Program Files (x86)\\Inno Setup 6\\ISCC.exe" /DAppVersion=<version>
       /DSourceDir=build\\windows\\dist\\reelforge /DOutputDir=dist
       packaging\\windows\\reelforge.iss
     -> dist\\reelforge-<version>-windows-x64-setup.exe
Signing and the same steps by hand: packaging/README.md ("Windows")."""

MACOS_STEPS = """\
On macOS 11+ (the architecture of the Python used is the app's), in the repository root:

  python3.11 -m venv .venv
  .venv/bin/pip install -e '.[test]'
  .venv/bin/python packaging/build.py macos [--sign "Developer ID Application: NAME (TEAMID)"]
      [--notary-profile PROFILE]

which runs:
  1. PyInstaller with packaging/reelforge.spec -> build/macos/dist/Reelforge.app
     (Info.plist from packaging/macos/Info.plist: video document types, version)
  2. LICENSE, CHANGELOG.md, THIRD-PARTY-NOTICES.txt and licenses/ into Contents/Resources
  3. with --sign: codesign --force --timestamp --options runtime --entitlements
     packaging/macos/entitlements.plist on every Mach-O file inside, then on the .app
  4. hdiutil create -volname "Reelforge <version>" -srcfolder <staging with the .app and an
     /Applications link> -ov -format UDZO dist/Reelforge-<version>-macos-<arch>.dmg
  5. with --notary-profile: xcrun notarytool submit <dmg> --keychain-profile PROFILE --wait,
     then xcrun stapler staple <dmg>
The same commands, to run by hand, are in packaging/README.md ("macOS")."""


def build_windows(args: argparse.Namespace) -> int:
    if sys.platform != "win32":
        print(f"The Windows installer is built on Windows, not {sys.platform}.\n", file=sys.stderr)
        print(WINDOWS_STEPS)
        return 2
    iscc = shutil.which("ISCC") or r"C:\Program Files (x86)\Inno Setup 6\ISCC.exe"
    if not Path(iscc).is_file():
        raise BuildError("Inno Setup 6 (ISCC.exe) not found: install it or put ISCC on PATH")
    ver = version()
    work, out = args.work.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    icons = render_pngs(ICON_SVG, (16, 24, 32, 48, 64, 128, 256), work / "icons")
    ico = write_ico(icons, work / "reelforge.ico")
    bundle = freeze(work, ffmpeg=args.ffmpeg, icon=ico) / "reelforge"
    add_legal_files(bundle, ffmpeg_exe=bundle / "ffmpeg.exe", system_libs={})
    shutil.copy2(ico, bundle / "reelforge.ico")
    run(
        [
            iscc,
            f"/DAppVersion={ver}",
            f"/DSourceDir={bundle}",
            f"/DOutputDir={out}",
            PACKAGING / "windows" / "reelforge.iss",
        ]
    )
    print(f"bundle {mib(du(bundle))}; installer in {out}")
    return 0


def build_macos(args: argparse.Namespace) -> int:
    if sys.platform != "darwin":
        print(f"The macOS app and dmg are built on macOS, not {sys.platform}.\n", file=sys.stderr)
        print(MACOS_STEPS)
        return 2
    ver, arch = version(), platform.machine()
    work, out = args.work.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    iconset = work / "Reelforge.iconset"
    shutil.rmtree(iconset, ignore_errors=True)
    pngs = render_pngs(ICON_SVG, (16, 32, 64, 128, 256, 512, 1024), work / "icons")
    iconset.mkdir(parents=True)
    for size in (16, 32, 128, 256, 512):
        shutil.copy2(pngs[size], iconset / f"icon_{size}x{size}.png")
        shutil.copy2(pngs[size * 2], iconset / f"icon_{size}x{size}@2x.png")
    icns = work / "Reelforge.icns"
    run(["iconutil", "-c", "icns", iconset, "-o", icns])
    app = freeze(work, ffmpeg=args.ffmpeg, icon=icns) / "Reelforge.app"
    resources = app / "Contents" / "Resources"
    add_legal_files(resources, ffmpeg_exe=app / "Contents" / "MacOS" / "ffmpeg", system_libs={})
    if args.sign:
        entitlements = PACKAGING / "macos" / "entitlements.plist"
        sign = ["codesign", "--force", "--timestamp", "--options", "runtime"]
        sign += ["--entitlements", str(entitlements), "--sign", args.sign]
        # Inside out: nested code first, the bundle last (--deep is not meant for signing).
        for path in sorted(app.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_file() and not path.is_symlink() and is_macho(path):
                run([*sign, path])
        run([*sign, app])
        run(["codesign", "--verify", "--strict", "--deep", "--verbose=2", app])
    staging = work / "dmg"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copytree(app, staging / "Reelforge.app", symlinks=True)
    (staging / "Applications").symlink_to("/Applications")
    dmg = out / f"Reelforge-{ver}-macos-{arch}.dmg"
    run(
        [
            "hdiutil",
            "create",
            "-volname",
            f"Reelforge {ver}",
            "-srcfolder",
            staging,
            "-ov",
            "-format",
            "UDZO",
            dmg,
        ]
    )
    if args.sign:
        run(["codesign", "--force", "--timestamp", "--sign", args.sign, dmg])
    if args.notary_profile:
        run(
            [
                "xcrun",
                "notarytool",
                "submit",
                dmg,
                "--keychain-profile",
                args.notary_profile,
                "--wait",
            ]
        )
        run(["xcrun", "stapler", "staple", dmg])
    print(f"app {mib(du(app))}; dmg {dmg} {mib(dmg.stat().st_size)}")
    return 0


def is_macho(path: Path) -> bool:
    with path.open("rb") as f:
        magic = f.read(4)
    return magic in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


# -- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="packaging/build.py", description="Build Reelforge's installers."
    )
    sub = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    targets = {
        "linux": (build_linux, "the .deb and the portable .tar.gz (on Linux x86_64)"),
        "windows": (build_windows, "the Inno Setup installer (on Windows; elsewhere: the steps)"),
        "macos": (build_macos, "the .app in a .dmg (on macOS; elsewhere: the steps)"),
    }
    for name, (func, text) in targets.items():
        p = sub.add_parser(name, help=text)
        p.set_defaults(func=func)
        p.add_argument("--out", type=Path, default=ROOT / "dist", help="artifacts (default: dist/)")
        p.add_argument(
            "--work",
            type=Path,
            default=ROOT / "build" / name,
            help="scratch (default: build/TARGET/)",
        )
        p.add_argument(
            "--ffmpeg",
            metavar="PATH",
            help="ffmpeg to ship (default: the imageio-ffmpeg wheel's); an ffprobe next to it "
            "ships too",
        )
        if name == "linux":
            p.add_argument(
                "--maintainer", default=default_maintainer(), help="the .deb's Maintainer field"
            )
            p.add_argument(
                "--fast",
                action="store_true",
                help="light compression (gzip -1) for CI and local checks; releases use xz",
            )
        if name == "macos":
            p.add_argument("--sign", metavar="IDENTITY", help="codesign identity (Developer ID)")
            p.add_argument(
                "--notary-profile", metavar="PROFILE", help="notarytool keychain profile"
            )
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BuildError as err:
        print(f"build.py: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(
            f"build.py: {shlex.join(map(str, err.cmd))} failed (exit {err.returncode})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
