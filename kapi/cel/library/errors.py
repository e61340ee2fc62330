"""How a library function reports a CEL error: raise ``EvalError`` with kube's text.

cel-expr-python turns an exception raised by a Python function into a CEL error value
whose text is ``<STATUS>: <message>``; ``kapi.cel.runtime`` strips the status again.
"""

from __future__ import annotations


class EvalError(ValueError):
    """A CEL runtime error raised by a library function."""
