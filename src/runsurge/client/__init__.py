"""The consumer SDK: submit scripts and inputs, follow jobs, fetch results.

from runsurge.client import Client

with Client() as client:              # finds the coordinator `runsurge up` started
    job = client.submit("wordcount.py", "hello world\\nbye")
    print(job.result())               # {'lines': 2, 'words': 3}
"""

from runsurge.client.billing import Balance, Invoice, InvoiceLine
from runsurge.client.client import Client
from runsurge.client.job import (
    InputResult,
    Job,
    JobStatus,
    TaskCounts,
    TaskErrorInfo,
    TaskMemory,
)
from runsurge.client.monitoring import TaskOutput, TaskSample

__all__ = [
    "Balance",
    "Client",
    "InputResult",
    "Invoice",
    "InvoiceLine",
    "Job",
    "JobStatus",
    "TaskCounts",
    "TaskErrorInfo",
    "TaskMemory",
    "TaskOutput",
    "TaskSample",
]
