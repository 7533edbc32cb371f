"""pydantic's v1 API (``pydantic.v1`` under pydantic 2, else pydantic itself)."""

try:
    from pydantic.v1 import *  # noqa: F401,F403
except ImportError:  # pragma: no cover - pydantic 1
    from pydantic import *  # type: ignore # noqa: F401,F403
