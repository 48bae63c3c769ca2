from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "stats"
    verbose_name = "daily statistics (each church's database)"
