"""Duplicate items (重题): the same or nearly the same stem and options, or the same stem image.

Text is compared after :func:`normalise`: Unicode NFKC (full-width letters, digits and punctuation become their
ASCII forms), Chinese punctuation mapped to ASCII (，→ , 。→ . “”→ " …), white space removed, case folded. The stem
and the options (in label order) are one text; two items are near duplicates when the Jaccard similarity of their
sets of character bigrams is at least :data:`NEAR_THRESHOLD` (0.9): J(A, B) = |A ∩ B| / |A ∪ B| (Broder 1997,
"On the resemblance and containment of documents"). One changed character changes at most two bigrams, so a
re-typed or re-punctuated copy of a stem of 40 characters or more stays above 0.9, while short items that differ
in a number (``3 + 4 = ?`` and ``3 + 5 = ?``: 0.33) are different questions and stay below.

Pairs are found without comparing every pair, by PPJoin (Xiao, Wang, Lin and Yu 2008): the bigrams of each set in
one global order, rarest first; two sets with J >= t share a bigram among the first ``|x| - ceil(t |x|) + 1`` of
one and the first ``|y| - ceil(2t/(1+t) |y|) + 1`` (indexed) of the other; a candidate whose overlap can no longer
reach t/(1+t) (|x| + |y|) given the positions of the shared bigrams is dropped, and every candidate left is verified
exactly. Identical image files (SHA-256 of their
bytes) are duplicates whatever the text says.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, Sequence

from itembank.model import Item

__all__ = ["NEAR_THRESHOLD", "Duplicate", "normalise", "item_text", "bigrams", "jaccard", "find_duplicates",
           "image_duplicates", "describe"]

#: Jaccard similarity of character bigrams at or above which two items are reported as near duplicates.
NEAR_THRESHOLD = 0.9

_PUNCTUATION = str.maketrans({"，": ",", "。": ".", "．": ".", "；": ";", "：": ":", "？": "?", "！": "!",
                              "（": "(", "）": ")", "【": "[", "】": "]", "「": '"', "」": '"', "『": '"',
                              "』": '"', "“": '"', "”": '"', "‘": "'", "’": "'", "、": ",", "《": "<",
                              "》": ">", "〈": "<", "〉": ">", "—": "-", "–": "-", "－": "-", "～": "~",
                              "·": ".", "…": "..."})


@dataclass(frozen=True)
class Duplicate:
    """Two items that look like one: ``kind`` is ``same`` (identical after normalising), ``near`` (Jaccard >=
    the threshold) or ``image`` (the same stem image file)."""

    first: str
    second: str
    kind: Literal["same", "near", "image"]
    similarity: float

    @property
    def label(self) -> str:
        """The kind in a teacher's words."""
        return {"same": "题目相同", "near": "题目近似", "image": "题干图片相同"}[self.kind]


def normalise(text: str) -> str:
    """``text`` with width, punctuation, white space and case differences removed (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION)
    return "".join(text.split()).casefold()


def item_text(item: Item) -> str:
    """The normalised text compared: stem, then each option's label and text."""
    return normalise(item.stem + "".join(f"\x1f{label}{option}" for label, option in item.options.items()))


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams of ``text`` (the text itself when shorter than two characters)."""
    if len(text) < 2:
        return frozenset([text])
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a ∩ b| / |a ∪ b| (1 for two empty sets)."""
    if not a and not b:
        return 1.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def find_duplicates(items: Sequence[Item], *, threshold: float = NEAR_THRESHOLD) -> list[Duplicate]:
    """Every pair of ``items`` whose texts are identical after :func:`normalise` or at least ``threshold``
    similar, each pair once (bank order), most similar first."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold} must be in (0, 1]")
    texts = [item_text(item) for item in items]
    sets = [bigrams(text) for text in texts]
    frequency = Counter(token for tokens in sets for token in tokens)
    rank = {token: k for k, (token, _) in enumerate(sorted(frequency.items(), key=lambda kv: (kv[1], kv[0])))}
    ordered = [sorted(tokens, key=rank.__getitem__) for tokens in sets]
    index: dict[str, list[tuple[int, int]]] = defaultdict(list)  # token -> (record, position in its order)
    found: list[Duplicate] = []
    share = threshold / (1 + threshold)
    for x in sorted(range(len(items)), key=lambda k: (len(sets[k]), k)):
        size = len(sets[x])
        probe = size - math.ceil(threshold * size - 1e-9) + 1
        indexed = size - math.ceil(2 * share * size - 1e-9) + 1  # PPJoin: a shorter prefix is indexed
        overlap: dict[int, int] = {}
        for i, token in enumerate(ordered[x][:probe]):
            for y, j in index[token]:
                other = len(sets[y])
                if other < threshold * size - 1e-9 or overlap.get(y, 0) < 0:  # size filter; pruned before
                    continue
                needed = math.ceil(share * (size + other) - 1e-9)  # |x ∩ y| >= t/(1+t) (|x| + |y|)
                # positional filter: the tokens after these positions can add at most this much overlap
                if overlap.get(y, 0) + 1 + min(size - i - 1, other - j - 1) >= needed:
                    overlap[y] = overlap.get(y, 0) + 1
                else:
                    overlap[y] = -1
            if i < indexed:
                index[token].append((x, i))
        for y, count in overlap.items():
            if count <= 0:
                continue
            first, second = sorted((x, y))
            if texts[first] == texts[second]:
                found.append(Duplicate(items[first].id, items[second].id, "same", 1.0))
                continue
            similarity = jaccard(sets[first], sets[second])
            if similarity >= threshold:
                found.append(Duplicate(items[first].id, items[second].id, "near", round(similarity, 4)))
    order = {item.id: k for k, item in enumerate(items)}
    found.sort(key=lambda d: (-d.similarity, order[d.first], order[d.second]))
    return found


def image_duplicates(digests: Mapping[str, str], order: Iterable[str] = ()) -> list[Duplicate]:
    """Pairs of items whose stem image files are identical: ``digests`` maps item id -> SHA-256 of its image."""
    position = {item_id: k for k, item_id in enumerate(order)}
    groups: dict[str, list[str]] = defaultdict(list)
    for item_id in sorted(digests, key=lambda i: (position.get(i, len(position)), i)):
        groups[digests[item_id]].append(item_id)
    return [Duplicate(ids[0], other, "image", 1.0) for ids in groups.values() for other in ids[1:]]


def describe(duplicate: Duplicate) -> str:
    """One line naming both items, e.g. ``M0003 与 M0017: 题目近似 (相似度 0.93)``."""
    return f"{duplicate.first} 与 {duplicate.second}: {duplicate.label} (相似度 {duplicate.similarity:.2f})"

