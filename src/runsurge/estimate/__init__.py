"""Predict an upper bound of a task's peak RAM before it runs, and learn from what it used.

The package's one job is the memory estimate: `Estimator` combines the history of the
same script (`history`), probe runs on prefixes of the input (`probes`, fitted by
`growth`), and static features of the script and input (`static`) into an `Estimate`,
widened by a margin calibrated from observed actual/predicted ratios (`margin`) and
rounded up to coarse steps (`rounding`).  Plain types only: no gRPC, no database, no
roles; the coordinator and scheduler call it.  ``docs/estimator.md`` says how the
estimate is made and how far to trust it.
"""

from __future__ import annotations

from runsurge.estimate.estimator import Estimator, EstimatorConfig
from runsurge.estimate.growth import GrowthFit, Shape, fit_growth
from runsurge.estimate.history import History, Observation
from runsurge.estimate.margin import Margin
from runsurge.estimate.model import Estimate, Method
from runsurge.estimate.probes import ProbeBudget, ProbePlan, ProbeResult, ProbeRunner, plan_probes
from runsurge.estimate.rounding import round_up
from runsurge.estimate.static import InputFeatures, ScriptFeatures, describe_input, read_script

__all__ = [
    "Estimate",
    "Estimator",
    "EstimatorConfig",
    "GrowthFit",
    "History",
    "InputFeatures",
    "Margin",
    "Method",
    "Observation",
    "ProbeBudget",
    "ProbePlan",
    "ProbeResult",
    "ProbeRunner",
    "ScriptFeatures",
    "Shape",
    "describe_input",
    "fit_growth",
    "plan_probes",
    "read_script",
    "round_up",
]
