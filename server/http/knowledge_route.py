"""POST /knowledge/search: what the chat would retrieve for a question, with each passage's
coverage of it, so a user can see why an answer had (or lacked) its sources. Behind the same
gate as chat (key, rate limit, body, schema)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from persian_chat.server.http.api_errors import ApiError
from persian_chat.server.http.api_schema import KnowledgeSearchRequest
from persian_chat.server.http.app_state import AppState
from persian_chat.server.http.runtime import Runtime
from persian_chat.server.http.tokenize_routes import gated_answer


def _search(body: KnowledgeSearchRequest, runtime: Runtime, state: AppState) -> dict[str, Any]:
    if runtime.knowledge is None:
        raise ApiError(
            404,
            "this server has no knowledge base (serve --knowledge PATH)",
            code="no_knowledge_base",
        )
    retriever = runtime.knowledge
    threshold = retriever.min_coverage if body.min_coverage is None else body.min_coverage
    hits = retriever.base.search(runtime.normalize(body.query), body.k, threshold)
    return {
        "passages": len(retriever.base),
        "min_coverage": threshold,
        "hits": [
            {**hit.passage.as_dict(), "coverage": round(hit.coverage, 4), "bm25": hit.bm25}
            for hit in hits
        ],
    }


async def knowledge_search(request: Request) -> Response:
    return await gated_answer(request, "/knowledge/search", KnowledgeSearchRequest, _search)
