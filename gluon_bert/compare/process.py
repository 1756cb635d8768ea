"""One job per Python process: starting it with a thread count, and what a job
measures of itself (peak RSS, CPU seconds, load average, library versions).

A job runs `function(*args)` of a module (a dotted name, or the path of a .py
file) in a fresh interpreter whose thread-count variables (`OMP_NUM_THREADS`,
`MXNET_OMP_MAX_THREADS`, `OPENBLAS_NUM_THREADS`, `MKL_NUM_THREADS`) are set
before any framework is imported, so its threads and its peak resident memory
(`getrusage` maxrss is per process) are its own.  With `light=True` the job
enters `gluon_bert` without running its `__init__` (which imports the MXNet
modules), so a PyTorch job holds no MXNet.  This module imports no framework.
"""
import os
import platform
import resource
import subprocess
import sys
import time

__all__ = ['ROOT', 'THREAD_VARS', 'thread_env', 'max_rss_mib',
           'load_average', 'CPUClock', 'loaded_versions', 'run_job']

# The folder holding the `gluon_bert` package.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THREAD_VARS = ('OMP_NUM_THREADS', 'MXNET_OMP_MAX_THREADS', 'OPENBLAS_NUM_THREADS',
               'MKL_NUM_THREADS')


def thread_env(threads, env=None):
    """A copy of `env` (default: os.environ) with every thread-count variable the
    two frameworks read set to `threads`."""
    env = dict(os.environ if env is None else env)
    for var in THREAD_VARS:
        env[var] = str(threads)
    return env


def max_rss_mib(who=resource.RUSAGE_SELF):
    """Peak resident memory (MiB) of this process (or, with RUSAGE_CHILDREN, of
    its largest reaped child)."""
    rss = resource.getrusage(who).ru_maxrss
    return rss / (2 ** 20 if sys.platform == 'darwin' else 2 ** 10)   # bytes on macOS, KiB else


def load_average():
    """The machine's 1-, 5- and 15-minute load averages (None where unknown)."""
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):
        return None


class CPUClock:
    """Wall and CPU seconds of this process (all its threads) since `start`, and
    the load averages when it was made (`load_at_start`)."""

    def __init__(self):
        self.load_at_start = load_average()
        self.start()

    def start(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self):
        """(wall seconds, CPU seconds) since `start`."""
        return time.perf_counter() - self._wall, time.process_time() - self._cpu


def loaded_versions(names, python=False):
    """{module: version} of those of `names` this process has imported (and
    Python's, with `python`)."""
    out = {'python': platform.python_version()} if python else {}
    for name in names:
        mod = sys.modules.get(name)
        if mod is not None and hasattr(mod, '__version__'):
            out[name] = mod.__version__
    return out


# The child's program: argv = root, light, module, function, *args.
_BOOTSTRAP = r'''
import importlib, os, sys, types
root, light, module, function = sys.argv[1:5]
sys.path.insert(0, root)
if light == '1' and 'gluon_bert' not in sys.modules:
    package = types.ModuleType('gluon_bert')
    package.__path__ = [os.path.join(root, 'gluon_bert')]
    sys.modules['gluon_bert'] = package
if module.endswith('.py'):
    sys.path.insert(0, os.path.dirname(module))
    module = os.path.basename(module)[:-3]
getattr(importlib.import_module(module), function)(*sys.argv[5:])
'''


def run_job(module, function, args, threads, light=False, env=None, log_path=None,
            timeout=None, cwd=None):
    """Run `module.function(*args)` (string arguments) in a fresh Python process
    with `threads` threads and the extra variables `env`; its output goes to
    `log_path` (default: this process's).  Returns the exit status."""
    cmd = [sys.executable, '-c', _BOOTSTRAP, ROOT, '1' if light else '0', module, function]
    out = None if log_path is None else open(log_path, 'w')
    try:
        return subprocess.run(cmd + [str(a) for a in args],
                              env=dict(thread_env(threads), PYTHONUNBUFFERED='1', **(env or {})),
                              stdout=out, stderr=None if out is None else subprocess.STDOUT,
                              timeout=timeout, cwd=cwd).returncode
    finally:
        if out is not None:
            out.close()
