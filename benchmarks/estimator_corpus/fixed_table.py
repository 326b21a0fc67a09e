TABLE_SLOTS = 8_000_000


def process(input_data: str) -> dict:
    table = [0] * TABLE_SLOTS
    for i, ch in enumerate(input_data[:100_000]):
        table[(i * 31 + ord(ch)) % TABLE_SLOTS] += 1
    return {"used": sum(1 for x in table[:1000] if x)}
