"""Operators the end-to-end suite runs against kapi."""
