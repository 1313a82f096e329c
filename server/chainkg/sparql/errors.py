"""The errors of the SPARQL endpoint: each one a refusal or failure with the HTTP status to answer it with.

Raised by every step (`guard`, `formats`, `limits`, `engine`); the view turns
them into plain-text responses (`sparql.error_response`).
"""

from __future__ import annotations


class QueryError(Exception):
    """A query the endpoint does not answer; `status` is the HTTP status of the answer (400 unless a subclass says)."""

    status = 400

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class BadRequest(QueryError):
    """A malformed request: an unknown parameter value, a graph name that is not an IRI, a body that is not UTF-8."""


class QuerySyntaxError(QueryError):
    """Text that is not a SPARQL query."""


class QueryRefused(QueryError):
    """A construct this endpoint does not run (SERVICE outside the allow-list, ambiguous text)."""


class QueryTooLarge(QueryError):
    """A query text longer than `Config.max_query_bytes` (UTF-8): refused before anything reads it."""

    status = 413


class QueryTooDeep(QueryError):
    """Brackets nested deeper than `Config.max_query_depth`: refused before the engine parses them."""


class UpdateRefused(QueryError):
    """SPARQL Update, in any form: the endpoint is read-only."""

    status = 403


class NotAcceptable(QueryError):
    """No format that both the client accepts and the query form allows."""

    status = 406


class UnsupportedMediaType(QueryError):
    """A POST body of a type (or charset) the protocol does not define."""

    status = 415


class QueryTimeout(QueryError):
    """The evaluation passed its time limit and was abandoned."""

    status = 503


class EvaluationError(QueryError):
    """The engine failed while running a valid query (502 when a remote SERVICE failed)."""

    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.status = status
