def process(input_data: str) -> dict:
    first, _, rest = input_data.partition("\n")
    if first.strip() == "MODE=dense":
        slots = [0] * (24 * 1024 * 1024)
        return {"dense": len(slots)}
    return {"sparse": rest.count("\n")}
