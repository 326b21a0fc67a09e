"""Positive and negative snippets for every rule: the rules' specification.

Each rule id maps to (positives, negatives). Every positive must produce a finding
with that rule id; no negative may. Negatives are the near misses a consumer could
plausibly write: library functions that share a name, relative paths, own methods.
"""

from __future__ import annotations

Cases = dict[str, tuple[list[str], list[str]]]

RULE_CASES: Cases = {
    # --- process -----------------------------------------------------------------
    "runsurge.process.subprocess": (
        [
            "import subprocess\n",
            "import subprocess as s\ns.run(['ls'])\n",
            "from subprocess import check_output\n",
            "def f():\n    from subprocess import Popen as P\n    return P\n",
            "import asyncio\nasync def f():\n    await asyncio.create_subprocess_shell('ls')\n",
        ],
        [
            "import json\nprint(json.dumps({'subprocess': 1}))\n",
            "def run(cmd):\n    return cmd\nrun(['ls'])\n",
        ],
    ),
    "runsurge.process.os-system": (
        [
            "import os\nos.system('id')\n",
            "from os import system\nsystem('id')\n",
            "from os import popen as p\np('id').read()\n",
            "import os\nf = os.system\n",
        ],
        ["import os\nprint(os.path.join('a', 'b'))\n", "def system(x):\n    return x\nsystem(1)\n"],
    ),
    "runsurge.process.os-exec": (
        ["import os\nos.execv('/bin/sh', ['sh'])\n", "from os import execlp\nexeclp('sh', 'sh')\n"],
        [
            "import os\nos.getcwd()\n",
            "class Q:\n    def execute(self):\n        pass\nQ().execute()\n",
        ],
    ),
    "runsurge.process.os-spawn": (
        [
            "import os\nos.spawnl(os.P_WAIT, 'sh', 'sh')\n",
            "import os\nos.posix_spawn('sh', [], {})\n",
        ],
        ["import os\nos.listdir('.')\n"],
    ),
    "runsurge.process.os-fork": (
        ["import os\nif os.fork() == 0:\n    pass\n", "from os import forkpty\nforkpty()\n"],
        ["import os\nos.cpu_count()\n", "fork = 3\nprint(fork)\n"],
    ),
    "runsurge.process.os-kill": (
        ["import os\nos.kill(1, 9)\n", "import os\nos.killpg(0, 9)\n"],
        ["def kill(x):\n    return x\nkill(3)\n"],
    ),
    "runsurge.process.pty": (
        ["import pty\npty.spawn('sh')\n", "from pty import spawn\n"],
        ["import pprint\npprint.pprint([1])\n"],
    ),
    "runsurge.process.multiprocessing": (
        [
            "import multiprocessing\n",
            "from multiprocessing import Pool\n",
            "import concurrent.futures\nconcurrent.futures.ProcessPoolExecutor()\n",
            "from concurrent.futures import ProcessPoolExecutor\nProcessPoolExecutor()\n",
        ],
        ["from concurrent.futures import ThreadPoolExecutor\nThreadPoolExecutor(2)\n"],
    ),
    "runsurge.process.posix-module": (
        ["import posix\n", "from posix import system\n"],
        ["import posixpath\nposixpath.join('a', 'b')\n"],
    ),
    "runsurge.process.process-call-on-alias": (
        ["def f(m):\n    m.system('id')\n", "def f(m):\n    m.execvp('sh', [])\n"],
        ["class Game:\n    def play(self):\n        pass\nGame().play()\n", "x = obj.systems()\n"],
    ),
    # --- network -----------------------------------------------------------------
    "runsurge.network.socket": (
        ["import socket\n", "from socket import create_connection\n", "import ssl\n"],
        ["import json\n"],
    ),
    "runsurge.network.urllib": (
        [
            "import urllib.request\n",
            "from urllib.request import urlopen\n",
            "from urllib import request\n",
            "import urllib\nurllib.request.urlopen('http://x')\n",
        ],
        [
            "from urllib.parse import urlparse\nurlparse('http://a/b')\n",
            "import urllib.parse\nurllib.parse.quote('a b')\n",
        ],
    ),
    "runsurge.network.http-client": (
        [
            "import http.client\n",
            "from http.client import HTTPConnection\n",
            "from http import client\n",
            "import ftplib\n",
            "import smtplib\n",
            "import xmlrpc.client\n",
        ],
        ["from http import HTTPStatus\nprint(HTTPStatus.OK)\n"],
    ),
    "runsurge.network.http-library": (
        ["import requests\n", "import httpx as h\n", "from aiohttp import ClientSession\n"],
        ["import re\n", "import requests_cache_notreal_but_different_name\n"],
    ),
    "runsurge.network.asyncio-streams": (
        [
            "import asyncio\nasync def f():\n    await asyncio.open_connection('h', 80)\n",
            "import asyncio\nasync def f(loop):\n    await loop.create_connection(None, 'h', 80)\n",
            "import asyncio\nasync def f():\n    await asyncio.start_server(None, 'h', 80)\n",
        ],
        ["import asyncio\nasync def f():\n    await asyncio.sleep(0)\nasyncio.run(f())\n"],
    ),
    # --- native ------------------------------------------------------------------
    "runsurge.native.ctypes": (
        ["import ctypes\n", "from ctypes import CDLL\n", "import ctypes.util as u\n"],
        ["import ctypes_notreal_mod_is_different\n"],
    ),
    "runsurge.native.cffi": (["import cffi\n", "from cffi import FFI\n"], ["import csv\n"]),
    "runsurge.native.mmap-file": (
        [
            "import mmap\nf = open('d.bin', 'rb')\nm = mmap.mmap(f.fileno(), 0)\n",
            "from mmap import mmap\nm = mmap(3, 10)\n",
        ],
        ["import mmap\nm = mmap.mmap(-1, 4096)\n"],
    ),
    # --- dynamic -----------------------------------------------------------------
    "runsurge.dynamic.eval": (
        ["eval('1+1')\n", "e = eval\n", "import builtins\nbuiltins.eval('1')\n"],
        [
            "import ast\nast.literal_eval('[1, 2]')\n",
            "'{} {}'.format(1, 2)\n",
            "class M:\n    def eval(self):\n        return 1\nM().eval()\n",
        ],
    ),
    "runsurge.dynamic.exec": (
        ["exec('x = 1')\n", "import base64\nexec(base64.b64decode('eD0x'))\n"],
        ["class Q:\n    def exec(self):\n        return 1\nQ().exec()\n", "execute = 1\n"],
    ),
    "runsurge.dynamic.compile": (
        ["c = compile('1', 'f', 'eval')\n"],
        [
            "import re\nre.compile('a+')\n",
            "from re import compile\ncompile('a+')\n",
            "import re\np = re.compile(r'(\\d+)')\n",
        ],
    ),
    "runsurge.dynamic.dunder-import": (
        ["m = __import__('o' + 's')\n", "name = input()\n__import__(name)\n"],
        ["import os\n"],
    ),
    "runsurge.dynamic.importlib": (
        [
            "import importlib\nimportlib.import_module('os')\n",
            "from importlib import import_module\n",
            "import pkgutil\n",
            "import zipimport\n",
        ],
        ["import importlib_notreal_other\n"],
    ),
    "runsurge.dynamic.runpy": (
        ["import runpy\n", "from runpy import run_path\n"],
        ["import random\n"],
    ),
    "runsurge.dynamic.interpreter": (
        ["import code\ncode.interact()\n", "import pdb\n", "import timeit\n"],
        ["import codecs\ncodecs.decode(b'x', 'utf-8')\n", "import time\n"],
    ),
    "runsurge.dynamic.breakpoint": (["breakpoint()\n"], ["def bp():\n    pass\nbp()\n"]),
    "runsurge.dynamic.function-from-code": (
        [
            "import types\nf = types.FunctionType(code, {})\n",
            "from types import CodeType\nc = CodeType(0, 0)\n",
            "def f():\n    pass\ng = f.replace(co_code=b'')\n",
        ],
        ["import types\nns = types.SimpleNamespace(a=1)\n"],
    ),
    "runsurge.dynamic.getattr-dangerous-name": (
        [
            "import os\ngetattr(os, 'sys' + 'tem')('id')\n",
            "import os\nname = 'sy' + 'stem'\ngetattr(os, name)\n",
            "f = getattr(obj, '__globals__')\n",
            "import operator\noperator.attrgetter('__globals__')(f)\n",
            "hasattr(x, 'x')\nsetattr(obj, 'environ', {})\n",
        ],
        [
            "getattr(row, 'name')\n",
            "getattr(obj, '__name__', 'x')\n",
            "getattr(rec, 'systematic', None)\n",
        ],
    ),
    "runsurge.dynamic.getattr-computed-on-module": (
        [
            "import os\ndef f(n):\n    return getattr(os, n)\n",
            "import math as m\ndef f(n):\n    return getattr(m, n)\n",
            "from os import path\ndef f(n):\n    return getattr(path, n)\n",
        ],
        [
            "import math\ndef f(obj, n):\n    return getattr(obj, n)\n",
            "import math\nx = getattr(math, 'pi')\n",
        ],
    ),
    "runsurge.dynamic.getattr-on-builtins": (
        [
            "def f(n):\n    return getattr(__builtins__, n)\n",
            "def f(x, n):\n    return object.__getattribute__(x, n)\n",
        ],
        ["def f(obj, n):\n    return getattr(obj, n)\n"],
    ),
    "runsurge.dynamic.getattr-computed": (
        ["def f(obj, n):\n    return getattr(obj, n)\n"],
        ["getattr(obj, 'field')\n"],
    ),
    # --- deserialization ---------------------------------------------------------
    "runsurge.deserialization.pickle": (
        ["import pickle\n", "from pickle import loads\n", "import _pickle\n", "import dill\n"],
        ["import json\njson.loads('{}')\n"],
    ),
    "runsurge.deserialization.pickle-loader": (
        [
            "import pandas\npandas.read_pickle('x.pkl')\n",
            "import numpy\nnumpy.load('x.npy', allow_pickle=True)\n",
        ],
        ["import numpy\nnumpy.load('x.npy')\n"],
    ),
    "runsurge.deserialization.marshal": (
        ["import marshal\n", "from marshal import loads\n"],
        ["import math\n"],
    ),
    "runsurge.deserialization.shelve": (["import shelve\n"], ["import shutil\n"]),
    # --- escape ------------------------------------------------------------------
    "runsurge.escape.subclasses": (
        ["x = ().__class__.__base__.__subclasses__()\n", "object.__subclasses__()\n"],
        ["class A:\n    pass\nclass B(A):\n    pass\n"],
    ),
    "runsurge.escape.globals": (
        ["def f():\n    pass\ng = f.__globals__\n", "import sys\nx = frame.f_globals\n"],
        ["g = {'globals': 1}\n"],
    ),
    "runsurge.escape.builtins": (
        [
            "b = __builtins__\n",
            "import builtins\n",
            "b = print.__self__\n",
            "from builtins import open\n",
        ],
        ["print(len([1]))\n"],
    ),
    "runsurge.escape.code-object": (
        ["def f():\n    pass\nc = f.__code__\n", "x = f.__code__.co_code\n"],
        ["code = 'abc'\nprint(code)\n"],
    ),
    "runsurge.escape.frames": (
        [
            "import sys\nf = sys._getframe(1)\n",
            "import inspect\ninspect.currentframe()\n",
            "try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame\n",
        ],
        ["import inspect\ninspect.isfunction(len)\n", "import traceback\ntraceback.format_exc()\n"],
    ),
    "runsurge.escape.gc-objects": (
        ["import gc\ngc.get_objects()\n", "import gc\ngc.get_referrers(x)\n"],
        ["import gc\ngc.collect()\n"],
    ),
    "runsurge.escape.sys-modules": (
        [
            "import sys\nsys.modules['os'].system('id')\n",
            "import sys\nsys.modules['json'] = None\n",
        ],
        ["import sys\nsys.stdout.write('x')\n", "import sys\nsys.getsizeof([])\n"],
    ),
    "runsurge.escape.module-tampering": (
        [
            "import json\njson.dumps = lambda x: ''\n",
            "import json\nsetattr(json, 'dumps', None)\n",
            "import os.path as p\ndel p.join\n",
            "import os\nd = os.__dict__\n",
        ],
        [
            "class A:\n    def __init__(self):\n        self.x = 1\n",
            "import json\nclass C:\n    pass\nc = C()\nsetattr(c, 'dumps', 1)\n",
        ],
    ),
    "runsurge.escape.namespace-lookup": (
        [
            "g = globals()\n",
            "f = globals()['__builtins__']\n",
            "def f(n):\n    return locals()[n]\n",
        ],
        ["def f(**kwargs):\n    return kwargs['a']\n", "def f(obj):\n    return vars(obj)\n"],
    ),
    "runsurge.escape.module-reexport": (
        [
            "import tempfile\ntempfile._os.system('id')\n",
            "import os\nos.sys.modules\n",
            "import asyncio\nasyncio.base_events.socket.socket()\n",
        ],
        ["import os\nos.path.join('a')\n", "x = cfg.ossify\n"],
    ),
    "runsurge.escape.module-alias": (
        [
            "import os\no = os\n",
            "import sys\ndef f(m):\n    pass\nf(sys)\n",
            "import os\nmods = [os]\n",
            "import os as o\nx = o\n",
        ],
        [
            "import os\np = os.path\n",
            "import math\nm = math\n",
            "gc = 0.5\nprint(round(gc, 2))\n",
        ],
    ),
    "runsurge.escape.dunder-string": (
        [
            "s = '{0.__globals__}'.format(f)\n",
            "n = '__subclasses__'\n",
            "k = '__built' + 'ins__'\n",
        ],
        ["s = '__name__'\n", "s = '__main__'\nif __name__ == '__main__':\n    pass\n"],
    ),
    "runsurge.escape.getattribute": (
        ["x = o.__getattribute__('a')\n"],
        ["class A:\n    def __getattribute__(self, n):\n        return 1\n"],
    ),
    "runsurge.escape.class-hierarchy": (
        ["b = int.__mro__\n", "b = A.__bases__\n"],
        ["class A(dict):\n    pass\n"],
    ),
    "runsurge.escape.star-import": (
        ["from os import *\n", "from builtins import *\n"],
        ["from math import *\n", "from os import path\n"],
    ),
    # --- filesystem --------------------------------------------------------------
    "runsurge.filesystem.absolute-path": (
        [
            "open('/etc/passwd').read()\n",
            "p = '/etc/' + 'shadow'\nwith open(p) as f:\n    pass\n",
            "from pathlib import Path\nPath('/proc/self/environ').read_text()\n",
            "import os\nos.listdir('/')\n",
            "def f(pid):\n    return open(f'/proc/{pid}/maps').read()\n",
            "import shutil\nshutil.copy('a.txt', '/tmp/b.txt')\n",
            "open('~/.ssh/id_rsa')\n",
            "import tempfile\ntempfile.mkstemp(dir='/dev/shm')\n",
        ],
        [
            "open('data.txt').read()\n",
            "x = '/'.join(['a', 'b'])\n",
            "line = 'GET /etc/passwd'\nparts = line.split('/')\n",
            "import os\nos.path.join('out', 'x.csv')\n",
            "import tempfile\ntempfile.mkstemp()\n",
        ],
    ),
    "runsurge.filesystem.absolute-path-flow": (
        [
            "def f():\n    for p in ('/proc/1/mem', '/proc/1/environ'):\n        open(p, 'rb')\n",
            "TARGETS = ('/etc/evil', '/task/script.py')\n"
            "def f(extra):\n    for t in (*TARGETS, extra):\n        open(t, 'a')\n",
            "import os\nROOTS = ['/root', '/home']\nfor r in ROOTS:\n    os.listdir(r)\n",
            "paths = {'key': '/etc/ssh/ssh_host_rsa_key'}\nopen(paths['key'])\n",
            "import os\nbase = '/data'\nos.path.join(base, 'x.csv')\n",
            "from pathlib import Path\ndef f(n):\n    d = '/proc'\n    return Path(f'{d}/{n}')\n",
        ],
        [
            "def f(line):\n    name = line.replace('/api/', '')\n    return open(name)\n",
            "PREFIXES = ('/static/', '/admin/')\n"
            "def f(url):\n    if url.startswith(PREFIXES):\n        return open('hits.txt', 'a')\n",
            "def f(parts):\n    sep = '/'\n    return open(sep.join(parts))\n",
            "import json\ndef f(input_data):\n    return open(json.loads(input_data)['name'])\n",
            "ROUTES = ['/home', '/about']\ncounts = {r: 0 for r in ROUTES}\n"
            "open('counts.json', 'w')\n",
        ],
    ),
    "runsurge.filesystem.parent-traversal": (
        [
            "open('../secret.txt')\n",
            "import os\nos.path.join('a', '..', 'b')\n",
            "from pathlib import Path\np = Path('.') / '..'\n",
            "from pathlib import Path\np = Path.cwd().parent.parent\n",
            "from pathlib import Path\np = Path(__file__).resolve().parent.parent\n",
            "import pathlib\np = pathlib.Path('x').parents[1]\n",
            "import os\nos.listdir(os.pardir)\n",
        ],
        [
            "s = 'wait..'.replace('..', '.')\n",
            "open('data..txt')\n",
            "from pathlib import Path\nPath('out/x.csv').parent.mkdir(exist_ok=True)\n",
            # A tree node's grandparent is not a path (a false positive before).
            "class Node:\n    def grandparent(self):\n        return self.parent.parent\n",
            "def up(node):\n    return node.parent.parent.value\n",
        ],
    ),
    "runsurge.filesystem.home-directory": (
        ["from pathlib import Path\nPath.home()\n", "import os\nos.path.expanduser('~')\n"],
        ["from pathlib import Path\nPath('x').resolve()\n"],
    ),
    # --- environment -------------------------------------------------------------
    "runsurge.environment.os-environ": (
        [
            "import os\nos.environ['HOME']\n",
            "import os\nos.getenv('TOKEN')\n",
            "from os import environ\nenv = environ\n",
            "import os\nos.environ.copy()\n",
        ],
        ["env = {'HOME': '/x'}\nprint(env['HOME'])\n"],
    ),
    "runsurge.environment.host-info": (
        ["import os\nos.uname()\n", "import platform\n", "import getpass\ngetpass.getuser()\n"],
        ["import os\nos.getcwd()\n"],
    ),
    # --- signals -----------------------------------------------------------------
    "runsurge.signals.signal": (
        [
            "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n",
            "from signal import alarm\n",
        ],
        ["import math\n"],
    ),
    "runsurge.signals.resource": (
        ["import resource\n", "from resource import setrlimit\n"],
        ["import re\n"],
    ),
    "runsurge.signals.session": (
        ["import os\nos.setsid()\n", "import os\nos.nice(-5)\n", "import os\nos.setuid(0)\n"],
        ["import os\nos.getpid()\n"],
    ),
    "runsurge.signals.hard-exit": (
        ["import os\nos._exit(0)\n", "from os import abort\ndef process(data):\n    abort()\n"],
        ["import sys\nsys.exit(0)\n", "def _exit(code):\n    return code\n_exit(0)\n"],
    ),
    "runsurge.signals.sys-exit": (
        [
            "import sys\ndef process(data):\n    sys.exit(0)\n",
            "from sys import exit\ndef process(data):\n    exit(1)\n",
            "def process(data):\n    raise SystemExit(0)\n",
            "def process(data):\n    raise SystemExit\n",
        ],
        [
            "import sys\ndef main():\n    return 0\n"
            "if __name__ == '__main__':\n    sys.exit(main())\n",
            "def process(data):\n    raise ValueError('bad input')\n",
            "class Job:\n    def exit(self):\n        pass\nJob().exit()\n",
        ],
    ),
}
