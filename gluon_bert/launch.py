"""Start a distributed (parameter-server) MXNet job on this machine.

    python -m gluon_bert.launch -n 2 -s 1 -- \\
        python scripts/finetune_snli.py --kvstore dist_sync --dataset synthetic ...

(`python gluon_bert/launch.py ...` is the same without importing the package.)

starts, on 127.0.0.1, one scheduler, `-s` servers and `-n` workers, in the way
of MXNet's `tools/launch.py --launcher local` (dmlc_tracker): every process gets
`DMLC_PS_ROOT_URI` / `DMLC_PS_ROOT_PORT` (the scheduler's address; a free port is
picked), `DMLC_NUM_SERVER`, `DMLC_NUM_WORKER` and its `DMLC_ROLE`.  Workers run
the command; the scheduler and the servers run `python -c "import mxnet"` (with
DMLC_ROLE=server or scheduler, importing mxnet runs the node and exits when the
job ends: what the command itself would do in their place).

Each line a process prints is passed on with its name, `[worker 0] ...`,
`[server 0] ...`, `[scheduler] ...` (the worker index is the launcher's; the
kvstore rank `kv.rank` is assigned by the scheduler and may differ).  If any
process exits with a non-zero status, or the `--timeout` passes, or the launcher
gets SIGINT/SIGTERM, every process is stopped (SIGTERM to its process group,
SIGKILL after `--grace` seconds) and the launcher exits non-zero: the failed
process's status (128 + signal number for a signal), 124 after a timeout.
(A synchronous job cannot go on without one of its workers: the others would
wait for its gradients for ever.)  When all workers succeed, the launcher waits
up to `--grace` seconds for the servers and the scheduler to finish and exits 0.
If the launcher itself dies, even by SIGKILL, its processes get SIGKILL from
the kernel (Linux: `prctl(PR_SET_PDEATHSIG)`, set in each child before it runs
its command), so no scheduler, server or worker is left behind.

Running on a cluster
--------------------
The training scripts take the same `--kvstore dist_sync` (or
`dist_device_sync` to sum each machine's GPUs on a GPU first) on a real cluster.
Start them with MXNet's launcher, `tools/launch.py` of the MXNet 1.9 source tree
(`git clone --recursive -b 1.9.1 https://github.com/apache/mxnet`; it imports the
`dmlc_tracker` package from `3rdparty/dmlc-core/tracker`, which the pip wheel
does not ship).  Every machine needs the same Python environment (an MXNet build
with `DIST_KVSTORE`, as the pip wheels of Linux) and this repository at the same
path (or `--sync-dst-dir DIR`, which copies the current folder there with rsync).

* ssh: password-less ssh from the launching machine to every host listed, one
  per line, in a hosts file:

      python mxnet/tools/launch.py -n 4 -s 4 -H hosts --launcher ssh \\
          --env OMP_NUM_THREADS --env MXNET_ENGINE_TYPE \\
          "cd /path/to/repo && python scripts/finetune_snli.py --kvstore dist_sync \\
           --ctx gpu:0,1 --batch-size 512 --output /shared/runs/finetune"

  The ssh launcher passes on only the `DMLC_*` variables and those named with
  `--env NAME` (or set with `--env-worker NAME:VALUE` / `--env-server
  NAME:VALUE`).
* mpi: `--launcher mpi -H hosts` starts the processes with `mpirun` (which must
  be on the PATH); otherwise the same.

The scheduler runs on the launching machine (`DMLC_PS_ROOT_URI`: its address,
`DMLC_PS_ROOT_PORT`: 9091 by default); open that port and the nodes' ephemeral
ports between the machines.  With several network interfaces, set
`DMLC_INTERFACE` to the one the machines share (`export DMLC_INTERFACE=eth0`
and `--env DMLC_INTERFACE`, or `--env-worker DMLC_INTERFACE:eth0 --env-server
DMLC_INTERFACE:eth0`); `PS_VERBOSE=1` (or 2) makes ps-lite log its connections.  A common layout
is one server per machine (`-s` = number of machines).  The processes can also be
started by hand (or by a cluster manager) with these variables: one with
`DMLC_ROLE=scheduler`, `DMLC_NUM_SERVER` with `DMLC_ROLE=server` and
`DMLC_NUM_WORKER` with `DMLC_ROLE=worker`, all with the same
`DMLC_PS_ROOT_URI`, `DMLC_PS_ROOT_PORT`, `DMLC_NUM_SERVER` and
`DMLC_NUM_WORKER`.

`--batch-size` stays the global batch (each of W workers processes B/W per
step), so the result does not depend on the number of workers.  Only rank 0
writes the outputs (metrics, curves, checkpoints, the model); put `--output` on
a file system all machines share (NFS...) so that `--resume` can read the
checkpoints on every worker.  MXNet's parameter server does not survive the loss
of a worker: the job stops, and you start it again with `--resume`.
"""
import argparse
import ctypes
import ctypes.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

