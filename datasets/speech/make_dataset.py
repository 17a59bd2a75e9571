"""Rebuild datasets/speech/speakers/ from Debian's Asterisk voice-prompt packages.

Needs (only to rebuild, never at test time): apt-get, dpkg-deb and sox
(`apt-get install sox`; sox decodes the GSM prompts). Run as:

    python datasets/speech/make_dataset.py [WORKDIR]

The packages are fetched with ``apt-get download`` into WORKDIR (default
/tmp/speech-debs), unpacked with ``dpkg-deb -x``, and for each of the seven
voices the same 32 prompt names (sentences of at least 1.2 s, chosen below, deterministically) are converted
to 8 kHz mono 16-bit FLAC, trimmed to at most 3.3 s, as
``speakers/<voice>/<prompt>.flac``. A ``speakers/index.csv`` lists
speaker,file,split (split = enroll for the first 20 prompts, test for the rest) and
``speakers/trials.csv`` the verification trials speaker,file,target (every test
file against every voice; target is 1 when the file is that voice's).
"""
import csv
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# voice name -> (Debian package, folder inside the package)
VOICES = {
    "allison": ("asterisk-core-sounds-en-wav", "usr/share/asterisk/sounds/en_US_f_Allison"),
    "june": ("asterisk-core-sounds-fr-wav", "usr/share/asterisk/sounds/fr_CA_f_June"),
    "carlo": ("asterisk-core-sounds-it-wav", "usr/share/asterisk/sounds/it_IT_m_Carlo"),
    "ivrvoiceru": ("asterisk-core-sounds-ru-wav", "usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU"),
    "menardi": ("asterisk-prompt-it-menardi-wav", "usr/share/asterisk/sounds/it_IT_f_Menardi"),
    "july": ("asterisk-prompt-es-co", "usr/share/asterisk/sounds/es"),
    "armelle": ("asterisk-prompt-fr-armelle", "usr/share/asterisk/sounds/fr"),
}
N_PROMPTS = 32
N_ENROLL = 20
MAX_SECONDS = 3.3


def _prompts(root):
    names = set()
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith((".wav", ".gsm")):
                names.add(os.path.relpath(os.path.join(dirpath, f[:-4]), root))
    return names


def main(work="/tmp/speech-debs"):
    os.makedirs(work, exist_ok=True)
    pkgs = sorted({p for p, _ in VOICES.values()})
    have = os.listdir(work)
    missing = [p for p in pkgs if not any(f.startswith(p + "_") for f in have)]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=work, check=True)
    roots = {}
    for voice, (pkg, sub) in VOICES.items():
        deb = next(f for f in sorted(os.listdir(work)) if f.startswith(pkg + "_") and f.endswith(".deb"))
        dest = os.path.join(work, "x", pkg)
        if not os.path.isdir(dest):
            os.makedirs(dest)
            subprocess.run(["dpkg-deb", "-x", os.path.join(work, deb), dest], check=True)
        roots[voice] = os.path.join(dest, sub)
    # whole-sentence prompts (no digits/ folder) present for every voice, every 3rd in name order
    common = sorted(set.intersection(*(_prompts(r) for r in roots.values())))
    def seconds(voice, name):
        src = next(os.path.join(roots[voice], name + ext) for ext in (".wav", ".gsm")
                   if os.path.exists(os.path.join(roots[voice], name + ext)))
        if src.endswith(".gsm"):  # raw GSM 06.10: 33 bytes per 20 ms frame (soxi cannot tell)
            return os.path.getsize(src) / 33 * 0.020
        return float(subprocess.run(["soxi", "-D", src], check=True, capture_output=True, text=True).stdout)

    # prompts of at least 1.2 s for every voice (single words like "and" are too short to score)
    sentences = [n for n in common if "/" not in n and min(seconds(v, n) for v in roots) >= 1.2]
    chosen = sentences[::3][:N_PROMPTS]
    # interleave so both splits hold every prompt family (agent-, conf-, vm-, ...)
    order = chosen[::2] + chosen[1::2]
    out = os.path.join(HERE, "speakers")
    rows = []
    for voice, root in roots.items():
        os.makedirs(os.path.join(out, voice), exist_ok=True)
        for i, name in enumerate(order):
            convert(root, name, os.path.join(out, voice, name + ".flac"), MAX_SECONDS)
            rows.append((voice, f"{voice}/{name}.flac", "enroll" if i < N_ENROLL else "test"))
    write_lists(out, rows, "index.csv")


def convert(root, name, dst, max_seconds=None):
    """Prompt ``name`` (.wav or raw .gsm under ``root``) as 8 kHz mono 16-bit FLAC ``dst`` (sox)."""
    src = next(os.path.join(root, name + ext) for ext in (".wav", ".gsm")
               if os.path.exists(os.path.join(root, name + ext)))
    trim = [] if max_seconds is None else ["trim", "0", str(max_seconds)]
    subprocess.run(["sox", "-D", src, "-r", "8000", "-c", "1", "-b", "16", dst, *trim], check=True)


def write_lists(out, rows, list_name):
    """``out/list_name`` (speaker,file,split for ``rows``) and ``out/trials.csv``: every test file
    against every voice (target 1 for its own)."""
    with open(os.path.join(out, list_name), "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["speaker", "file", "split"])
        w.writerows(rows)
    voices = list(dict.fromkeys(v for v, _, _ in rows))
    with open(os.path.join(out, "trials.csv"), "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["speaker", "file", "target"])
        for claimed in voices:
            w.writerows([claimed, path, int(claimed == voice)] for voice, path, split in rows if split == "test")


if __name__ == "__main__":
    main(*sys.argv[1:])
