"""The one user-facing error type (and its warning sibling).

A ``CharlmError`` carries a single line that says what is wrong and what to do about it.
The CLI prints it to stderr and exits non-zero without a traceback; library callers catch it.
``BadOption`` is the kind that means the command line (or a config's values) is wrong: exit code 2.
"""

from __future__ import annotations


class CharlmError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CharlmWarning(UserWarning):
    """A one-line caution about the user's input that does not stop the work (the CLI prints it on stderr)."""


class BadOption(CharlmError):
    """An option value out of range, of the wrong kind, or options that cannot go together (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 2)


def need(module: str, extra: str, what: str = "this command") -> None:
    """Refuse in one line when an optional dependency is missing, naming the extra that installs it.

    The extras (pyproject.toml): ``plot`` (matplotlib), ``zh`` (jieba), ``serve`` (fastapi, uvicorn),
    ``export`` (onnx, onnxruntime). Call it just before the lazy import of ``module``.
    """
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-imported package counts as missing
        found = False
    if not found:
        raise CharlmError(f"{what} needs {module}, which is not installed: pip install 'charlm[{extra}]'")
