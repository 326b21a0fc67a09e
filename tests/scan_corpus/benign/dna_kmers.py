"""k-mer counts and GC content of DNA sequences in FASTA format."""
from collections import Counter
from typing import Iterator


def read_fasta(text: str) -> Iterator[tuple[str, str]]:
    name, seq = None, []
    for line in text.splitlines():
        if line.startswith(">"):
            if name is not None:
                yield name, "".join(seq)
            name, seq = line[1:].strip(), []
        elif line.strip():
            seq.append(line.strip().upper())
    if name is not None:
        yield name, "".join(seq)


def kmers(seq: str, k: int) -> Counter[str]:
    return Counter(seq[i : i + k] for i in range(len(seq) - k + 1))


def process(input_data: str) -> dict:
    out = {}
    for name, seq in read_fasta(input_data):
        gc = (seq.count("G") + seq.count("C")) / len(seq) if seq else 0.0
        out[name] = {"length": len(seq), "gc": round(gc, 4), "top": kmers(seq, 4).most_common(3)}
    return out
