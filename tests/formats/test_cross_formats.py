"""Between any two formats: a conversion never fails on a valid payload, and
whatever the target cannot hold is listed in the drop report, naming the
message and part it came from; within one format nothing is dropped."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convostore.formats import FORMATS, DropReport, convert, from_format, to_format

from . import payloads_anthropic, payloads_gemini, payloads_openai, payloads_vercel_ui

SOURCES: dict[str, Any] = {
    "openai-chat": payloads_openai.chat_payloads(),
    "openai-responses": payloads_openai.responses_payloads(),
    "anthropic": payloads_anthropic.payloads(),
    "gemini": payloads_gemini.payloads(),
    "vercel-ui": payloads_vercel_ui.payloads(),
}


@pytest.mark.parametrize("source", FORMATS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_conversion_reports_what_it_drops(source: str, data: st.DataObject) -> None:
    payload = data.draw(SOURCES[source])
    messages = from_format(payload, source)  # fresh ids each time: read once
    for target in FORMATS:
        report = DropReport()
        out = to_format(messages, target, report=report)
        for d in report:
            assert messages[d.message_index].id == d.message_id, (target, d)
            if d.part_index is not None:
                assert d.part_index < max(1, len(messages[d.message_index].parts)), (target, d)
        done = convert(payload, source=source, target=target)
        where = [(d.message_index, d.part_index, d.what) for d in done.dropped]
        assert where == [(d.message_index, d.part_index, d.what) for d in report]
        if target == source:
            assert list(report) == []
            assert out == to_format(from_format(out, source), source)
        elif report:
            with pytest.warns(Warning):
                to_format(messages, target)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                to_format(messages, target)
