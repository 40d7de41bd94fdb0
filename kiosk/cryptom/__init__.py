"""The Cryptom Pay POS API: client, typed results and errors. No Flask here."""

from .client import CryptomClient
from .errors import AuthError, CryptomError, NotFound, Rejected, Unavailable
from .models import Page, Status, Token, Transaction, Wallet
from .tokens import FileTokenStore, MemoryTokenStore, TokenStore

__all__ = [
    "AuthError", "CryptomClient", "CryptomError", "FileTokenStore", "MemoryTokenStore", "NotFound",
    "Page", "Rejected", "Status", "Token", "TokenStore", "Transaction", "Unavailable", "Wallet",
]
