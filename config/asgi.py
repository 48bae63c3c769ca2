import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # as get_asgi_application does

from config.handlers import ASGIHandler  # noqa: E402 (needs the apps loaded)

application = ASGIHandler()
