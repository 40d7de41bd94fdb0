"""TRON-style addresses: Base58Check of 0x41 + 20 bytes, 34 characters starting with T."""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = ALPHABET[rem] + out
    pad = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * pad + out


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + ALPHABET.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    pad = len(text) - len(text.lstrip("1"))
    return b"\0" * pad + body


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def new_address() -> str:
    payload = b"\x41" + secrets.token_bytes(20)
    return b58encode(payload + _checksum(payload))


def is_valid_address(address: str) -> bool:
    if len(address) != 34 or not address.startswith("T"):
        return False
    try:
        raw = b58decode(address)
    except ValueError:
        return False
    return len(raw) == 25 and raw[0] == 0x41 and _checksum(raw[:21]) == raw[21:]
