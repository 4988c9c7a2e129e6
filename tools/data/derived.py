"""Datasets synthesised deterministically from Debian tools or built from other fetched
datasets: spoken digits, (image, word, speech) triplets, and audio-visual digit sequences."""
import json
import random
import shutil
import subprocess
import wave
from pathlib import Path

from common import DIGIT_WORDS, apt_install, run, write_manifest

RATE = 16000
# (engine, voice). Several voices and speeds per word, so a model must generalise over
# speakers; the test split holds out one speed of every voice.
VOICES = [("espeak-ng", v) for v in ("en-us", "en-us+f2", "en-gb", "en-gb-x-rp+m3", "en-us+f4", "en-gb-scotland")] + [
    ("flite", v) for v in ("kal", "slt", "rms", "awb")
]
SPEEDS = [0.8, 0.9, 1.0, 1.15, 1.3]  # duration stretch: < 1 speaks faster
TEST_SPEED = 1.15


def synthesize(engine, voice, stretch, word, raw_path):
    if engine == "espeak-ng":
        run(["espeak-ng", "-v", voice, "-s", str(round(175 / stretch)), "-w", str(raw_path), word])
    else:
        run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", word, "-o", str(raw_path)])


def spoken_digits(out, work):
    """The ten digit words spoken by espeak-ng and flite voices at five speeds, as 16 kHz
    mono 16-bit WAV with leading and trailing silence trimmed (sox)."""
    apt_install("espeak-ng", "flite", "sox")
    records = {"train": [], "test": []}
    (out / "wav").mkdir()
    for engine, voice in VOICES:
        for stretch in SPEEDS:
            for label, word in enumerate(DIGIT_WORDS):
                name = f"{word}_{engine}_{voice.replace('+', '-')}_{stretch}.wav"
                raw = Path(work) / "raw.wav"
                synthesize(engine, voice, stretch, word, raw)
                trim = ["silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse"]
                run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out / "wav" / name), *trim])
                split = "test" if stretch == TEST_SPEED else "train"
                records[split].append({"id": name[:-4], "audio": f"wav/{name}", "caption": word, "label": label})
    for split, recs in records.items():
        write_manifest(out / f"{split}.jsonl", recs)


def read_manifest(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def by_label(records):
    groups = {}
    for r in records:
        groups.setdefault(r["label"], []).append(r)
    return groups


def av_digits(out, work, root):
    """(MNIST image, digit word, spoken digit) triplets: every MNIST example paired with a
    clip of its digit drawn (seed 0) from the same split of spoken-digits. Paths point into
    the sibling `mnist` and `spoken-digits` folders."""
    rng = random.Random(0)
    for split in ("train", "test"):
        clips = by_label(read_manifest(root / "spoken-digits" / f"{split}.jsonl"))
        records = []
        for r in read_manifest(root / "mnist" / f"{split}.jsonl"):
            clip = rng.choice(clips[r["label"]])
            records.append({
                "id": r["id"],
                "image": f"../mnist/{r['image']}",
                "caption": DIGIT_WORDS[r["label"]],
                "audio": f"../spoken-digits/{clip['audio']}",
                "label": r["label"],
            })
        write_manifest(out / f"{split}.jsonl", records)


def read_wav(path):
    import numpy as np

    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)


def write_wav(path, samples):
    import numpy as np

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(np.rint(samples), -32768, 32767).astype(np.int16).tobytes())


def with_noise(samples, snr_db, rng):
    """White Gaussian noise scaled so that signal power / noise power = 10^(snr_db / 10)."""
    import numpy as np

    power = max(float(np.mean(samples**2)), 1e-9)
    return samples + rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), samples.shape)


SEGMENT_S, FPS = 0.8, 10


