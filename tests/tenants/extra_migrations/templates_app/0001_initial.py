import importlib

Migration = importlib.import_module("templates_app.migrations.0001_initial").Migration
