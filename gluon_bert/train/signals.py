"""Stopping a run cleanly on SIGINT (Ctrl-C) and SIGTERM.

While the training loop runs (`StopRequests`), the first of these signals
only asks for a stop: the loop ends the step it is in, writes a checkpoint
(unless --no-checkpoints) and raises `Interrupted`, which the `gluon-bert`
commands turn into a message with the checkpoint and the command that resumes
it, and the exit status 128 + the signal's number (130 for SIGINT, 143 for
SIGTERM).  A second signal stops at once (naming the last checkpoint), and so
does the first in a distributed job.  Outside the loop (reading data, saving
the model) a signal raises `Interrupted` right away.
"""
import signal
import sys
import threading

__all__ = ['Interrupted', 'StopRequests', 'STOP_SIGNALS', 'raise_on_signals']

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal: `signum`, `step` (steps done, or None) and
    `checkpoint` (the folder written at the stop, or None)."""

    def __init__(self, signum, message=None, step=None, checkpoint=None):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(message or 'stopped by %s' % signal.Signals(signum).name)

    @property
    def exit_status(self):
        return 128 + int(self.signum)

    def __str__(self):
        return self.args[0]


def _main_thread():
    return threading.current_thread() is threading.main_thread()


class raise_on_signals:
    """Within `with raise_on_signals():` SIGINT and SIGTERM raise Interrupted
    (in the main thread; elsewhere a no-op)."""

    def __enter__(self):
        self.old = {}
        if _main_thread():
            for sig in STOP_SIGNALS:
                self.old[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted(signum)

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)


class StopRequests:
    """Within `with StopRequests() as stops:` the first SIGINT/SIGTERM sets
    `stops.signum` (the loop checks it between steps); a second one, or the
    first when not `defer`, raises at once the exception `immediate(signum)`
    returns (default: Interrupted(signum))."""

    def __init__(self, defer=True, immediate=None):
        self.signum, self.old = None, {}
        self.defer, self.immediate = defer, immediate or Interrupted

    def __enter__(self):
        if _main_thread():
            for sig in STOP_SIGNALS:
                self.old[sig] = signal.signal(sig, self._request)
        return self

    def _request(self, signum, frame):
        if self.signum is not None or not self.defer:
            self.signum = signum
            raise self.immediate(signum)
        self.signum = signum
        print('\n%s received: stopping after this step' % signal.Signals(signum).name,
              file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
