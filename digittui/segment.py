"""Finding the digits of a number in a cleaned image (`preprocess.clean`), left to right.

Connected components of the ink (8-connected) are the starting pieces. Specks are dropped; pieces
that share most of their columns are one digit (a 5 whose bar came loose, a 4 drawn in two
strokes, a stroke broken by the scan). What stays is one box per digit candidate; a box much wider
than tall may hold touching digits, which `classify.read` splits with the classifier's help
(`split_candidates` proposes where).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digittui.errors import ImageError

MAX_PIECES = 64  # digits read from one image; more is a page of text or a noisy photo
SPECK = 0.04  # a component with less ink than this share of the largest one's is dirt
OVERLAP = 0.5  # pieces sharing this share of the narrower one's columns are one digit
THRESHOLD = 0.3  # cleaned pixels at or above this are ink for the components
VALLEY = 2.0  # columns with at most twice the ink of an emptiest one are the stroke joining two digits


@dataclass
class Piece:
    """One digit candidate: its box in the image (x0, y0, x1, y1; x1, y1 exclusive) and the mask
    of its own ink inside that box (neighbours' ink that enters the box is not part of it)."""

    box: tuple[int, int, int, int]
    mask: np.ndarray  # bool [y1 - y0, x1 - x0]

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    def image(self, cleaned: np.ndarray) -> np.ndarray:
        """The piece's ink from the cleaned image, everything else black, with a black border of
        one pixel (float [h + 2, w + 2])."""
        from scipy import ndimage

        x0, y0, x1, y1 = self.box
        near = ndimage.binary_dilation(self.mask, iterations=1)  # keep the soft edge of strokes
        return np.pad(np.where(near, cleaned[y0:y1, x0:x1], 0.0).astype(np.float32), 1)

    def columns(self, start: int, stop: int) -> "Piece | None":
        """The part of this piece between image columns start and stop, cropped to its ink."""
        x0, y0, _, _ = self.box
        mask = np.zeros_like(self.mask)
        mask[:, start - x0:stop - x0] = self.mask[:, start - x0:stop - x0]
        return _piece(mask, x0, y0)


def _piece(mask: np.ndarray, x0: int, y0: int) -> Piece | None:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    sub = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return Piece((x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1), sub)


def join(a: Piece, b: Piece) -> Piece:
    """One piece holding both."""
    x0, y0 = min(a.box[0], b.box[0]), min(a.box[1], b.box[1])
    x1, y1 = max(a.box[2], b.box[2]), max(a.box[3], b.box[3])
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for p in (a, b):
        mask[p.box[1] - y0:p.box[3] - y0, p.box[0] - x0:p.box[2] - x0] |= p.mask
    return Piece((x0, y0, x1, y1), mask)


def _shared_columns(a: Piece, b: Piece) -> float:
    overlap = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    return overlap / max(min(a.width, b.width), 1)


def pieces(cleaned: np.ndarray) -> list[Piece]:
    """The digit candidates of a cleaned image, left to right (empty when there is no ink)."""
    from scipy import ndimage

    labels, count = ndimage.label(cleaned >= THRESHOLD, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return []
    ink = ndimage.sum_labels(cleaned, labels, index=np.arange(1, count + 1))
    found = []
    for index, box in enumerate(ndimage.find_objects(labels)):
        if ink[index] < SPECK * ink.max():
            continue
        ys, xs = box
        found.append(Piece((xs.start, ys.start, xs.stop, ys.stop), labels[box] == index + 1))
    if len(found) > 4 * MAX_PIECES:  # merging below is quadratic: refuse a page of marks early
        raise ImageError(f"found {len(found)} separate marks; at most {MAX_PIECES} digits are read per image")
    merged = _merge_overlapping(sorted(found, key=lambda p: p.box[0]))
    if len(merged) > MAX_PIECES:
        raise ImageError(f"found {len(merged)} separate marks; at most {MAX_PIECES} digits are read per image")
    return merged


def _merge_overlapping(found: list[Piece]) -> list[Piece]:
    """Join pieces that share most of the narrower one's columns, until none do."""
    changed = True
    while changed:
        changed = False
        for i in range(len(found)):
            for j in range(i + 1, len(found)):
                if _shared_columns(found[i], found[j]) >= OVERLAP:
                    found[i] = join(found[i], found[j])
                    del found[j]
                    changed = True
                    break
            if changed:
                break
    return sorted(found, key=lambda p: p.box[0])


def split_candidates(piece: Piece, cleaned: np.ndarray, most: int = 10) -> list[int]:
    """Image columns where a wide piece might be touching digits: the columns with the least ink,
    at least a sixth of its height apart and a fifth of it from either end; and where each one's
    valley of the ink profile ends, so that a stroke joining two digits can be cut where it meets
    either digit instead of staying on one as a tail."""
    x0 = piece.box[0]
    margin, spacing = max(1, piece.height // 5), max(1, piece.height // 6)
    profile = piece.image(cleaned)[1:-1, 1:-1].sum(0)  # ink per column
    chosen: list[int] = []
    for c in np.argsort(profile, kind="stable"):
        if margin <= c < piece.width - margin and all(abs(int(c) - k) >= spacing for k in chosen):
            chosen.append(int(c))
            if len(chosen) == most:
                break
    ends = {end for c in chosen for end in _valley_ends(profile, c)}
    return sorted(x0 + c for c in ends.union(chosen))


def _valley_ends(profile: np.ndarray, c: int) -> tuple[int, int]:
    """The first column of the valley around column c and the one just after it (cuts that leave
    the valley whole on one side); the valley: neighbouring columns with at most VALLEY times c's ink."""
    low = profile <= VALLEY * profile[c]
    start, stop = c, c + 1
    while start > 1 and low[start - 1]:
        start -= 1
    while stop < len(profile) - 1 and low[stop]:
        stop += 1
    return start, stop
