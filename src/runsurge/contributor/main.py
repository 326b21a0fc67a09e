"""Start-up of the agent: choose the sandbox, then run until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

import grpc

from runsurge.config import ContributorSettings
from runsurge.contributor.agent import Agent
from runsurge.errors import ConfigError, SandboxUnavailable
from runsurge.sandbox import SubprocessRunner, create_runner

log = logging.getLogger(__name__)


async def run_agent(
    settings: ContributorSettings,
    cores: int,
    memory_bytes: int,
    install_signals: Callable[[Callable[[], None]], None],
) -> int:
    """Run the agent; return the process exit code."""
    try:
        runner = create_runner(insecure_dev=settings.insecure_dev)
    except SandboxUnavailable as exc:
        log.error("refusing to run untrusted work: %s", exc)
        return 3
    # Only the plain-subprocess runner lacks the minimum layers; the coordinator records it.
    insecure = isinstance(runner, SubprocessRunner)
    log.info("isolation: %s", runner.isolation_level)
    agent = Agent(settings, runner, cores=cores, memory_bytes=memory_bytes, insecure=insecure)
    # The first SIGTERM drains, a second hands running tasks back (Agent.shutdown).
    install_signals(agent.shutdown)
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, agent.benchmark_now)
    try:
        await agent.run()
    except grpc.aio.AioRpcError as exc:
        log.error("stopping: %s", exc.details())
        return 2
    except ConfigError as exc:
        log.error("stopping: %s", exc)
        return 2
    return 0
