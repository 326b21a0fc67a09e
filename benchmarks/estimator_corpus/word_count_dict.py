def process(input_data: str) -> dict:
    counts: dict[str, int] = {}
    for word in input_data.split():
        counts[word] = counts.get(word, 0) + 1
    return {"distinct": len(counts)}
