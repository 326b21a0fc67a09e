import collections


def process(input_data: str) -> dict:
    counts = collections.Counter(input_data)
    return {"distinct": len(counts), "top": counts.most_common(1)[0][0] if counts else ""}
