"""Stripe's error responses."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answer: HTTP status and Stripe's ``{"error": {...}}`` body."""

    def __init__(  # noqa: PLR0917
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            err["param"] = self.param
        return {"error": err}


def missing(kind: str, object_id: str, param: str | None = None) -> StripeError:
    return StripeError(
        404 if param is None else 400, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def bad_param(message: str, param: str | None = None) -> StripeError:
    return StripeError(
        400, message, code="parameter_invalid_integer" if param == "limit" else None, param=param
    )
