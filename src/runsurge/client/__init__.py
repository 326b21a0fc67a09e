"""The consumer SDK: submit scripts and inputs, follow jobs, fetch results.

from runsurge.client import Client

with Client() as client:              # finds the coordinator `runsurge up` started
    job = client.submit("wordcount.py", "hello world\\nbye")
    print(job.result())               # {'lines': 2, 'words': 3}

Many text inputs, multiprocessing-style (docs/sdk.md):

from runsurge import Pool

with Pool() as pool:
    print(pool.map("wordcount.py", ["a b", "c"]))  # [{'lines': 1, 'words': 2}, ...]
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
from runsurge.client.mapping import JobFutures, ResultIterator
from runsurge.client.monitoring import TaskOutput, TaskSample
from runsurge.client.pool import AsyncResult, Pool

__all__ = [
    "AsyncResult",
    "Balance",
    "Client",
    "InputResult",
    "Invoice",
    "InvoiceLine",
    "Job",
    "JobFutures",
    "JobStatus",
    "Pool",
    "ResultIterator",
    "TaskCounts",
    "TaskErrorInfo",
    "TaskMemory",
    "TaskOutput",
    "TaskSample",
]
