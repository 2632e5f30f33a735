"""gunicorn settings: one set of OpenTelemetry exporters per worker process.

  TELEGATE_OTLP_URL=... TELEGATE_TOKEN=... gunicorn -c gunicorn.conf.py wsgi:application
"""

import os

import telemetry

os.environ["TELEGATE_SETUP_IN_POST_FORK"] = "1"  # wsgi.py must not set up in the master
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
bind = os.environ.get("BIND", "0.0.0.0:8000")
_providers = []


def post_fork(server, worker):
    _providers.extend(telemetry.setup())


def worker_exit(server, worker):
    telemetry.shutdown(_providers)
