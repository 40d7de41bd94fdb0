"""The Cryptom Pay POS API: client, typed results and errors. No Flask here."""

from .client import CryptomClient
from .errors import AuthError, CryptomError, NotFound, Rejected, Unavailable
from .models import Page, Status, Token, Transaction, Wallet
from .tokens import FileTokenStore, MemoryTokenStore, RedisTokenStore, TokenStore

__all__ = [
    "AuthError",
    "CryptomClient",
    "CryptomError",
    "FileTokenStore",
    "MemoryTokenStore",
    "NotFound",
    "Page",
    "RedisTokenStore",
    "Rejected",
    "Status",
    "Token",
    "TokenStore",
    "Transaction",
    "Unavailable",
    "Wallet",
]
