def process(input_data: str) -> dict:
    n = int(input_data.strip())
    rows = ["x" * n + str(i) for i in range(n)]
    return {"bytes": sum(len(r) for r in rows)}
