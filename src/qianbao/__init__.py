"""Qianbao (钱包): an open digital-wallet platform."""

__version__ = "0.1.0"
