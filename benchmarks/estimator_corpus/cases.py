"""Which script runs on which generated input, at which sizes.

Each `Entry` names a script of this folder, an input generator, and the parameters to
run it at: a size in bytes for data inputs, the number itself for number inputs.  The
generators are deterministic (seeded), so two runs of the benchmark see the same bytes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KB = 1000
MB = 1000 * KB
HERE = Path(__file__).parent
SIZES = (1 * KB, 64 * KB, 1 * MB, 8 * MB, 32 * MB, 100 * MB)
QUICK_SIZES = (1 * KB, 64 * KB, 1 * MB, 4 * MB)
_VOCABULARY = [f"w{i:x}" for i in range(5000)]


def _words(size: int, seed: int) -> list[str]:
    """Lines of 8 to 16 words, a vocabulary word or a unique token, up to `size` bytes."""
    rng = random.Random(seed)
    lines, total, serial = [], 0, 0
    while total < size:
        words = []
        for _ in range(rng.randint(8, 16)):
            serial += 1
            words.append(rng.choice(_VOCABULARY) if rng.random() < 0.7 else f"u{serial}")
        line = " ".join(words)
        lines.append(line)
        total += len(line) + 1
    return lines


def text(size: int) -> bytes:
    """Word lines, about `size` bytes."""
    return ("\n".join(_words(size, size)) + "\n").encode()[:size]


def numbers(size: int) -> bytes:
    """One random integer per line."""
    rng = random.Random(size)
    out = "\n".join(str(rng.randrange(10**9)) for _ in range(size // 10 + 1)) + "\n"
    return out.encode()[:size]


def jsonl(size: int) -> bytes:
    """One JSON record per line."""
    rng = random.Random(size)
    lines, total = [], 0
    while total < size:
        line = json.dumps({"id": len(lines), "value": rng.randrange(1000), "tag": "t" * 8})
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def json_document(size: int) -> bytes:
    """One pretty-printed JSON document: no prefix of it is valid JSON."""
    count = max(1, size // 40)
    items = [{"id": i, "name": f"item{i}"} for i in range(count)]
    return json.dumps({"items": items}, indent=1).encode()


def csv_rows(size: int) -> bytes:
    """Comma-separated rows of six columns."""
    rng = random.Random(size)
    row_count = size // 40 + 1
    rows = (",".join(str(rng.randrange(10**5)) for _ in range(6)) for _ in range(row_count))
    return ("\n".join(rows) + "\n").encode()


def number(value: int) -> bytes:
    """The input is just a number."""
    return f"{value}\n".encode()


def flag_at_end(size: int) -> bytes:
    """Text whose last line switches on a big buffer, for about half of the sizes."""
    body = text(size)
    return body + b"ALLOCATE_BIG\n" if len(str(size)) % 2 == 1 else body


def flag_at_start(size: int) -> bytes:
    """Text whose first line chooses the dense mode, for about half of the sizes."""
    mode = b"MODE=dense\n" if len(str(size)) % 2 == 0 else b"MODE=sparse\n"
    return mode + text(size)


@dataclass(frozen=True)
class Entry:
    """One script and the inputs it is measured on."""

    script: str
    generate: Callable[[int], bytes]
    params: tuple[int, ...] = SIZES
    quick: tuple[int, ...] = QUICK_SIZES

    @property
    def source(self) -> str:
        """The script's source text."""
        return (HERE / self.script).read_text()


_SMALL = tuple(s for s in SIZES if s <= 32 * MB)
ENTRIES = (
    Entry("const_len.py", text),
    Entry("const_count_lines.py", text),
    Entry("stream_lines.py", text),
    Entry("stream_finditer.py", text, _SMALL),
    Entry("char_histogram.py", text, _SMALL),
    Entry("split_words.py", text),
    Entry("splitlines_longest.py", text),
    Entry("word_count_dict.py", text),
    Entry("unique_lines_set.py", text),
    Entry("sorted_lines.py", text),
    Entry("sort_numbers.py", numbers, _SMALL),
    Entry("jsonl_records.py", jsonl, _SMALL),
    Entry("json_document.py", json_document, _SMALL),
    Entry("csv_rows.py", csv_rows, _SMALL),
    Entry("reverse_text.py", text),
    Entry("upper_encoded.py", text),
    Entry("line_lengths.py", text),
    Entry("sparse_table_nlogn.py", numbers, tuple(s for s in SIZES if s <= 8 * MB)),
    Entry("bigram_counts.py", text, _SMALL),
    Entry("fixed_table.py", text),
    Entry("grid_from_number.py", number, (10, 300, 1000, 2000, 4000), (10, 300, 1000)),
    Entry("strings_from_number.py", number, (10, 1000, 4000, 8000, 16000), (10, 1000, 4000)),
    Entry("triangle_from_number.py", number, (10, 300, 1000, 2000, 3000), (10, 300, 1000)),
    Entry("flag_buffer_at_end.py", flag_at_end),
    Entry("flag_mode_dense.py", flag_at_start),
)
