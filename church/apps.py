from django.apps import AppConfig


class ChurchConfig(AppConfig):
    name = "church"
    verbose_name = "Church settings and sending numbers (registry)"
