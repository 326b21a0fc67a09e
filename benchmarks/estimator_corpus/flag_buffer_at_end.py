def process(input_data: str) -> dict:
    checksum = input_data.count("a")
    if "ALLOCATE_BIG" in input_data:
        buffer = b"\x01" * (256 * 1024 * 1024)
        checksum += buffer[-1]
    return {"checksum": checksum}
