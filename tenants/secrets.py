"""Encryption of secrets the registry keeps (tenant database passwords, MFA seeds)."""

import base64
import hashlib
import secrets
from functools import cache

from cryptography.fernet import Fernet
from django.conf import settings


@cache
def _fernet(key: str, secret_key: str) -> Fernet:
    if key:
        return Fernet(key.encode())
    # Development fallback: derived from SECRET_KEY (production requires the key).
    digest = hashlib.sha256(f"credentials:{secret_key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return (
        _fernet(settings.CREDENTIALS_KEY, settings.SECRET_KEY)
        .encrypt(plaintext.encode())
        .decode()
    )


def decrypt(token: str) -> str:
    return (
        _fernet(settings.CREDENTIALS_KEY, settings.SECRET_KEY)
        .decrypt(token.encode())
        .decode()
    )


def generate_password() -> str:
    return secrets.token_urlsafe(24)
