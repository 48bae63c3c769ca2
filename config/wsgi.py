import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as get_wsgi_application does

from config.handlers import WSGIHandler  # noqa: E402 (needs the apps loaded)

application = WSGIHandler()
