import csv
import io


def process(input_data: str) -> dict:
    rows = list(csv.reader(io.StringIO(input_data)))
    return {"rows": len(rows), "columns": len(rows[0]) if rows else 0}
