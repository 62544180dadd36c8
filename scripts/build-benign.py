#!/usr/bin/env python3
"""Builds the benign reference set for the injection detector from material on this machine.

Reproducible: it reads only files whose content is fixed by a version: the Python standard
library of the running interpreter (source code, docstrings, the e-mail test messages, HTML and
JSON fixtures), the sources of the crates pinned in Cargo.lock (READMEs, docs, Rust code, JSON
fixtures; run `cargo fetch --locked` first), and the Markdown notes in ../shared (which discuss
prompt injection). Files are listed in sorted order and cut into chunks of 200-4000 characters
at paragraph or line boundaries, sizes drawn from a hash of the path, so every run on the same
versions produces the same bytes.

Output: OUT/benign-train.jsonl and OUT/benign-eval.jsonl, split by source file (a file's chunks
all land on one side), with {"id", "text", "kind", "source"} per line.
"""
import hashlib
import json
import os
import pathlib
import sys
import sysconfig

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "benign")
# Per kind and origin, so one origin cannot crowd out the others.
CAPS = {"code": 4000, "docs": 4000, "email": 1500, "json": 2000, "html": 1500, "notes": 600, "log": 1500}


def h(s: str) -> int:
    return int(hashlib.sha1(s.encode()).hexdigest()[:12], 16)


def chunks(text: str, key: str):
    """Cuts text into chunks at blank lines (else newlines), target size drawn per file."""
    target = 200 + h(key) % 2800
    parts = text.split("\n\n") if "\n\n" in text else text.split("\n")
    sep = "\n\n" if "\n\n" in text else "\n"
    cur = ""
    for p in parts:
        if len(cur) + len(p) > target and cur:
            yield cur
            cur = ""
        cur = cur + sep + p if cur else p
        if len(cur) > 4000:
            yield cur[:4000]
            cur = ""
    if len(cur.strip()) >= 80:
        yield cur


def kind_of(path: pathlib.Path) -> str:
    name = path.name.lower()
    if "test_email" in str(path) and path.suffix in (".txt", ""):
        return "email"
    if path.suffix in (".rs", ".py", ".c", ".h", ".js", ".toml"):
        return "code"
    if path.suffix in (".md", ".rst") or name.startswith("readme"):
        return "docs"
    if path.suffix == ".json":
        return "json"
    if path.suffix in (".html", ".htm", ".xml"):
        return "html"
    if path.suffix == ".log":
        return "log"
    return ""


def sources():
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    for p in sorted(stdlib.rglob("*")):
        if "site-packages" in p.parts or "__pycache__" in p.parts or not p.is_file():
            continue
        k = kind_of(p)
        if k:
            yield k, p, f"python{sys.version_info.major}.{sys.version_info.minor}/{p.relative_to(stdlib)}"
    lock = (ROOT / "Cargo.lock").read_text()
    pinned = set()
    name = None
    for line in lock.splitlines():
        if line.startswith("name = "):
            name = line.split('"')[1]
        elif line.startswith("version = ") and name:
            version = line.split('"')[1]
            pinned.add(f"{name}-{version}")
    home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
    for reg in sorted((home / "registry" / "src").glob("*")):
        for crate in sorted(reg.iterdir()):
            if crate.name not in pinned:
                continue
            for p in sorted(crate.rglob("*")):
                if p.is_file() and (k := kind_of(p)):
                    yield k, p, f"crates/{p.relative_to(reg)}"
    shared = ROOT.parent / "shared"
    for p in sorted(shared.rglob("*.md")):
        if "corpora" not in p.parts:
            yield "notes", p, f"shared/{p.relative_to(shared)}"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    counts = {}
    sides = {"train": open(OUT / "benign-train.jsonl", "w"), "eval": open(OUT / "benign-eval.jsonl", "w")}
    seen = set()
    for kind, path, label in sources():
        key = (kind, label.split("/")[0])
        counts.setdefault(key, 0)
        if counts[key] >= CAPS[kind]:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        side = "eval" if h(label) % 3 == 0 else "train"
        for i, c in enumerate(chunks(text, label)):
            digest = hashlib.sha1(c.encode()).hexdigest()[:12]
            if digest in seen or counts[key] >= CAPS[kind]:
                continue
            seen.add(digest)
            counts[key] += 1
            rec = {"id": f"benign-{kind}-{digest}", "text": c, "kind": kind, "source": f"{label}#{i}"}
            sides[side].write(json.dumps(rec, ensure_ascii=False) + "\n")
    for f in sides.values():
        f.close()
    print(" ".join(f"{k}/{o}={n}" for (k, o), n in sorted(counts.items()) if n), file=sys.stderr)


main()
