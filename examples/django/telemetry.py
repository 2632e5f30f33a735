"""OpenTelemetry traces, metrics and logs from a Django service to the telegate gateway.

Call setup() once per process, before Django handles requests: in wsgi.py/asgi.py, or in
gunicorn's post_fork hook (gunicorn.conf.py) when workers are forked, because the exporters'
background threads do not survive a fork.

Environment:
  TELEGATE_OTLP_URL   base URL of telegate's OTLP/HTTP receiver, without /v1/...:
                        http://<node-ip>:30318                           (nodeport overlay)
                        https://monitoring.example.com/observability     (ingress overlays)
                        http://telegate.monitoring.svc.cluster.local:4318 (inside the cluster)
  TELEGATE_TOKEN      the bearer token (a line of the telegate-tokens Secret); the setup
                      guide's ALLOY_RECEIVER_TOKEN is read when it is unset
  OTEL_SERVICE_NAME   service.name of the resource (default django-app); Loki finds the logs
                      with {service_name="django-app"}, Tempo the traces with that service name

The OTLP/HTTP exporters post to exactly the endpoint they are given, so each signal gets its full
URL (<base>/v1/traces, /v1/metrics, /v1/logs). They take no `insecure` argument: http:// or
https:// in the URL decides.
"""

import logging
import os

DEFAULT_URL = "http://localhost:4318"
SIGNALS = ("traces", "metrics", "logs")


def exporter_settings(environ=None):
    """Endpoints, headers and timeout for the three OTLP/HTTP exporters (no OpenTelemetry import)."""
    environ = os.environ if environ is None else environ
    base = environ.get("TELEGATE_OTLP_URL", DEFAULT_URL).rstrip("/")
    for suffix in ("/v1/traces", "/v1/metrics", "/v1/logs"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    token = environ.get("TELEGATE_TOKEN") or environ.get("ALLOY_RECEIVER_TOKEN")
    if not token:
        raise RuntimeError("TELEGATE_TOKEN is not set: telegate answers 401 without the bearer token")
    return {
        "endpoints": {signal: f"{base}/v1/{signal}" for signal in SIGNALS},
        # Must match a credential of the gateway byte for byte: scheme "Bearer", one space.
        "headers": {"Authorization": f"Bearer {token}"},
        "timeout": float(environ.get("TELEGATE_OTLP_TIMEOUT", "10")),
        "service_name": environ.get("OTEL_SERVICE_NAME", "django-app"),
    }


def setup(environ=None, instrument_django=True):
    """Installs tracer, meter and logger providers exporting to telegate; returns them."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:  # the logging bridge moved from the SDK to opentelemetry-instrumentation-logging
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        from opentelemetry.sdk._logs import LoggingHandler

    s = exporter_settings(environ)
    common = {"headers": s["headers"], "timeout": s["timeout"]}
    # Resource.create() also merges OTEL_RESOURCE_ATTRIBUTES (e.g. deployment.environment=prod).
    resource = Resource.create({"service.name": s["service_name"]})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=s["endpoints"]["traces"], **common))
    )
    trace.set_tracer_provider(tracer_provider)

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=s["endpoints"]["metrics"], **common),
        export_interval_millis=30_000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    metrics.set_meter_provider(meter_provider)

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=s["endpoints"]["logs"], **common))
    )
    set_logger_provider(logger_provider)
    # Records of the standard logging module (INFO and above) become OTLP log records, carrying
    # the active span's trace id, so Grafana links each log line to its trace.
    logging.getLogger().addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    logging.getLogger().setLevel(logging.INFO)

    if instrument_django:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument()
    return tracer_provider, meter_provider, logger_provider


def shutdown(providers):
    """Flushes and stops the providers returned by setup() (call it at process exit)."""
    for provider in providers:
        provider.shutdown()
