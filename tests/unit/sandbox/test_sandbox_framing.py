"""The agent's frame reader accepts exactly HELLO [RESULT|ERROR] EXIT and nothing else."""

from __future__ import annotations

import json

from runsurge.sandbox import harness
from runsurge.sandbox.framing import FrameReader, LogCapture, new_nonce

NONCE = b"n" * harness.NONCE_BYTES
EXIT_OK = b'{"exit_code":0,"signal":null,"problem":null,"result_bytes":2}'


def frames(*parts: tuple[int, bytes], nonce: bytes = NONCE) -> bytes:
    return b"".join(harness.frame(nonce, kind, payload) for kind, payload in parts)


def feed_bytewise(reader: FrameReader, data: bytes) -> None:
    for i in range(len(data)):
        reader.feed(data[i : i + 1])


def test_a_complete_run_parses_even_one_byte_at_a_time() -> None:
    reader = FrameReader(NONCE, 1000)
    feed_bytewise(
        reader,
        frames(
            (harness.KIND_HELLO, b""), (harness.KIND_RESULT, b"{}"), (harness.KIND_EXIT, EXIT_OK)
        ),
    )
    assert reader.done
    report = reader.report
    assert report.hello and report.result == b"{}" and report.violation is None
    assert report.exit is not None and report.exit.exit_code == 0


def test_error_frame_becomes_script_error() -> None:
    reader = FrameReader(NONCE, 1000)
    error = json.dumps({"type": "ValueError", "message": "m", "traceback": "tb"}).encode()
    reader.feed(frames((harness.KIND_HELLO, b""), (harness.KIND_ERROR, error)))
    assert reader.report.error is not None and reader.report.error.type == "ValueError"


def test_lone_surrogates_in_errors_are_made_valid_text() -> None:
    reader = FrameReader(NONCE, 1000)
    error = b'{"type": "E", "message": "bad \\ud800 text", "traceback": ""}'
    reader.feed(frames((harness.KIND_HELLO, b""), (harness.KIND_ERROR, error)))
    assert reader.report.error is not None
    reader.report.error.message.encode("utf-8")  # would raise on a lone surrogate


def test_wrong_nonce_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_HELLO, b""), nonce=b"x" * harness.NONCE_BYTES))
    assert reader.done and reader.report.violation == "frame with a wrong nonce"


def test_bad_magic_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(b"XXXX" + b"\0" * 40)
    assert reader.report.violation == "bad frame magic"


def test_result_before_hello_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_RESULT, b"{}")))
    assert reader.report.violation is not None and "before HELLO" in reader.report.violation


def test_two_results_are_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(
        frames(
            (harness.KIND_HELLO, b""), (harness.KIND_RESULT, b"{}"), (harness.KIND_RESULT, b"{}")
        )
    )
    assert reader.report.violation == "more than one result frame"


def test_unknown_kind_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_HELLO, b""), (99, b"")))
    assert reader.report.violation == "unknown frame kind 99"


def test_data_after_exit_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_HELLO, b""), (harness.KIND_EXIT, EXIT_OK)))
    assert reader.report.violation is None
    reader.feed(b"x")
    assert reader.report.violation == "data after the final frame"


def test_malformed_exit_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_HELLO, b""), (harness.KIND_EXIT, b'{"exit_code": "0"}')))
    assert reader.report.violation == "malformed EXIT frame"


def test_oversized_result_is_refused_before_its_payload_is_read() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_HELLO, b"")))
    reader.feed(harness.frame_header(NONCE, harness.KIND_RESULT, 1 << 30))
    assert reader.done and reader.report.too_large == 1 << 30
    for _ in range(64):  # a gigabyte announced, megabytes sent: nothing is kept
        reader.feed(b"a" * 65536)
    assert len(reader._buffer) == 0
    assert reader.report.violation is None


def test_oversized_control_frame_is_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(harness.frame_header(NONCE, harness.KIND_HELLO, 10**9))
    assert reader.report.violation is not None and "oversized" in reader.report.violation


def test_truncated_stream_is_not_a_violation() -> None:
    reader = FrameReader(NONCE, 1000)
    reader.feed(frames((harness.KIND_HELLO, b"")))
    reader.feed(harness.frame_header(NONCE, harness.KIND_RESULT, 10)[:20])
    reader.end_of_stream()
    assert reader.report.violation is None and reader.report.exit is None


def test_log_capture_keeps_the_head_and_flags_the_rest() -> None:
    logs = LogCapture(10)
    logs.feed(b"12345")
    logs.feed(b"6789012345")
    assert logs.value() == b"1234567890" and logs.truncated and logs.dropped == 5


def test_log_capture_exactly_at_the_cap_is_not_truncated() -> None:
    logs = LogCapture(4)
    logs.feed(b"abcd")
    assert logs.value() == b"abcd" and not logs.truncated


def test_nonces_are_random_and_sized() -> None:
    assert len(new_nonce()) == harness.NONCE_BYTES and new_nonce() != new_nonce()
