"""svcframe: a Nova-style multi-process service runtime."""

__version__ = "0.1.0"
__all__ = ["__version__"]
