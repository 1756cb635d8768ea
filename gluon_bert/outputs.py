"""Output folders: which job wrote them, who is writing them now, replacing them.

Every job that writes a folder (`pretrain`, `finetune`, `task`, `convert`) records its
kind in the folder's `args.json`.  `claim_output(folder, kind, ...)`:

* takes the folder's lock, `.gluon_bert.lock`, a JSON file holding the pid, the
  host and the start time of the process that writes the folder.  A second run
  is refused while the first is alive.  A lock left by a process of this host
  that no longer exists (killed, crashed) is stale: it is reported in one line
  and taken over.  The lock is released when the job ends (and at exit);
* refuses a folder holding another job's results (its `args.json` names
  another kind, or it holds a model, metrics or checkpoints but no
  `args.json`), or a finished run of the same job, unless `overwrite`;
* refuses a folder that is not empty but holds no run at all, even with
  `overwrite` (it is not ours to delete);
* with `overwrite`, empties the folder as a whole before the run: every entry
  but the lock is first moved into a hidden folder inside it (renames on the same
  file system), which is then deleted, so no stale file of the previous run is
  left beside the new ones.
"""
import atexit
import json
import os
import shutil
import socket
import sys
import time

from gluon_bert.fileio import WriteError, read_json

__all__ = ['LOCK_FILE', 'BEST_FOLDER', 'FINISHED', 'FolderInUseError', 'OutputLock', 'claim_output',
           'acquire_lock', 'folder_kind']

LOCK_FILE = '.gluon_bert.lock'
ARGS_FILE = 'args.json'
# The file whose presence means that a job's run is complete.
FINISHED = {'pretrain': 'model.params', 'finetune': 'metrics.json', 'task': 'metrics.json',
            'convert': 'model.params'}
# The pretraining folder of the best validation step, inside a pretraining output.
BEST_FOLDER = 'best'
# Files and folders only a gluon_bert job writes.
RUN_FILES = ('args.json', 'model.params', 'classifier.params', 'metrics.json',
             'metrics.jsonl', 'summary.json', 'task.json', 'checkpoints', BEST_FOLDER)
_TRASH = '.replaced-'


class FolderInUseError(RuntimeError):
    """The output folder is locked by a run that is (or may be) still alive."""


# ---------------------------------------------------------------------------
# The lock


