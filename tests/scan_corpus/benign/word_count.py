"""Count words in a text input and report the most common ones."""
import re
from collections import Counter

WORD = re.compile(r"[A-Za-z']+")


def process(input_data: str) -> dict:
    words = [w.lower() for w in WORD.findall(input_data)]
    counts = Counter(words)
    return {"total": len(words), "unique": len(counts), "top": counts.most_common(10)}


def aggregate(results: list[dict]) -> dict:
    return {"total": sum(r["total"] for r in results)}
