"""Kizuna: a game server that speaks Nakama's client protocol."""

from kizuna.version import __version__

__all__ = ["__version__"]