try:
    from gluon_bert import _omp_threads_defaulted
    from gluon_bert.system import usable_cpus
except ImportError:    # run as a file without the package: os.environ is the user's
    _omp_threads_defaulted = False
    from system import usable_cpus      # gluon_bert/system.py, beside this file

__all__ = ['launch', 'free_port', 'main']

# The scheduler and the servers: importing mxnet with DMLC_ROLE=server/scheduler
# runs the node.  (sklearn, which mxnet.model imports optionally, is skipped: a
# second less per node.)
NODE_CODE = "import sys; sys.modules['sklearn'] = None; import mxnet"


PR_SET_PDEATHSIG = 1


def _parent_death_signal(sig=signal.SIGKILL):
    """A `preexec_fn` for Popen that makes the child get `sig` when this process
    dies (Linux prctl PR_SET_PDEATHSIG; None elsewhere).  libc's prctl is looked
    up here, in the parent, so that the child only calls it between fork and
    exec; a child whose parent is already gone exits at once."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return preexec


def free_port(host='127.0.0.1'):
    """A TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class _Node:
    def __init__(self, role, index, argv, env):
        self.role, self.index = role, index
        self.name = role if role == 'scheduler' else '%s %d' % (role, index)
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True,
                                     preexec_fn=_parent_death_signal())
        self.reader = None

    @property
    def returncode(self):
        return self.proc.poll()

    def signal(self, sig):
        """Send `sig` to the node's process group (it and what it started)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def kill_group(self):
        """SIGKILL whatever is left of the node's process group."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _describe(code):
    if code < 0:
        try:
            return 'signal %d (%s)' % (-code, signal.Signals(-code).name)
        except ValueError:
            return 'signal %d' % -code
    return 'status %d' % code


def _pump(node, out, lock):
    """Copy the node's output to `out`, line by line, with its name.  Of a line
    rewritten with carriage returns (progress bars), the last non-blank part is
    kept, as a terminal would show it."""
    prefix = '[%s] ' % node.name
    for raw in iter(node.proc.stdout.readline, b''):
        line = raw.decode('utf-8', errors='replace').rstrip('\n')
        if '\r' in line:
            line = next((part for part in reversed(line.split('\r')) if part.strip()), '')
        line += '\n'
        with lock:
            out.write(prefix + line)
            out.flush()
    node.proc.stdout.close()


