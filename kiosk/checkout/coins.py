"""Coin amounts as a wallet accepts them: how many decimals each coin takes on its network, and
which way an amount is rounded to them.

Upstream may send more digits than a wallet can send (a partial payment can leave
31.012666666666666666666666667 due). An amount still due is rounded up, so a customer who sends
what is shown has paid; an amount received is rounded down, so the kiosk never claims more.
"""

from __future__ import annotations

from decimal import MAX_PREC, ROUND_CEILING, ROUND_FLOOR, Context, Decimal

# (coin, network) -> decimals a wallet sends. TRON's TRX (sun) and its USDT token have 6.
DECIMALS: dict[tuple[str, str], int] = {
    ("TRX", "TRX"): 6,
    ("USDT", "TRX"): 6,
}
DEFAULT_DECIMALS = 8  # a coin not in the table: enough for most, never a float's noise

# (coin, network) -> the network as wallets and exchanges name it: a token's standard with it,
# so a customer picks the right one in the wallet ("TRX network" says neither).
NETWORK_NAMES: dict[tuple[str, str], str] = {
    ("TRX", "TRX"): "TRON",
    ("USDT", "TRX"): "TRON (TRC-20)",
}

_EXACT = Context(prec=MAX_PREC)  # rounding to the coin's decimals only, never to 28 digits


def decimals(coin: str, network: str) -> int:
    return DECIMALS.get((coin.upper(), network.upper()), DEFAULT_DECIMALS)


def network_name(coin: str, network: str) -> str:
    """The network as people know it; a network not in the table by its code."""
    return NETWORK_NAMES.get((coin.upper(), network.upper()), network)


def _to(amount: Decimal, coin: str, network: str, rounding: str) -> Decimal:
    step = Decimal(10) ** -decimals(coin, network)
    return amount.quantize(step, rounding=rounding, context=_EXACT)


def due(amount: Decimal, coin: str, network: str) -> Decimal:
    """An amount the customer still has to send, rounded up to what a wallet can send."""
    return _to(amount, coin, network, ROUND_CEILING)


def received(amount: Decimal, coin: str, network: str) -> Decimal:
    """An amount that arrived, rounded down: never more than upstream counted."""
    return _to(amount, coin, network, ROUND_FLOOR)


def wallet_text(amount: Decimal) -> str:
    """Wallet notation in every language: a dot, no grouping, no exponent, no trailing zeros."""
    return f"{amount.normalize(_EXACT):f}"
