import collections
import itertools


def process(input_data: str) -> dict:
    words = input_data.split()
    pairs = collections.Counter(itertools.pairwise(words))
    return {"distinct_pairs": len(pairs)}
