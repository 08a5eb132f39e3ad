"""Kontor's domain code: plain functions with no Flask imports unless a module says so."""
__version__ = "0.1.0"
