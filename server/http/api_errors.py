"""One error shape for every 4xx/5xx answer, the OpenAI one, so any client can show it:
{"error": {"message", "type", "param", "code"}} where `param` names the offending field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": TYPES.get(self.status, "invalid_request_error"),
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def from_validation_error(exc: ValidationError) -> ApiError:
    """The first problem pydantic found, with its location as a dotted `param`."""
    error = exc.errors(include_url=False)[0]
    loc = [str(part) for part in error["loc"] if not str(part).startswith("function-")]
    # drop pydantic's union-branch labels such as 'str' / 'list[str]'
    loc = [p for p in loc if p not in ("str", "int", "float", "bool") and not p.endswith("]")]
    param = ".".join(loc) or None
    message = str(error["msg"])
    if param:
        message = f"{param}: {message}"
    return ApiError(400, message, param=param, code=str(error["type"]))
