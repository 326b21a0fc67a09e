"""Find duplicate lines by content hash."""
import hashlib
from collections import defaultdict


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def process(input_data: str) -> dict:
    seen: defaultdict[str, list[int]] = defaultdict(list)
    for number, line in enumerate(input_data.splitlines(), start=1):
        seen[digest(line.strip())].append(number)
    duplicates = {h[:12]: lines for h, lines in seen.items() if len(lines) > 1}
    md5 = hashlib.md5(input_data.encode(), usedforsecurity=False).hexdigest()
    return {"lines": sum(len(v) for v in seen.values()), "duplicates": duplicates, "md5": md5}
