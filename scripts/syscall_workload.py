# ruff: noqa
# A broad stdlib workload for scripts/measure_syscalls.py: imports and calls are the point.

import bz2, collections, concurrent.futures, contextlib, csv, datetime, decimal, fractions, functools
import gzip, hashlib, heapq, hmac, io, itertools, json, lzma, math, mmap, multiprocessing, os, pickle
import queue, random, re, secrets, select, signal, socket, sqlite3, statistics, string, struct, sys
import tempfile, threading, time, unicodedata, uuid, zlib, zoneinfo, shutil, glob, pathlib, textwrap
import array, bisect, copy, difflib, enum, fnmatch, locale, operator, resource, selectors, shlex


def _square(x):
    return x * x


def process(data):
    out = {}
    out["words"] = collections.Counter(data.split()).most_common(3)
    out["sha"] = hashlib.sha256(data.encode()).hexdigest()
    out["z"] = (
        len(zlib.compress(data.encode() * 100))
        + len(bz2.compress(b"x" * 1000))
        + len(lzma.compress(b"y" * 1000))
        + len(gzip.compress(b"z"))
    )
    out["dec"] = str(decimal.Decimal(1) / 7)
    out["stats"] = statistics.mean([1, 2, 3.5])
    out["rand"] = random.random() < 2 and len(secrets.token_hex(8)) == 16 and bool(uuid.uuid4())
    con = sqlite3.connect(":memory:")
    con.execute("create table t(x)")
    con.execute("insert into t values (1)")
    out["sql"] = con.execute("select count(*) from t").fetchone()[0]
    path = pathlib.Path(tempfile.gettempdir()) / "f.txt"
    path.write_text("hi")
    out["file"] = path.read_text()
    shutil.copy(path, path.with_suffix(".bak"))
    out["glob"] = len(glob.glob("/work/*"))
    with tempfile.NamedTemporaryFile(dir="/work") as f:
        f.write(b"x")
        f.flush()
        os.fsync(f.fileno())
    with tempfile.TemporaryDirectory() as d:
        pathlib.Path(d, "a").mkdir()
        os.rename(pathlib.Path(d, "a"), pathlib.Path(d, "b"))
        os.stat(d)
        os.listdir(d)
        os.chmod(d, 0o700)
    m = mmap.mmap(-1, 4096)
    m.write(b"abc")
    m.close()
    with open("/work/mm", "wb") as f:
        f.write(b"0" * 4096)
    with open("/work/mm", "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
        mm[0:1] = b"1"
        mm.flush()
        mm.close()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        out["threads"] = sum(ex.map(_square, range(10)))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        out["pool"] = sum(pool.map(_square, range(10)))
    with concurrent.futures.ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("fork")
    ) as ex:
        out["procs"] = sum(ex.map(_square, range(5)))
    q = multiprocessing.get_context("fork").Queue()
    q.put(1)
    out["mpq"] = q.get(timeout=5)
    a, b = socket.socketpair()
    a.sendall(b"x")
    out["sock"] = b.recv(1).decode()
    sel = selectors.DefaultSelector()
    sel.register(b, selectors.EVENT_READ)
    sel.select(0)
    sel.close()
    a.close()
    b.close()
    r, w = os.pipe()
    os.write(w, b"p")
    select.select([r], [], [], 0)
    select.poll().register(r)
    out["pipe"] = os.read(r, 1).decode()
    os.close(r)
    os.close(w)
    signal.signal(signal.SIGALRM, lambda *a: None)
    signal.setitimer(signal.ITIMER_REAL, 0.01)
    time.sleep(0.02)
    signal.alarm(0)
    ev = threading.Event()
    t = threading.Timer(0.01, ev.set)
    t.start()
    ev.wait(1)
    lock = threading.Lock()
    cond = threading.Condition(lock)
    with cond:
        cond.wait(0.001)
    out["time"] = [
        time.time() > 0,
        time.monotonic() > 0,
        time.process_time() >= 0,
        time.perf_counter() > 0,
        time.thread_time() >= 0,
        str(datetime.datetime.now(datetime.timezone.utc))[:4],
    ]
    out["res"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
        and resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 0
    )
    out["env"] = [
        os.getpid() > 0,
        os.getppid() >= 0,
        os.getuid(),
        os.getgid(),
        os.geteuid(),
        os.getegid(),
        os.getcwd(),
        os.cpu_count() or 0,
        len(os.sched_getaffinity(0)),
        os.uname().sysname,
        os.getloadavg()[0] >= 0,
        os.times().user >= 0,
    ]
    out["pickle"] = pickle.loads(pickle.dumps({"a": [1, 2]}))
    out["re"] = bool(re.match(r"\w+", data or "x"))
    out["lc"] = locale.getpreferredencoding()
    out["urandom"] = len(os.urandom(16))
    fd = os.open("/work/fl", os.O_CREAT | os.O_RDWR)
    os.ftruncate(fd, 10)
    os.lseek(fd, 0, 0)
    os.pwrite(fd, b"a", 0)
    os.pread(fd, 1, 0)
    os.fstat(fd)
    os.dup(fd)
    os.dup2(fd, 50)
    os.close(50)
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)
    fcntl.flock(fd, fcntl.LOCK_UN)
    fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    os.close(fd)
    os.symlink("/work/fl", "/work/ln")
    os.readlink("/work/ln")
    os.unlink("/work/ln")
    os.utime("/work/fl")
    os.truncate("/work/fl", 0)
    os.access("/work/fl", os.R_OK)
    os.statvfs("/work")
    os.link("/work/fl", "/work/hl")
    os.remove("/work/hl")
    out["pid"] = os.waitpid(os.fork() or 0, 0) if False else None
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        os.nice(0)
        os.sched_yield()
        os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        pass
    import faulthandler, tracemalloc, gc, ctypes, ssl, email, http.client, xml.etree.ElementTree as ET, html, base64, binascii, codecs, ast, dis, inspect, tokenize, typing, dataclasses, weakref, abc, numbers, cmath, heapq

    tracemalloc.start()
    tracemalloc.stop()
    gc.collect()
    faulthandler.is_enabled()
    out["ctypes"] = ctypes.sizeof(ctypes.c_int)
    out["xml"] = ET.fromstring("<a><b/></a>").tag
    out["ssl"] = ssl.OPENSSL_VERSION[:7]
    return out
