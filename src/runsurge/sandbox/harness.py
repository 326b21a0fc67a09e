"""The in-sandbox program: import the consumer's script, call its entrypoint, report once.

Runs as ``python3.X -I -S harness.py config=FD`` inside the sandbox (or a plain
subprocess in insecure development mode).  It uses the standard library only and
imports nothing heavy before it must, because its start-up time is paid per task.

Two processes, so that the consumer's code never holds the agent's result channel:

* the *reporter* (this process) never runs consumer code.  It forks the worker,
  closes its copy of everything the worker needs, reads the per-run nonce from the
  control fd (after the fork, so the worker's memory never contains it), and relays
  the worker's one message to the agent as authenticated frames on the result fd.
  In the bubblewrap sandbox it is PID 1 of the task's PID namespace, so the worker
  cannot kill it, and it marks itself non-dumpable so the worker cannot open its
  ``/proc/1/mem``.
* the *worker* closes the result and control fds, points stdout/stderr at the log
  pipe, imports the script, calls ``process`` (or ``aggregate``), validates the
  return value and writes one message to a private pipe read only by the reporter.

Frames on the result fd (all integers big-endian)::

    MAGIC(4) NONCE(16) KIND(1) LENGTH(8) PAYLOAD(LENGTH)

in the order HELLO, optionally RESULT or ERROR, then EXIT.  The agent
(``runsurge.sandbox.framing``) imports the constants below so both sides agree.

The configuration is not on the command line, which every process of the sandbox
can read in ``/proc/N/cmdline``: ``config=FD`` names a descriptor (a memfd the agent
filled) holding NUL-separated ``key=value`` items, read and closed before anything
else.  Keys: ``control``, ``result``, ``log``, ``input`` (fd numbers; ``input`` is a
pipe the agent fills, never the input file: its ``/proc/self/fd`` link would name a
host path), ``script`` (path), ``entry`` (``process`` or ``aggregate``),
``max_output`` (bytes), ``seal`` (fd of the exec seal) and ``rlimits`` as
``NAME:soft:hard,...``, applied by the reporter to itself before it forks the worker.

With ``mode=session`` the same reporter serves a warm session instead: a zygote
imports the script once and forks one worker per input (see "warm session" below and
``docs/security.md``).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~10 ms per task
if TYPE_CHECKING:
    from _socket import socket as _SocketLike
    from collections.abc import Callable

MAGIC = b"RSH1"
NONCE_BYTES = 16
HEADER_BYTES = len(MAGIC) + NONCE_BYTES + 1 + 8

KIND_HELLO = 1
KIND_RESULT = 2
KIND_ERROR = 3
KIND_EXIT = 4

# Worker -> reporter message: WORKER_MAGIC(4) KIND(1) LENGTH(8) PAYLOAD.  A different
# magic than the agent's frames, so bytes copied from one channel never parse on the other.
WORKER_MAGIC = b"RSW1"
WORKER_RESULT = b"R"
WORKER_ERROR = b"E"
WORKER_HEADER_BYTES = len(WORKER_MAGIC) + 1 + 8

# Problems the reporter found with the worker's message, reported in the EXIT frame.
PROBLEM_TOO_LARGE = "result_too_large"
PROBLEM_BAD_MESSAGE = "bad_message"
PROBLEM_TRUNCATED = "truncated_message"
PROBLEM_TRAILING = "trailing_data"

USER_MODULE = "user_script"
MAX_MESSAGE_CHARS = 16 * 1024
MAX_TRACEBACK_CHARS = 64 * 1024
_CHUNK = 64 * 1024
_PR_SET_DUMPABLE = 4
_SIGINT = 2
_RUN_KEYS = ("control", "result", "log", "input", "script", "entry", "max_output")
_SESSION_KEYS = ("control", "script", "entry")


class _Reported(Exception):
    """Raised inside the worker to end the run with a structured error."""

    def __init__(self, type_name: str, message: str, traceback_text: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text


# --------------------------------------------------------------------------- arguments


def read_config(argv: list[str]) -> list[str]:
    """The ``key=value`` items from the ``config=FD`` descriptor, which is then closed."""
    if len(argv) != 1 or not argv[0].startswith("config="):
        raise SystemExit("harness: expected one argument, config=FD")
    data = _read_and_close(int(argv[0].partition("=")[2]))
    return [item for item in data.decode().split("\0") if item]


def _read_and_close(fd: int) -> bytes:
    """Everything a set-up descriptor holds; it is closed so the script never sees it."""
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return data


def parse_args(argv: list[str]) -> dict[str, str]:
    """Parse ``key=value`` arguments; argparse would cost milliseconds of imports."""
    args: dict[str, str] = {}
    for item in argv:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"harness: malformed argument {item!r}")
        args[key] = value
    required = _SESSION_KEYS if args.get("mode") == "session" else _RUN_KEYS
    for key in required:
        if key not in args:
            raise SystemExit(f"harness: missing argument {key}=")
    return args


def apply_rlimits(spec: str) -> None:
    """Lower this process's rlimits; the worker inherits them through fork."""
    import resource

    for item in spec.split(","):
        if not item:
            continue
        name, soft, hard = item.split(":")
        which = getattr(resource, name)
        _cur_soft, cur_hard = resource.getrlimit(which)
        new_hard = int(hard) if cur_hard == resource.RLIM_INFINITY else min(int(hard), cur_hard)
        resource.setrlimit(which, (min(int(soft), new_hard), new_hard))