def av_digit_sequences(out, work, root, snrs=(0.0,), train_count=1000):
    """Short clips of k = 2..4 digits: the video shows each digit's MNIST image for 0.8 s
    (10 fps, 28×28 grey, lossless H.264 MP4); the audio (16 kHz) speaks each digit in the
    same 0.8 s window; the caption is the transcript. `train_count` clips for train and a
    fifth as many for test. For each SNR in `snrs`, a copy of the
    audio with white noise at that SNR (seeded) and a manifest `{split}-snr{db}.jsonl`."""
    import numpy as np
    from PIL import Image

    apt_install("ffmpeg")
    seg = int(SEGMENT_S * RATE)
    rng = random.Random(1)
    noise_rng = np.random.default_rng(2)
    for split, count in (("train", train_count), ("test", max(1, train_count // 5))):
        clips = by_label(read_manifest(root / "spoken-digits" / f"{split}.jsonl"))
        images = by_label(read_manifest(root / "mnist" / f"{split}.jsonl"))
        for sub in ("video", "audio", *(f"audio-snr{db:g}" for db in snrs)):
            (out / sub / split).mkdir(parents=True)
        records, noisy = [], {db: [] for db in snrs}
        for i in range(count):
            digits = [rng.randrange(10) for _ in range(rng.randint(2, 4))]
            audio = np.zeros(seg * len(digits))
            frames = []
            for j, d in enumerate(digits):
                clip = read_wav(root / "spoken-digits" / rng.choice(clips[d])["audio"])[:seg]
                audio[j * seg : j * seg + len(clip)] = clip
                img = np.asarray(Image.open(root / "mnist" / rng.choice(images[d])["image"]))
                frames += [img] * int(SEGMENT_S * FPS)
            stem = f"{split}-{i:05d}"
            video = out / "video" / split / f"{stem}.mp4"
            encode = ["ffmpeg", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "28x28", "-r", str(FPS), "-i", "-",
                      "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-threads", "1", "-pix_fmt", "yuv420p",
                      "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", str(video)]
            subprocess.run(encode, input=np.stack(frames).astype(np.uint8).tobytes(), check=True)
            write_wav(out / "audio" / split / f"{stem}.wav", audio)
            record = {"id": stem, "video": f"video/{split}/{stem}.mp4", "audio": f"audio/{split}/{stem}.wav",
                      "caption": " ".join(DIGIT_WORDS[d] for d in digits)}
            records.append(record)
            for db in snrs:
                rel = f"audio-snr{db:g}/{split}/{stem}.wav"
                write_wav(out / rel, with_noise(audio, db, noise_rng))
                noisy[db].append({**record, "audio": rel})
        write_manifest(out / f"{split}.jsonl", records)
        for db, recs in noisy.items():
            write_manifest(out / f"{split}-snr{db:g}.jsonl", recs)


MOVES = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def moving_digits(out, work, root, train_count=1000, size=64, frames=8, step=4):
    """Captioned synthetic videos: one or two MNIST digits (28×28, from the same split of
    `mnist`) sliding `step` pixels a frame left/right/up/down across a black `size`×`size`
    grey canvas for `frames` frames (8 fps, lossless H.264 MP4; overlapping digits are
    combined by maximum). Caption: "the digit 3 moves left" (digits as numerals), joined
    with "and" for two digits. `train_count` train clips, a fifth as many test clips."""
    import numpy as np
    from PIL import Image

    apt_install("ffmpeg")
    rng = random.Random(3)
    travel = step * (frames - 1)
    for split, count in (("train", train_count), ("test", max(1, train_count // 5))):
        images = by_label(read_manifest(root / "mnist" / f"{split}.jsonl"))
        (out / "video" / split).mkdir(parents=True)
        records, clips = [], []
        for i in range(count):
            canvas = np.zeros((frames, size, size), dtype=np.uint8)
            phrases = []
            for _ in range(rng.randint(1, 2)):
                digit, move = rng.randrange(10), rng.choice(sorted(MOVES))
                img = np.asarray(Image.open(root / "mnist" / rng.choice(images[digit])["image"]).convert("L"))
                dx, dy = MOVES[move]
                # start so that the whole trajectory stays inside the canvas
                span = size - 28
                x0 = rng.randint(travel if dx < 0 else 0, span - (travel if dx > 0 else 0))
                y0 = rng.randint(travel if dy < 0 else 0, span - (travel if dy > 0 else 0))
                for f in range(frames):
                    x, y = x0 + dx * step * f, y0 + dy * step * f
                    np.maximum(canvas[f, y : y + 28, x : x + 28], img, out=canvas[f, y : y + 28, x : x + 28])
                phrases.append(f"the digit {digit} moves {move}")
            clips.append(canvas)
            stem = f"{split}-{i:05d}"
            records.append({"id": stem, "video": f"video/{split}/{stem}.mp4", "caption": " and ".join(phrases)})
        # One ffmpeg for the whole split (a process per clip costs minutes on a loaded
        # machine): a key frame every `frames` frames, cut into one MP4 per clip.
        fps = 8
        encode = ["ffmpeg", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{size}x{size}", "-r", str(fps), "-i", "-",
                  "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-threads", "1", "-pix_fmt", "yuv420p",
                  "-force_key_frames", f"expr:eq(mod(n,{frames}),0)", "-g", str(frames), "-sc_threshold", "0",
                  "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
                  "-f", "segment", "-segment_time", str(frames / fps), "-reset_timestamps", "1",
                  "-segment_format", "mp4", "-segment_format_options", "fflags=+bitexact",
                  str(out / "video" / split / f"{split}-%05d.mp4")]
        subprocess.run(encode, input=np.stack(clips).tobytes(), check=True)
        made = len(list((out / "video" / split).glob("*.mp4")))
        if made != count:
            raise RuntimeError(f"moving-digits: ffmpeg cut {made} clips for {count} {split} videos")
        write_manifest(out / f"{split}.jsonl", records)
