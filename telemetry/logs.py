"""``trace_id`` and ``span_id`` on every log line written inside a traced request or job.

    "filters": {"trace": {"()": "telemetry.logs.TraceContextFilter"}}

The ids are the W3C hex forms that X-Ray and CloudWatch show, so a log line leads to its
trace. With telemetry off the filter only checks a flag.
"""

import logging

from telemetry import record


class TraceContextFilter(logging.Filter):
    def filter(self, log_record: logging.LogRecord) -> bool:
        if record.started():
            from opentelemetry import trace

            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                log_record.trace_id = format(context.trace_id, "032x")
                log_record.span_id = format(context.span_id, "016x")
        return True