def _set_dumpable(flag: int) -> None:
    """prctl(PR_SET_DUMPABLE, flag); best effort (see docs/security.md)."""
    prctl(_PR_SET_DUMPABLE, flag)


def prctl(option: int, arg: int) -> None:
    """prctl(option, arg, 0, 0, 0); best effort.

    Goes through the ``_ctypes`` core directly: ``import ctypes`` costs ~4 ms per task.
    """
    try:
        import _ctypes

        class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class _Function(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = _Int

        libc = _ctypes.dlopen(None)  # type: ignore[arg-type]  # NULL: the running program
        call = _Function(_ctypes.dlsym(libc, "prctl"))
        call(option, arg, 0, 0, 0)
    except (ImportError, OSError, AttributeError, TypeError):
        pass


_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SEAL_FAILED = 71  # exit status before HELLO: the agent reports SandboxStartFailed


def install_seal(fd: int) -> None:
    """Load the agent's second seccomp filter (read from `fd`) on this process, or exit.

    bubblewrap must exec the harness after loading the main filter, so that filter
    cannot forbid execve; this one, stacked on it from here on (filters only ever
    add up), refuses execve and execveat to the harness and everything it forks:
    a binary the task writes to /work, /dev/shm or a memfd cannot be run. Failing
    closed: without the seal there is no run.
    """
    program = _read_and_close(fd)
    if not program or len(program) % 8 or not _load_filter(program):
        os.write(2, b"harness: cannot install the exec seal\n")
        os._exit(_SEAL_FAILED)


def _load_filter(program: bytes) -> bool:
    """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &sock_fprog), through the _ctypes core."""
    try:
        import _ctypes

        class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class _ULong(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "L"

        class _UShort(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "H"

        class _Pointer(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "P"

        class _Char(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "c"

        class _Program(_ctypes.Array[_Char]):
            _type_ = _Char
            _length_ = len(program)

        class _Fprog(_ctypes.Structure):
            _fields_ = [("len", _UShort), ("filter", _Pointer)]

        class _Prctl(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = _Int
            _argtypes_ = (_Int, _ULong, _Pointer, _ULong, _ULong)

        libc = _ctypes.dlopen(None)  # type: ignore[arg-type]
        prctl_call = _Prctl(_ctypes.dlsym(libc, "prctl"))
        code = _Program.from_buffer_copy(program)
        fprog = _Fprog(len(program) // 8, _ctypes.addressof(code))
        prctl_call(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0)
        return (
            int(prctl_call(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, _ctypes.addressof(fprog), 0, 0))
            == 0
        )
    except (ImportError, OSError, AttributeError, TypeError):
        return False


# --------------------------------------------------------------------------- low-level I/O


def write_all(fd: int, data: bytes) -> None:
    """Write every byte, retrying short writes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly `size` bytes, or fewer only at end of file."""
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def frame_header(nonce: bytes, kind: int, length: int) -> bytes:
    """The fixed-size header that precedes a payload of `length` bytes."""
    return MAGIC + nonce + bytes((kind,)) + length.to_bytes(8, "big")


def frame(nonce: bytes, kind: int, payload: bytes) -> bytes:
    """Encode one agent-facing frame."""
    return frame_header(nonce, kind, len(payload)) + payload


# --------------------------------------------------------------------------- reporter


class _WorkerPipe:
    """Reads the worker's message without trusting the worker to close the pipe.

    A grandchild the script forked may hold the write end open forever, so end of
    data is "EOF, or the worker has exited and nothing is left to read".
    """

    def __init__(self, fd: int, pid: int) -> None:
        import select

        self.fd = fd
        self.pid = pid
        self.status: int | None = None
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLHUP)
        os.set_blocking(fd, False)

    def _reap(self) -> None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = status

    def read(self, size: int) -> bytes:
        """Up to `size` bytes; fewer only when the worker is done writing."""
        chunks: list[bytes] = []
        while size > 0:
            try:
                chunk = os.read(self.fd, min(size, _CHUNK))
            except BlockingIOError:
                if self.status is not None:
                    break
                self._poll.poll(50)
                self._reap()
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def wait(self) -> int:
        """Block until the worker has exited; return its wait status."""
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)
        return self.status

    def kill(self) -> None:
        """SIGKILL the worker (its announced result is too large)."""
        os.kill(self.pid, 9)


def _exit_payload(status: int | None, problem: str | None, result_bytes: int) -> bytes:
    """The EXIT frame's JSON, built by hand: only ints and one of the PROBLEM_* names."""
    exit_code: int | None = None
    signal: int | None = None
    if status is not None and os.WIFSIGNALED(status):
        signal = os.WTERMSIG(status)
    elif status is not None:
        exit_code = os.waitstatus_to_exitcode(status)

    def number(value: int | None) -> str:
        return "null" if value is None else str(int(value))

    problem_json = "null" if problem is None else '"' + problem + '"'
    return (
        f'{{"exit_code":{number(exit_code)},"signal":{number(signal)},'
        f'"problem":{problem_json},"result_bytes":{int(result_bytes)}}}'
    ).encode()


def relay(pipe: _WorkerPipe, result_fd: int, nonce: bytes, max_output: int) -> None:
    """Forward the worker's single message to the agent, then the worker's exit status."""
    header = pipe.read(WORKER_HEADER_BYTES)
    problem: str | None = None
    length = 0
    if header:
        magic, kind = header[:4], header[4:5]
        length = int.from_bytes(header[5:13], "big")
        well_formed = len(header) == WORKER_HEADER_BYTES and magic == WORKER_MAGIC
        if not well_formed or kind not in (WORKER_RESULT, WORKER_ERROR):
            problem = PROBLEM_BAD_MESSAGE
        elif length > max_output:
            problem = PROBLEM_TOO_LARGE
            pipe.kill()
        else:
            agent_kind = KIND_RESULT if kind == WORKER_RESULT else KIND_ERROR
            write_all(result_fd, frame_header(nonce, agent_kind, length))
            problem = _copy_payload(pipe, result_fd, length)
    status = pipe.wait()
    if problem is None and header and pipe.read(1):
        problem = PROBLEM_TRAILING
    write_all(result_fd, frame(nonce, KIND_EXIT, _exit_payload(status, problem, length)))


def _copy_payload(pipe: _WorkerPipe, result_fd: int, length: int) -> str | None:
    """Stream `length` bytes; pad with zeros if the worker stopped early."""
    remaining = length
    while remaining > 0:
        chunk = pipe.read(min(remaining, _CHUNK))
        if not chunk:
            write_all(result_fd, bytes(remaining))
            return PROBLEM_TRUNCATED
        write_all(result_fd, chunk)
        remaining -= len(chunk)
    return None


def reporter_main(args: dict[str, str]) -> None:
    """Fork the worker, then relay its message; never runs consumer code."""
    import _signal  # type: ignore[import-not-found]  # `signal` would import enum: ~5 ms

    # With a handler installed, PID 1 could be killed by SIGINT from the worker.
    _signal.signal(_SIGINT, _signal.SIG_DFL)
    if args.get("rlimits"):
        apply_rlimits(args["rlimits"])
    _set_dumpable(0)

    control_fd, result_fd = int(args["control"]), int(args["result"])
    log_fd, input_fd = int(args["log"]), int(args["input"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.close(control_fd)
        os.close(result_fd)
        worker_main(args, write_end, log_fd, input_fd)
    os.close(write_end)
    os.close(log_fd)
    os.close(input_fd)
    nonce = read_exact(control_fd, NONCE_BYTES)
    os.close(control_fd)
    if len(nonce) != NONCE_BYTES:
        os.kill(pid, 9)
        raise SystemExit("harness: no nonce on the control fd")
    write_all(result_fd, frame(nonce, KIND_HELLO, b""))
    relay(_WorkerPipe(read_end, pid), result_fd, nonce, int(args["max_output"]))
    os.close(result_fd)


# --------------------------------------------------------------------------- worker


def worker_main(args: dict[str, str], to_reporter: int, log_fd: int, input_fd: int) -> None:
    """Run the consumer's entrypoint and send one message; never returns."""
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    _set_dumpable(1)
    _prefer_oom_kill()
    worker_pid = os.getpid()
    kind, payload = worker_message(lambda: run_entrypoint(args, input_fd))
    send_and_exit(to_reporter, kind, payload, worker_pid)


def worker_message(action: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """(WORKER_RESULT, result) or (WORKER_ERROR, error JSON) for one call of `action`."""
    try:
        return WORKER_RESULT, action()
    except _Reported as err:
        return WORKER_ERROR, _error_payload(err.type_name, err.message, err.traceback_text)
    except MemoryError:  # even reporting the script's error ran out of memory
        return WORKER_ERROR, _error_payload("MemoryError", "out of memory", "")
    except BaseException as exc:  # a bug in the harness itself: still report, never hang
        return WORKER_ERROR, _error_payload("HarnessError", _safe_str(exc), "")


def send_and_exit(to_reporter: int, kind: bytes, payload: bytes, worker_pid: int) -> None:
    """Write the one worker message and end the process; never returns."""
    if os.getpid() != worker_pid:
        # A process the script forked has returned (or raised) into the harness.  Only
        # the worker itself reports; a second message would look like a forgery.
        _flush_stdio()
        os._exit(0)
    header = WORKER_MAGIC + kind + len(payload).to_bytes(8, "big")
    try:
        write_all(to_reporter, header + payload)
    except OSError:
        os._exit(3)
    _flush_stdio()
    os._exit(0)


def _flush_stdio() -> None:
    """Flush what the script printed; it may have replaced or broken the streams."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # nothing useful to do; the result is what matters
            continue


def _prefer_oom_kill() -> None:
    """Make the worker, not the reporter, the OOM killer's choice (raising is unprivileged)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _error_payload(type_name: str, message: str, traceback_text: str) -> bytes:
    quote = _json_string
    return (
        f'{{"type":{quote(type_name[:200])},"message":{quote(message[:MAX_MESSAGE_CHARS])},'
        f'"traceback":{quote(traceback_text[-MAX_TRACEBACK_CHARS:])}}}'
    ).encode("ascii")


# The ``json`` package imports ``re``, ``enum`` and friends: ~7 ms per task, more than a
# third of the harness's own cost.  Its C core ``_json`` (what json.dumps runs on anyway)
# imports nothing, so encoding goes straight to it, falling back to ``json`` if this
# interpreter's ``_json`` differs.  Decoding (aggregate inputs) uses ``json`` itself.


def _json_string(text: str) -> str:
    """A JSON string literal, ASCII-only (lone surrogates become \\udxxx escapes)."""
    try:
        from _json import encode_basestring_ascii
    except ImportError:
        from json import dumps

        return dumps(text)
    result: str = encode_basestring_ascii(text)
    return result


def _not_serialisable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def json_dumps(value: object) -> str:
    """json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))."""
    try:
        from _json import encode_basestring, make_encoder

        encoder = make_encoder({}, _not_serialisable, encode_basestring, None, ":", ",",
                               False, False, False)  # fmt: skip
    except (ImportError, TypeError):
        import json

        return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return "".join(encoder(value, 0))


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except BaseException:
        return f"<unprintable {type(value).__name__}>"


def run_entrypoint(args: dict[str, str], input_fd: int) -> bytes:
    """Load the script, call the entrypoint on the input, return the encoded result."""
    script, entry = args["script"], args["entry"]
    func = resolve_entrypoint(load_script(script), entry)
    return call_entrypoint(func, entry, script, input_fd, int(args["max_output"]))


def call_entrypoint(
    func: Callable[[object], object], entry: str, script: str, input_fd: int, max_output: int
) -> bytes:
    """Read the input, call the loaded entrypoint, return the encoded result."""
    argument: object = read_process_input(input_fd) if entry == "process" else None
    if entry == "aggregate":
        argument = read_aggregate_input(input_fd)
    os.close(input_fd)
    try:
        result = func(argument)
    except SystemExit as exc:
        raise _Reported(
            "SystemExit", f"{entry}() called sys.exit({exc.code!r})", user_traceback(exc, script)
        ) from None
    except BaseException as exc:
        if isinstance(exc, MemoryError):
            _release_frames(exc)
        raise _Reported(type(exc).__name__, _safe_str(exc), user_traceback(exc, script)) from None
    return encode_result(result, entry, max_output)


def _release_frames(exc: BaseException) -> None:
    """Drop the locals of the frames that raised, so reporting has memory to work with."""
    tb = exc.__traceback__
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
        try:
            frame.clear()
        except RuntimeError:  # a frame still executing (the harness's own)
            continue


def load_script(path: str) -> object:
    """Compile and execute the script as module ``user_script``."""
    with open(path, "rb") as f:
        source = f.read()
    try:
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise _Reported(
            "SyntaxError", f"{exc.msg} (line {exc.lineno})", _format_only(exc)
        ) from None
    except ValueError as exc:  # e.g. null bytes in the source
        raise _Reported("SyntaxError", _safe_str(exc)) from None
    module = type(sys)(USER_MODULE)
    module.__file__ = path
    sys.modules[USER_MODULE] = module
    sys.argv = [path]
    try:
        exec(code, module.__dict__)
    except SystemExit as exc:
        raise _Reported(
            "SystemExit",
            f"the script called sys.exit({exc.code!r}) while loading",
            user_traceback(exc, path),
        ) from None
    except BaseException as exc:
        raise _Reported(type(exc).__name__, _safe_str(exc), user_traceback(exc, path)) from None
    return module


def resolve_entrypoint(module: object, entry: str) -> Callable[[object], object]:
    """Return the entrypoint if it exists, is callable and takes one positional argument."""
    func = getattr(module, entry, None)
    if func is None:
        raise _Reported("MissingFunction", f"the script does not define {entry}()")
    if not callable(func):
        raise _Reported("MissingFunction", f"{entry} is a {type(func).__name__}, not a function")
    problem = signature_problem(func)
    if problem:
        raise _Reported("BadSignature", f"{entry}() {problem}; it must accept one argument")
    checked: Callable[[object], object] = func
    return checked


def signature_problem(func: object) -> str | None:
    """Why `func` cannot be called with exactly one positional argument, or None."""
    code = getattr(func, "__code__", None)
    if type(func) is type(signature_problem) and code is not None:
        # Plain functions: read the code object, no need to import inspect (~15 ms).
        n_positional = code.co_argcount
        has_varargs = bool(code.co_flags & 0x04)
        n_defaults = len(getattr(func, "__defaults__", None) or ())
        kw_defaults = getattr(func, "__kwdefaults__", None) or {}
        required_kwonly = [
            name
            for name in code.co_varnames[n_positional : n_positional + code.co_kwonlyargcount]
            if name not in kw_defaults
        ]
        if required_kwonly:
            return f"has required keyword-only argument(s) {', '.join(required_kwonly)}"
        if n_positional - n_defaults > 1:
            return f"requires {n_positional - n_defaults} positional arguments"
        if n_positional == 0 and not has_varargs:
            return "takes no positional argument"
        return None
    import inspect

    if not callable(func):
        return "is not callable"
    try:
        inspect.signature(func).bind(None)
    except TypeError as exc:
        return f"cannot be called with one argument ({exc})"
    except ValueError:
        return None  # no introspectable signature (some builtins): the call will tell
    return None


def read_process_input(fd: int) -> str:
    """The whole input as text, decoded as strict UTF-8."""
    data = bytearray()
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        data += chunk
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Reported(
            "InputDecodeError",
            f"input is not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}",
        ) from None


def read_aggregate_input(fd: int) -> list[dict[str, object]]:
    """JSON lines, one result object per line, parsed as they stream in."""
    import json

    results: list[dict[str, object]] = []
    with open(fd, "rb", closefd=False) as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise _Reported(
                    "InputDecodeError", f"line {number} is not UTF-8 JSON: {exc}"
                ) from None
            if not isinstance(value, dict):
                raise _Reported("InputDecodeError", f"line {number} is not a JSON object")
            results.append(value)
    return results


def encode_result(result: object, entry: str, max_output: int) -> bytes:
    """UTF-8 JSON of a dict, or InvalidResult saying which key and type is wrong."""
    if not isinstance(result, dict):
        raise _Reported(
            "InvalidResult", f"{entry}() must return a dict, not {type(result).__name__}"
        )
    try:
        text = json_dumps(result)
        payload = text.encode("utf-8")
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        where = find_unserialisable(result)
        detail = where if where else _safe_str(exc)
        raise _Reported(
            "InvalidResult", f"{entry}() returned a dict that is not JSON: {detail}"
        ) from None
    if len(payload) > max_output:
        raise _Reported(
            "OutputTooLarge", f"result is {len(payload)} bytes; the limit is {max_output}"
        )
    return payload


def find_unserialisable(result: dict[object, object]) -> str | None:
    """Path and reason of the first value json.dumps refuses, e.g. ``result['a'][2]: set``."""
    stack: list[tuple[str, object]] = [("result", result)]
    active: set[int] = set()
    while stack:
        path, value = stack.pop()
        if value is None or isinstance(value, (str, bool, int)):
            if isinstance(value, str) and _has_lone_surrogate(value):
                return f"{path}: string contains a lone surrogate"
            continue
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                return f"{path}: {value!r} is not allowed in JSON"
            continue
        if id(value) in active:
            return f"{path}: circular reference"
        if isinstance(value, dict):
            active.add(id(value))
            for key, item in value.items():
                if not isinstance(key, (str, int, float, bool)) and key is not None:
                    return f"{path}: key {key!r} of type {type(key).__name__}"
                if isinstance(key, str) and _has_lone_surrogate(key):
                    return f"{path}: key contains a lone surrogate"
                stack.append((f"{path}[{key!r}]", item))
        elif isinstance(value, (list, tuple)):
            active.add(id(value))
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        else:
            return f"{path}: value of type {type(value).__name__} is not JSON-serialisable"
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def user_traceback(exc: BaseException, script: str) -> str:
    """The traceback from the first frame in the script on; harness frames are dropped."""
    import traceback

    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb or exc.__traceback__)
    return "".join(lines)


def _format_only(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception_only(type(exc), exc))


# --------------------------------------------------------------------------- warm session
#
# ``mode=session``: one reporter (PID 1, never runs consumer code) and one *zygote*
# that imports the script on the first request and then forks a fresh *worker* per
# input.  Agent -> reporter, on the SOCK_SEQPACKET ``control`` socket, one message per
# input: NONCE(16) + ``max_output rlimits`` (ASCII) with three descriptors attached
# (result pipe, log pipe, input pipe).  The reporter keeps the result pipe, passes the
# other two and a fresh worker pipe to the zygote (which never sees a nonce), relays
# the worker's message exactly as in a cold run, kills whatever the input left running,
# and answers SESSION_READY on the control socket — or exits, which ends the session.
# Zygote -> reporter: ZYGOTE_FORKED + pid(4), then ZYGOTE_STATUS + wait status(4) +
# 1 (the zygote goes on) or 0 (it ends: the script failed to import).

SESSION_READY = b"R"
ZYGOTE_FORKED = b"P"
ZYGOTE_STATUS = b"S"
_PR_SET_CHILD_SUBREAPER = 36
_SOL_SOCKET = 1
_SCM_RIGHTS = 1
_WNOHANG = 1
_LOST_STATUS = 255 << 8  # "exited with 255": a worker whose status could not be learnt
_SWEEP_ROUNDS = 100
_GO = b"g"
_PEER_GONE = (32, 104, 111)  # EPIPE, ECONNRESET, ECONNREFUSED: the zygote died
_HANDOFF_FAILED = 72
_ZYGOTE_GONE = 70  # a worker whose zygote died before announcing it: it runs nothing


def send_fds(sock: _SocketLike, payload: bytes, fds: list[int]) -> None:
    """One SOCK_SEQPACKET message with descriptors attached (SCM_RIGHTS)."""
    data = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
    sock.sendmsg([payload], [(_SOL_SOCKET, _SCM_RIGHTS, data)])


def receive_fds(sock: _SocketLike, count: int) -> tuple[bytes, list[int]]:
    """One message and its descriptors; (b"", []) at end of stream."""
    import _socket

    payload, ancillary, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4 * count))
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _SOL_SOCKET and kind == _SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds += [int.from_bytes(data[i : i + 4], sys.byteorder) for i in range(0, usable, 4)]
    if payload and len(fds) != count:
        for fd in fds:
            os.close(fd)
        raise SystemExit("harness: a request arrived without its descriptors")
    return payload, fds


class _Zygote:
    """The reporter's view of the zygote: its pid, socket and messages."""

    def __init__(self, pid: int, sock: _SocketLike) -> None:
        self.pid = pid
        self.sock = sock
        self.alive = True
        self.worker: int | None = None
        self.status: int | None = None

    def begin(self) -> None:
        self.worker, self.status = None, None

    def handle_one(self) -> None:
        """Receive and apply one message; a closed socket means the zygote died."""
        try:
            message = self.sock.recv(16)
        except OSError:
            message = b""
        if message[:1] == ZYGOTE_FORKED and len(message) >= 5:
            self.worker = int.from_bytes(message[1:5], "big")
        elif message[:1] == ZYGOTE_STATUS and len(message) >= 6:
            self.status = int.from_bytes(message[1:5], "big")
            self.alive = message[5:6] == b"\x01"
        else:
            self._died()

    def _died(self) -> None:
        """Reap the zygote; the worker it left (now ours: we are the subreaper) too."""
        self.alive = False
        zygote_status = _wait(self.pid, blocking=True)
        if self.worker is None or self.worker == self.pid:
            self.status = zygote_status if zygote_status is not None else _LOST_STATUS
            return
        import time

        deadline = time.monotonic() + 1.0  # reparenting follows the zygote's exit
        while self.status is None:
            status = _wait(self.worker, blocking=time.monotonic() > deadline)
            if status is not None:
                self.status = status
            elif time.monotonic() > deadline + 1.0:
                self.status = _LOST_STATUS
            else:
                time.sleep(0.001)


def _wait(pid: int, blocking: bool) -> int | None:
    """waitpid's status, or None (still running, or not our child yet)."""
    try:
        got, status = os.waitpid(pid, 0 if blocking else _WNOHANG)
    except ChildProcessError:
        return None
    return status if got == pid else None


class _SessionWorkerPipe(_WorkerPipe):
    """A worker pipe whose worker is the zygote's child: its status comes from the zygote."""

    def __init__(self, fd: int, zygote: _Zygote) -> None:
        import select

        super().__init__(fd, 0)
        self._zygote = zygote
        self._poll.register(zygote.sock.fileno(), select.POLLIN | select.POLLHUP)

    def kill(self) -> None:
        """SIGKILL the worker once the zygote has said which process it is."""
        while self._zygote.worker is None and self._zygote.status is None:
            self._zygote.handle_one()
        if self._zygote.status is None and self._zygote.worker is not None:
            try:
                os.kill(self._zygote.worker, 9)
            except ProcessLookupError:
                return

    def _reap(self) -> None:
        import select

        while self.status is None and select.select([self._zygote.sock.fileno()], [], [], 0)[0]:
            self._zygote.handle_one()
            self.status = self._zygote.status

    def wait(self) -> int:
        while self._zygote.status is None:
            self._zygote.handle_one()
        self.status = self._zygote.status
        return self.status


def session_main(args: dict[str, str]) -> None:
    """The reporter of a warm session: start the zygote, relay one input at a time."""
    import _signal  # type: ignore[import-not-found,unused-ignore]
    import _socket

    _signal.signal(_SIGINT, _signal.SIG_DFL)
    if args.get("rlimits"):
        apply_rlimits(args["rlimits"])
    _set_dumpable(0)
    prctl(_PR_SET_CHILD_SUBREAPER, 1)  # orphans of a worker become ours, to sweep
    control: _SocketLike = _socket.socket(fileno=int(args["control"]))
    mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        control.close()
        mine.close()
        zygote_main(args, theirs)
    theirs.close()
    zygote = _Zygote(pid, mine)
    while zygote.alive:
        payload, fds = receive_fds(control, 3)
        if not payload:
            break
        _serve_input(zygote, payload, fds)
        if not zygote.alive:
            break
        _sweep_orphans(zygote.pid)
        control.send(SESSION_READY)


def _serve_input(zygote: _Zygote, payload: bytes, fds: list[int]) -> None:
    """Hand one input to the zygote and relay its worker's message under the nonce."""
    result_fd, log_fd, input_fd = fds
    nonce = payload[:NONCE_BYTES]
    max_output, _, spec = payload[NONCE_BYTES:].decode("ascii").partition(" ")
    read_end, write_end = os.pipe()
    zygote.begin()
    try:
        send_fds(zygote.sock, f"{max_output} {spec}".encode("ascii"), [input_fd, log_fd, write_end])
    except OSError as exc:
        if exc.errno not in _PEER_GONE:
            # E.g. ETOOMANYREFS: the sandbox's uid has no SCM_RIGHTS quota left. Not the
            # input's outcome: end the session before HELLO, which the agent reports as
            # an infrastructure error (retried), instead of waiting out the wall limit.
            os.write(2, f"harness: cannot hand the input to the zygote: {exc}\n".encode())
            os._exit(_HANDOFF_FAILED)
        zygote.handle_one()  # it died: learn how
    for fd in (input_fd, log_fd, write_end):
        os.close(fd)
    write_all(result_fd, frame(nonce, KIND_HELLO, b""))
    relay(_SessionWorkerPipe(read_end, zygote), result_fd, nonce, int(max_output))
    os.close(read_end)
    os.close(result_fd)


def _sweep_orphans(zygote_pid: int) -> None:
    """SIGKILL every process but the zygote and us: what the last input left running.

    That is every descendant, the zygote's own children included: a worker's
    ``clone(CLONE_PARENT)`` child is the zygote's child, not the worker's. All are
    killed in one pass, so none can be reparented (or fork again) between "listed"
    and "killed"; passes repeat until none is left. Dead children of the zygote stay
    zombies until it reaps them before the next input; they hold nothing and are not
    counted.
    """
    for _ in range(_SWEEP_ROUNDS):
        pids = _live_descendants(os.getpid(), keep=zygote_pid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                continue
        _reap_all_but(zygote_pid)
    _reap_all_but(zygote_pid)


def _reap_all_but(zygote_pid: int) -> None:
    """Collect every exited child except the zygote (its status is the zygote's to tell)."""
    for pid in _children(os.getpid()):
        if pid != zygote_pid:
            _wait(pid, blocking=False)


def _live_descendants(root: int, keep: int) -> list[int]:
    """Every process below `root` except `keep` itself (its children are included)."""
    found: list[int] = []
    pending = _children(root)
    while pending:
        pid = pending.pop()
        if pid != keep and not _is_zombie(pid):
            found.append(pid)
        pending.extend(_children(pid))
    return found


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True  # gone already
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")


def _children(pid: int) -> list[int]:
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children += [int(child) for child in f.read().split()]
        except OSError:
            continue
    return children


def zygote_main(args: dict[str, str], sock: _SocketLike) -> None:
    """Import the script on the first request, then fork one worker per request; never returns."""
    import resource  # noqa: F401  # imported once here, so each worker's rlimits cost nothing

    # Not dumpable: what an input leaves running must not open the zygote's /proc/PID/fd
    # (later inputs' descriptors pass through it). Each worker turns dumpable itself.
    _set_dumpable(0)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    script, entry = args["script"], args["entry"]
    workdirs = [d for d in args.get("workdirs", "").split(":") if d]
    func: Callable[[object], object] | None = None
    kept: list[set[str]] = []
    while True:
        payload, fds = receive_fds(sock, 3)
        if not payload:
            os._exit(0)
        max_output, _, spec = payload.decode("ascii").partition(" ")
        _reap_strays()
        if func is None:
            func = _import_or_report(script, entry, sock, fds, devnull)
            kept = [set(_listdir(d)) for d in workdirs]
        else:
            _clean_workdirs(workdirs, kept)
        # The worker waits for "go" until the reporter knows its pid: a worker that
        # killed the zygote first would otherwise leave the reporter blind to which
        # process it is, and its status would read as the zygote's.
        go_read, go_write = os.pipe()
        pid = _fork()
        if pid == 0:
            sock.close()
            os.close(go_write)
            if os.read(go_read, 1) != _GO:
                os._exit(_ZYGOTE_GONE)
            os.close(go_read)
            os.close(devnull)  # the zygote's; the script has no use for it
            _session_worker(func, entry, script, (int(max_output), spec), fds)
        os.close(go_read)
        for fd in fds:
            os.close(fd)
        sock.send(ZYGOTE_FORKED + pid.to_bytes(4, "big"))
        os.write(go_write, _GO)
        os.close(go_write)
        status = _wait(pid, blocking=True)
        status = _LOST_STATUS if status is None else status
        sock.send(ZYGOTE_STATUS + status.to_bytes(4, "big") + b"\x01")


def _reap_strays() -> None:
    """Collect children the last input's sweep killed (a worker's CLONE_PARENT clones)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, _WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _listdir(directory: str) -> list[str]:
    try:
        return os.listdir(directory)
    except OSError:
        return []


def _clean_workdirs(workdirs: list[str], kept: list[set[str]]) -> None:
    """Remove what the last input wrote; keep what the import created (best effort)."""
    for directory, keep in zip(workdirs, kept, strict=True):
        for name in _listdir(directory):
            if name not in keep:
                _remove_tree(os.path.join(directory, name))


def _remove_tree(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            for root, dirs, files in os.walk(path, topdown=False):
                for name in files:
                    os.unlink(os.path.join(root, name))
                for name in dirs:
                    sub = os.path.join(root, name)
                    os.unlink(sub) if os.path.islink(sub) else os.rmdir(sub)
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass  # e.g. a file the input made read-only in a read-only directory


def _fork() -> int:
    """os.fork(), waiting out a moment of "no more processes" (the sweep is reaping)."""
    import time

    for _ in range(200):
        try:
            return os.fork()
        except BlockingIOError:
            time.sleep(0.005)
    return os.fork()


def _import_or_report(
    script: str, entry: str, sock: _SocketLike, fds: list[int], devnull: int
) -> Callable[[object], object]:
    """Load the entrypoint with stdout on this input's logs; on failure report and exit."""
    _input_fd, log_fd, to_reporter = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    loaded: list[Callable[[object], object]] = []

    def load() -> bytes:
        loaded.append(resolve_entrypoint(load_script(script), entry))
        return b""

    kind, payload = worker_message(load)
    _flush_stdio()
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    if loaded and kind == WORKER_RESULT:
        return loaded[0]
    # The script's failure is the first input's outcome, reported like a worker's.
    sock.send(ZYGOTE_FORKED + os.getpid().to_bytes(4, "big"))
    header = WORKER_MAGIC + kind + len(payload).to_bytes(8, "big")
    try:
        write_all(to_reporter, header + payload)
    except OSError:
        os._exit(3)
    os.close(to_reporter)
    sock.send(ZYGOTE_STATUS + (0).to_bytes(4, "big") + b"\x00")
    os._exit(0)


def _session_worker(
    func: Callable[[object], object],
    entry: str,
    script: str,
    limits: tuple[int, str],
    fds: list[int],
) -> None:
    """One input in a fresh fork of the zygote: its own rlimits, input and logs."""
    input_fd, log_fd, to_reporter = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    _set_dumpable(1)  # as a cold worker is; the zygote it came from stays non-dumpable
    _prefer_oom_kill()
    worker_pid = os.getpid()

    max_output, spec = limits

    def call() -> bytes:
        if spec:
            apply_rlimits(spec)
        return call_entrypoint(func, entry, script, input_fd, max_output)

    kind, payload = worker_message(call)
    send_and_exit(to_reporter, kind, payload, worker_pid)


def main(argv: list[str]) -> None:
    """One run (the default), or a warm session (``mode=session``)."""
    args = parse_args(read_config(argv))
    if "seal" in args:
        install_seal(int(args.pop("seal")))
    if args.get("mode") == "session":
        session_main(args)
    else:
        reporter_main(args)


if __name__ == "__main__":
    main(sys.argv[1:])
