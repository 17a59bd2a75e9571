"""A batch of images: the files named on the command line and the output names they get.

>>> from pathlib import Path
>>> output_stems([Path("a/x.png"), Path("b/x.png"), Path("x.jpg")])
['x_png', 'x_png_2', 'x_jpg']
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["expand_images", "output_stems"]


def expand_images(images, extensions):
    """Files named, with folders replaced by the images they hold (sorted, not recursive).

    Returns ``(paths, problems)``: ``problems`` are one-line messages for folders
    that hold no image file; the files named are kept as they are (reading them
    reports their own problems).
    """
    out, problems = [], []
    for p in images:
        p = Path(p)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in extensions)
            if not found:
                problems.append(f"{p}: folder holds no image files ({', '.join(extensions)})")
            out.extend(found)
        else:
            out.append(p)
    return out, problems


def output_stems(paths):
    """Output prefixes: each file's name without extension, made unique within the batch
    (the extension is added to names that clash, then a counter)."""
    seen = {}
    for p in paths:
        seen[p.stem] = seen.get(p.stem, 0) + 1
    stems = [p.stem if seen[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in paths]
    used = {}
    for i, s in enumerate(stems):  # same name and extension in two folders
        if s in used:
            used[s] += 1
            stems[i] = f"{s}_{used[s]}"
        else:
            used[s] = 1
    return stems
