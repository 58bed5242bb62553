"""The one mapping from exceptions to the wire: one hierarchy, and each error the same on HTTP and on a socket."""

from __future__ import annotations

from tortoise.exceptions import DBConnectionError

from app import errors
from app.llm import errors as llm_errors
from app.wire_errors import error_body, request_error_fields, step_error_fields


def test_model_errors_are_part_of_the_one_hierarchy_with_no_second_class_of_the_same_name():
    for name in llm_errors.__all__:
        if name[0].isupper():
            assert getattr(llm_errors, name) is getattr(errors, name)
            assert issubclass(getattr(errors, name), errors.AdjutantError)


def test_a_database_outage_on_a_chat_request_reads_as_its_typed_error():
    outage = DBConnectionError("connection refused")
    assert request_error_fields(outage) == (
        "INTERNAL_ERROR",
        "the database is unavailable; nothing was changed, try again shortly",
    )
    status, message, extra = step_error_fields(outage, "m", "p", registry=None)  # type: ignore[arg-type]
    assert (status, extra) == ("INTERNAL_ERROR", {})
    assert message == "The answer could not be stored, so it was stopped: the database is unavailable"


def test_an_unexpected_fault_hides_its_text():
    assert request_error_fields(KeyError("secret")) == ("INTERNAL_ERROR", "Internal error")


def test_a_located_throttle_carries_where_and_when_on_http():
    error = llm_errors.Throttled("slow down", retry_after=2.4).located(model="m", provider="p")
    body = error_body(error)
    assert body["status_code"] == 429 and body["error"]["message"] == "LLM_THROTTLED"
    assert body["meta"] == {"model": "m", "provider": "p", "retry_after": 2.4}
    assert error.retry_after_header() == 2
    unlocated = errors.ModelUnavailable("no model here")
    assert error_body(unlocated) == {
        "is_success": False,
        "status_code": 503,
        "error": {"message": "MODEL_UNAVAILABLE", "errors": [{"message": "no model here"}]},
    }
