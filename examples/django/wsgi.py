"""WSGI entry point of a Django project with telemetry sent to telegate (see telemetry.py).

Copy next to your project's settings and adjust DJANGO_SETTINGS_MODULE. Under gunicorn with
several workers, use gunicorn.conf.py instead so that each worker sets up its own exporters.
"""

import os

from django.core.wsgi import get_wsgi_application

import telemetry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
if not os.environ.get("TELEGATE_SETUP_IN_POST_FORK"):
    telemetry.setup()
application = get_wsgi_application()
