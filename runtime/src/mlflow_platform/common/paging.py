"""MLflow's paged searches, as one iterator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

#: The page size asked for: the most MLflow's registry searches return per page.
PAGE_SIZE = 200


def all_pages(search: Callable[..., Any], *args: Any) -> Iterator[Any]:
    """Every item of ``search(*args, max_results=..., page_token=...)`` (``search_registered_models``,
    ``search_model_versions``...), page after page until MLflow returns no next-page token."""
    token = None
    while True:
        page = search(*args, max_results=PAGE_SIZE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return
