"""The video backends the decoder tests run over: torchcodec is skipped, with the reason,
where it cannot be imported (it is optional; CI installs it)."""

import importlib

import pytest


def import_problem(module: str) -> str | None:
    """Why `module` cannot be imported, or None when it can."""
    try:
        importlib.import_module(module)
    except (ImportError, OSError, RuntimeError) as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


TORCHCODEC_PROBLEM = import_problem("torchcodec.decoders")
requires_torchcodec = pytest.mark.skipif(
    TORCHCODEC_PROBLEM is not None,
    reason=f"torchcodec cannot be imported ({TORCHCODEC_PROBLEM}); install it with "
           "pip install -r requirements-backends.txt and FFmpeg's libraries (README, Decoders)")
# every backend, as pytest parameters
BACKENDS = ["decord", "pyav", pytest.param("torchcodec", marks=requires_torchcodec)]
