"""Pairwise similarity of documents with shingles and Jaccard index."""
import itertools
import string
from functools import lru_cache


def normalise(text: str) -> str:
    return text.lower().translate(str.maketrans("", "", string.punctuation))


@lru_cache(maxsize=256)
def shingles(text: str, k: int = 3) -> frozenset[str]:
    words = normalise(text).split()
    return frozenset(" ".join(words[i : i + k]) for i in range(max(len(words) - k + 1, 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def process(input_data: str) -> dict:
    docs = [d for d in input_data.split("\n\n") if d.strip()]
    pairs = {}
    for (i, a), (j, b) in itertools.combinations(enumerate(docs), 2):
        pairs[f"{i}-{j}"] = round(jaccard(shingles(a), shingles(b)), 4)
    return {"documents": len(docs), "similarity": pairs}
