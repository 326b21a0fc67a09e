"""Per-column summary statistics of a CSV document."""
import csv
import io
import statistics


def to_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def process(input_data: str) -> dict:
    reader = csv.DictReader(io.StringIO(input_data))
    columns: dict[str, list[float]] = {}
    rows = 0
    for row in reader:
        rows += 1
        for key, value in row.items():
            number = to_number(value)
            if number is not None:
                columns.setdefault(key, []).append(number)
    summary = {}
    for key, values in columns.items():
        summary[key] = {
            "mean": statistics.fmean(values),
            "median": statistics.median(values),
            "stdev": statistics.pstdev(values),
            "min": min(values),
            "max": max(values),
        }
    return {"rows": rows, "columns": summary}
