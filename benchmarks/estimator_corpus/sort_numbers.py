def process(input_data: str) -> dict:
    numbers = sorted(int(x) for x in input_data.split())
    middle = numbers[len(numbers) // 2] if numbers else 0
    return {"median": middle}
