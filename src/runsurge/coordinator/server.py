"""The coordinator process: a grpc.aio server with health checks and reflection."""

from __future__ import annotations

import asyncio
import logging
import signal

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from runsurge.config import CoordinatorSettings
from runsurge.coordinator import transport
from runsurge.coordinator.app import Coordinator, build_coordinator
from runsurge.coordinator.interceptor import AuthInterceptor
from runsurge.coordinator.metrics import metrics_registry, serve_metrics
from runsurge.coordinator.ratelimit import RateLimiter
from runsurge.coordinator.servicers.consumer import ConsumerServicer
from runsurge.coordinator.servicers.contributor import ContributorServicer
from runsurge.coordinator.submission import ScriptGate
from runsurge.errors import ConfigError
from runsurge.proto.v1 import consumer_pb2, consumer_pb2_grpc, contributor_pb2, contributor_pb2_grpc
from runsurge.scan import ScanGate, SemgrepCoreEngine
from runsurge.store.verdicts import DatabaseVerdictCache
from runsurge.wire_limits import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)
SERVICES = (
    consumer_pb2.DESCRIPTOR.services_by_name["ConsumerService"].full_name,
    contributor_pb2.DESCRIPTOR.services_by_name["ContributorService"].full_name,
)


def build_gate(coordinator: Coordinator) -> ScriptGate | None:
    """The Semgrep gate; None only when the operator explicitly skipped the scan.

    Without --skip-scan a missing or broken Semgrep stops the coordinator at start-up,
    and a failure later fails each submission closed.
    """
    if coordinator.settings.skip_scan:
        log.warning(
            "SECURITY SCAN DISABLED (--skip-scan): scripts run WITHOUT the Semgrep gate; "
            "development and testing only"
        )
        return None
    engine = SemgrepCoreEngine(core_path=coordinator.settings.semgrep_core)
    return ScanGate(engine, DatabaseVerdictCache(coordinator.db))


async def serve(settings: CoordinatorSettings, ready: asyncio.Event | None = None) -> None:
    """Run the coordinator until SIGINT/SIGTERM."""
    transport.check_transport(settings)  # bad files or plaintext off loopback: stop first
    coordinator = build_coordinator(settings, gate=None)
    coordinator.gate = build_gate(coordinator)
    server = grpc.aio.server(
        interceptors=[
            AuthInterceptor(
                coordinator.identify,
                RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
                contributor_port=settings.contributor_listen,
            )
        ],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 20_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
            # gRPC sets SO_REUSEPORT by default: a second coordinator on the same port
            # would bind, and the kernel would split connections between the two.
            ("grpc.so_reuseport", 0),
        ],
    )
    consumer_pb2_grpc.add_ConsumerServiceServicer_to_server(ConsumerServicer(coordinator), server)
    contributor_pb2_grpc.add_ContributorServiceServicer_to_server(
        ContributorServicer(coordinator), server
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICES, reflection.SERVICE_NAME, "grpc.health.v1.Health"), server
    )
    try:
        transport.bind(server, settings)
    except ConfigError:
        coordinator.db.close()
        raise
    stop_metrics = None
    if settings.metrics_listen:
        stop_metrics = serve_metrics(
            settings.metrics_listen, metrics_registry(coordinator.db, coordinator.metrics)
        )
    await server.start()
    for name in ("", *SERVICES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    coordinator.start_background()
    log.info(
        "coordinator listening %s (data in %s)", transport.describe(settings), settings.data_dir
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    log.info("coordinator stopping")
    # No new assignments while in-flight calls finish; agents requeue nothing.
    await coordinator.stop_background()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace=2.0)
    if stop_metrics is not None:
        stop_metrics()
    await coordinator.close()
