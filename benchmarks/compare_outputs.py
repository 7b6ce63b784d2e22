"""compare_outputs.py A B: two folders of benchmarks/capture_outputs.sh compared file by file.

Bytes must be equal once the only things that differ between two runs of the same code are
masked: the time a file was made, wall-clock seconds, and the folders of the capture and the
checkout. A file that records another file's SHA-256 (a run folder's `.sim-files.json`, a
sweep's manifest) is compared with that hash replaced by the hash of the other file masked
in turn, so the masked differences do not come back through the hashes. Exit 1 and the
differing files listed otherwise.
"""

import hashlib
import pathlib
import re
import sys

a, b = (pathlib.Path(x).resolve() for x in sys.argv[1:3])
MASKS = [
    (re.compile(rb'"created": "[^"]*"'), b'"created": X'),
    (re.compile(rb'"wall_seconds": [0-9.e-]+'), b'"wall_seconds": X'),
    (re.compile(rb"made \d{4}-\d\d-\d\dT[0-9:+]+"), b"made X"),
    (re.compile(rb"made \d+ [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC"), b"made X"),
    (re.compile(rb"in \d+(\.\d+)? s"), b"in X s"),
    (re.compile(rb'"?/[^" <]*/sim/__main__.py"?'), b"MAIN"),
    (re.compile(rb"\d+(\.\d+)? s elapsed"), b"X s elapsed"),
]


SHA = re.compile(rb"\b[0-9a-f]{64}\b")


def hashes(root):
    """Each file's SHA-256 under `root` -> the file (the hashes other files record)."""
    return {
        hashlib.sha256(p.read_bytes()).hexdigest().encode(): p
        for p in root.rglob("*")
        if p.is_file()
    }


def norm(p, root, known, cache):
    if p in cache:
        return cache[p]
    d = p.read_bytes().replace(str(root).encode(), b"ROOT")
    for r, s in MASKS:
        d = r.sub(s, d)

    def masked_hash(match):
        other = known.get(match.group(0))
        if other is None or other == p:
            return match.group(0)
        return hashlib.sha256(norm(other, root, known, cache)).hexdigest().encode()

    cache[p] = d = SHA.sub(masked_hash, d)
    return d


fa = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
fb = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
known_a, known_b, cache_a, cache_b = hashes(a), hashes(b), {}, {}
bad = 0
for f in sorted(fa ^ fb):
    print("only in", a if f in fa else b, f)
    bad += 1
for f in sorted(fa & fb):
    if f.name == "commands.log":
        continue
    if norm(a / f, a, known_a, cache_a) != norm(b / f, b, known_b, cache_b):
        print("DIFFERS", f)
        bad += 1
print(f"{len(fa & fb)} files compared, {bad} differences")
sys.exit(1 if bad else 0)
