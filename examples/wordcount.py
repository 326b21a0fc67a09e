# user_submission.py — the example from the RunSurge documentation.

def process(input_data: str) -> dict:
    """
    Process input data and return structured results.
    """
    lines = input_data.splitlines()
    word_count = sum(len(line.split()) for line in lines)

    return {
        "lines": len(lines),
        "words": word_count,
    }
