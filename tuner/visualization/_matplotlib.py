"""matplotlib, or an ImportError that names the extra to install."""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised by a subprocess test
    raise ImportError("tuner.visualization needs matplotlib: pip install 'tuner[plot]'") from error