class _Job:
    def __init__(self, command, num_workers, num_servers, host, port, env, out):
        self.out, self.lock, self.nodes = out, threading.Lock(), []
        base = dict(os.environ if env is None else env)
        base.update(DMLC_PS_ROOT_URI=host, DMLC_PS_ROOT_PORT=str(port or free_port(host)),
                    DMLC_NUM_SERVER=str(num_servers), DMLC_NUM_WORKER=str(num_workers),
                    DMLC_JOB_CLUSTER='local', PYTHONUNBUFFERED='1')
        base.setdefault('DMLC_NODE_HOST', host)
        if not base.get('OMP_NUM_THREADS') or (env is None and _omp_threads_defaulted):
            # Unless told otherwise, the workers share this machine's cores.
            base['OMP_NUM_THREADS'] = str(max(1, usable_cpus() // max(1, num_workers)))
        self.port = int(base['DMLC_PS_ROOT_PORT'])
        node_argv = [sys.executable, '-c', NODE_CODE]
        plan = [('scheduler', 0, node_argv)]
        plan += [('server', i, node_argv) for i in range(num_servers)]
        plan += [('worker', i, list(command)) for i in range(num_workers)]
        try:
            for role, index, argv in plan:
                env_i = dict(base, DMLC_ROLE=role)
                if role != 'scheduler':
                    env_i['DMLC_TASK_ID'] = str(index)
                    env_i['DMLC_%s_ID' % role.upper()] = str(index)
                node = _Node(role, index, argv, env_i)
                node.reader = threading.Thread(target=_pump, args=(node, out, self.lock),
                                               daemon=True)
                node.reader.start()
                self.nodes.append(node)
        except OSError:
            self.stop(1.0)
            raise

    def say(self, msg):
        with self.lock:
            self.out.write('[launch] %s\n' % msg)
            self.out.flush()

    @property
    def workers(self):
        return [n for n in self.nodes if n.role == 'worker']

    def stop(self, grace):
        """SIGTERM every process group still running, SIGKILL after `grace` s."""
        for node in self.nodes:
            node.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(n.returncode is None for n in self.nodes):
            time.sleep(0.05)
        for node in self.nodes:
            if node.returncode is None:
                self.say('%s did not stop after %.0f s: killing it' % (node.name, grace))
            node.kill_group()
        for node in self.nodes:
            try:
                node.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for node in self.nodes:
            if node.reader is not None:
                node.reader.join(timeout=2)

    def run(self, timeout, grace, poll=0.05):
        start = time.monotonic()
        while True:
            failed = next((n for n in self.nodes
                           if n.returncode is not None and n.returncode != 0), None)
            if failed is not None:
                code = failed.returncode
                self.say('%s (pid %d) exited with %s; stopping the job'
                         % (failed.name, failed.proc.pid, _describe(code)))
                self.stop(grace)
                return 128 - code if code < 0 else code
            if all(n.returncode == 0 for n in self.workers):
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and any(
                        n.returncode is None for n in self.nodes):
                    time.sleep(poll)
                bad = [n for n in self.nodes if n.returncode not in (0, None)]
                left = [n.name for n in self.nodes if n.returncode is None]
                if left:
                    self.say('all workers finished; stopping %s' % ', '.join(left))
                self.stop(min(grace, 5.0))
                if bad:
                    self.say('%s exited with %s' % (bad[0].name, _describe(bad[0].returncode)))
                    return 1
                return 0
            if timeout and time.monotonic() - start > timeout:
                self.say('timed out after %.0f s; stopping the job' % timeout)
                self.stop(grace)
                return 124
            time.sleep(poll)


def launch(command, num_workers, num_servers=1, timeout=None, grace=10.0,
           host='127.0.0.1', port=0, env=None, out=None):
    """Run `command` (a list of arguments) as `num_workers` workers of a
    parameter-server job with `num_servers` servers on this machine; returns the
    exit status (0: every worker succeeded)."""
    if num_workers < 1 or num_servers < 1:
        raise ValueError('need at least one worker and one server')
    if not command:
        raise ValueError('no command to run')
    out = out or sys.stdout
    job = _Job(command, num_workers, num_servers, host, port, env, out)
    job.say('scheduler on %s:%d, %d server(s), %d worker(s): %s'
            % (host, job.port, num_servers, num_workers, ' '.join(map(shlex.quote, command))))
    try:
        return job.run(timeout, grace)
    except BaseException:
        job.say('interrupted; stopping the job')
        job.stop(grace)
        raise


def main(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m gluon_bert.launch',
        description='Run a distributed MXNet (kvstore dist_sync) job on this machine: '
        'a scheduler, servers and workers on 127.0.0.1.',
        epilog='example: python -m gluon_bert.launch -n 2 -s 1 -- python '
        'scripts/finetune_snli.py --kvstore dist_sync --dataset synthetic')
    p.add_argument('-n', '--num-workers', type=int, required=True)
    p.add_argument('-s', '--num-servers', type=int, default=1)
    p.add_argument('--timeout', type=float, default=0,
                   help='stop the job after this many seconds (0: no limit); exit 124')
    p.add_argument('--grace', type=float, default=10.0,
                   help='seconds between SIGTERM and SIGKILL when stopping (default 10)')
    p.add_argument('--host', default='127.0.0.1', help='address of the scheduler')
    p.add_argument('--port', type=int, default=0, help='scheduler port (0: a free one)')
    p.add_argument('command', nargs=argparse.REMAINDER,
                   help='the worker command, after --')
    a = p.parse_args(argv)
    command = list(a.command)
    if command and command[0] == '--':
        command = command[1:]
    if len(command) == 1 and ' ' in command[0]:
        command = shlex.split(command[0])
    if not command:
        p.error('no command given (put it after --)')

    received = [signal.SIGINT]

    def on_signal(signum, frame):
        received[0] = signum
        raise KeyboardInterrupt('signal %d' % signum)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        code = launch(command, a.num_workers, a.num_servers, a.timeout or None, a.grace,
                      a.host, a.port)
    except KeyboardInterrupt:
        code = 128 + int(received[0])
    sys.exit(code)


if __name__ == '__main__':
    main()
