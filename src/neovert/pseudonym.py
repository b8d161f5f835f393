"""Keyed pseudonyms, UID remapping and date shifts, all derived from one secret key.

HMAC-SHA256 under a key that never enters the repository or config.yaml means the same patient
gets the same pseudonym on every run and at every site holding the key, while nobody without the
key can recompute or test a guess. Nothing here ever hashes an identifier without the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_BYTES = 32  # 256 bits
DATE_SHIFT_DAYS = (365, 1095)  # shift every patient's dates back by 1-3 years


class PseudonymKeyError(RuntimeError):
    """The pseudonymization key is missing or unusable (message names the path, never the key)."""


def create_key(path: Path) -> Path:
    """Write a fresh random key readable by the owner only; refuse to overwrite an existing one,
    since losing a key breaks every pseudonym issued under it."""
    path = Path(path).expanduser()
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to replace a pseudonymization key")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path


def load_key(path: Path, env_var: str | None = None) -> bytes:
    """The key from environment variable `env_var` when it is set (hex), else from the file."""
    if env_var and os.environ.get(env_var):
        return _checked(bytes.fromhex(os.environ[env_var].strip()), f"environment variable {env_var}")
    path = Path(path).expanduser()
    if not path.is_file():
        raise PseudonymKeyError(f"no pseudonymization key at {path}: create one with `neovert keygen {path}`")
    if path.stat().st_mode & 0o077:
        raise PseudonymKeyError(f"pseudonymization key {path} is readable by others: chmod 600 it")
    return _checked(bytes.fromhex(path.read_text().strip()), f"pseudonymization key {path}")


def _checked(key: bytes, source: str) -> bytes:
    if len(key) < KEY_BYTES:
        raise PseudonymKeyError(f"{source} is shorter than 256 bits")
    return key


class Pseudonymizer:
    """All keyed derivations in one place, each under its own domain label."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, domain: str, value: str) -> bytes:
        return hmac.new(self._key, f"{domain}\0{value}".encode(), hashlib.sha256).digest()

    def patient(self, patient_id: str) -> str:
        """10 lower-case hex characters: short enough for file names, 40 bits against collisions."""
        return self._mac("patient", patient_id.strip()).hex()[:10]

    def family(self, family_id: str) -> str:
        """`fam` + 10 hex characters: a family key (a mother's record number) is PHI like a
        patient's, and the prefix keeps a family pseudonym from ever equalling a patient one
        (the split takes either as its unit)."""
        return "fam" + self._mac("family", family_id.strip()).hex()[:10]

    def uid(self, uid: str) -> str:
        """A `2.25.` UID (UUID-derived form) from the first 128 bits of the MAC."""
        return "2.25." + str(int.from_bytes(self._mac("uid", uid.strip())[:16], "big"))

    def reference(self, text: str) -> str:
        """12 hex characters naming an input file (whose path may hold PHI) in shared tables."""
        return self._mac("file", text).hex()[:12]

    def date_shift(self, patient_id: str) -> dt.timedelta:
        """Per-patient offset, so intervals between one patient's exams are kept exactly."""
        low, high = DATE_SHIFT_DAYS
        days = low + int.from_bytes(self._mac("date", patient_id.strip())[:4], "big") % (high - low)
        return dt.timedelta(days=days)
