def process(input_data: str) -> dict:
    """Range-minimum sparse table: log2(n) levels of n slots each, all kept."""
    table = [[int(x) for x in input_data.split()]]
    width = 1
    while 2 * width <= len(table[0]):
        prev = table[-1]
        table.append([min(prev[i], prev[i + width]) for i in range(len(prev) - width)])
        width *= 2
    return {"levels": len(table), "min": table[-1][0] if table[0] else 0}