def _proc_start(pid):
    """The start time of process `pid` in clock ticks since boot (Linux), or None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ('Z', 'X'):           # a zombie has ended
        return -1
    return int(fields[19])


def _alive(holder):
    """Whether the process of a lock of this host still runs (the pid exists
    and, where it can be checked, started when the lock says)."""
    pid = holder.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # another user's process
        pass
    start = _proc_start(pid)
    if start == -1:
        return False
    saved = holder.get('proc_start')
    return not (start is not None and saved is not None and start != saved)


def _describe(holder):
    return 'pid %s on %s, since %s' % (holder.get('pid'), holder.get('host'),
                                       holder.get('started', '?'))


class OutputLock:
    """The lock of an output folder held by this process; `release()` (or the
    end of a `with` block, or the exit of the process) removes it."""

    def __init__(self, path, content):
        self.path, self.content = path, content
        atexit.register(self.release)

    def release(self):
        if self.path is None:
            return
        try:
            with open(self.path) as f:
                mine = json.load(f).get('pid') == self.content['pid']
            if mine:
                os.remove(self.path)
        except (OSError, ValueError):
            pass
        self.path = None
        atexit.unregister(self.release)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class _NoLock:
    path = None

    def release(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _read_lock(path):
    try:
        with open(path) as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def acquire_lock(folder, attempts=5):
    """Lock the existing `folder` for this process; FolderInUseError when a live
    process holds its lock (or one of another host, which cannot be checked)."""
    path = os.path.join(folder, LOCK_FILE)
    host = socket.gethostname()
    content = dict(pid=os.getpid(), host=host, proc_start=_proc_start(os.getpid()),
                   started=time.strftime('%Y-%m-%d %H:%M:%S'), command=' '.join(sys.argv))
    for attempt in range(attempts):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(path)
            if holder is None:                  # released meanwhile
                continue
            if not holder and attempt + 1 < attempts:
                time.sleep(0.2)                 # being written: look again
                continue
            if holder and holder.get('host') != host:
                raise FolderInUseError(
                    '%s is locked by a run on another host (%s; lock %s); if that run has '
                    'ended, delete the lock file' % (folder, _describe(holder), path))
            if holder and _alive(holder):
                raise FolderInUseError(
                    '%s is in use by another run (%s; lock %s); wait for it to end or '
                    'choose another --output' % (folder, _describe(holder), path))
            print('note: %s: taking over the stale lock of %s (that process is gone)'
                  % (folder, _describe(holder) if holder else 'an unreadable lock file'),
                  file=sys.stderr, flush=True)
            stale = '%s.stale-%d' % (path, os.getpid())
            try:
                os.replace(path, stale)
                os.remove(stale)
            except FileNotFoundError:
                pass
            continue
        except OSError as e:
            raise WriteError(path, e) from None
        with os.fdopen(fd, 'w') as f:
            json.dump(content, f)
            f.flush()
            os.fsync(f.fileno())
        return OutputLock(path, content)
    raise FolderInUseError('%s: could not take its lock %s' % (folder, path))


# ---------------------------------------------------------------------------
# What a folder holds


def folder_kind(folder):
    """The kind of job recorded in `folder/args.json` (None without one)."""
    path = os.path.join(folder, ARGS_FILE)
    if not os.path.exists(path):
        return None
    try:
        saved = read_json(path)
    except (OSError, ValueError):
        return 'unknown'
    return saved.get('kind') if isinstance(saved, dict) else 'unknown'


def _entries(folder):
    return sorted(e for e in os.listdir(folder)
                  if e != LOCK_FILE and not e.startswith(LOCK_FILE + '.')
                  and not e.startswith(_TRASH))


def _check(folder, kind, overwrite):
    entries = _entries(folder)
    if not entries:
        return False
    ours = [e for e in entries if e in RUN_FILES]
    if not ours:
        raise FileExistsError(
            '%s is not empty and holds no gluon_bert run (%s%s); choose a new or empty '
            'output folder (--overwrite replaces only a folder written by gluon_bert)'
            % (folder, ', '.join(entries[:3]), ', ...' if len(entries) > 3 else ''))
    saved = folder_kind(folder) or 'unknown'
    if saved != kind:
        if overwrite:
            return True
        what = ('a %s run' % saved if saved != 'unknown'
                else 'a run of unknown kind (%s)' % ', '.join(ours))
        raise FileExistsError(
            '%s holds the results of %s; a %s run would replace them. Choose another '
            '--output, or pass --overwrite to replace the whole folder'
            % (folder, what, kind))
    marker = os.path.join(folder, FINISHED[kind])
    if os.path.exists(marker) and not overwrite:
        raise FileExistsError('%s already holds a finished run (%s); choose another '
                              'output folder or pass --overwrite' % (folder, marker))
    return overwrite


def _empty(folder):
    """Empty `folder` but its lock: move the entries away, then delete them."""
    trash = os.path.join(folder, '%s%d' % (_TRASH, os.getpid()))
    os.makedirs(trash, exist_ok=True)
    for name in _entries(folder):
        os.replace(os.path.join(folder, name), os.path.join(trash, name))
    shutil.rmtree(trash)


def claim_output(folder, kind, overwrite=False, resume=False, is_root=True):
    """Make `folder` the output of a `kind` job (see the module's docstring):
    returns its lock (a context manager; a no-op when not `is_root`: in a
    distributed job rank 0 writes).  `resume` keeps an unfinished run of the same
    kind (the checkpoints decide what happens)."""
    if overwrite and resume:
        raise ValueError('--overwrite starts over and --resume continues: choose one')
    if not is_root:
        return _NoLock()
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise WriteError(folder, e) from None
    lock = acquire_lock(folder)
    try:
        for name in os.listdir(folder):        # leftovers of an interrupted --overwrite
            if name.startswith(_TRASH):
                shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
        if _check(folder, kind, overwrite):
            _empty(folder)
    except BaseException:
        lock.release()
        raise
    return lock
