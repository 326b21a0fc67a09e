import io


def process(input_data: str) -> dict:
    longest = total = 0
    for line in io.StringIO(input_data):
        longest = max(longest, len(line))
        total += 1
    return {"lines": total, "longest": longest}
