"""Small file helpers: atomic writes (temporary file, fsync, rename), reading
JSON and UTF-8 text with errors that name the line, and digests.

A write that fails (a full disk, no permission, ...) raises `WriteError`, an
OSError whose message names the file and the cause, and leaves the previous
file, if any, as it was.  JSON is written without NaN or Infinity: a
non-finite number becomes null (`json_safe`), and `json.dumps` is called with
`allow_nan=False`, so that one that slips through is an error, never invalid
JSON."""
import errno
import hashlib
import json
import math
import os

__all__ = ['WriteError', 'write_atomic', 'write_text_atomic', 'write_json_atomic',
           'append_text', 'dumps_json', 'json_safe', 'read_json', 'read_utf8',
           'file_digest']

_HINTS = {errno.ENOSPC: 'free some space or choose another --output',
          errno.EDQUOT: 'free some space or choose another --output',
          errno.EACCES: 'check the permissions of the folder or choose another --output',
          errno.EPERM: 'check the permissions of the folder or choose another --output',
          errno.EROFS: 'the file system is read-only; choose another --output'}


class WriteError(OSError):
    """A file that could not be written: `filename` and the cause (`strerror`)."""

    def __init__(self, path, cause):
        code = getattr(cause, 'errno', None)
        reason = getattr(cause, 'strerror', None) or str(cause)
        super().__init__(code, reason, path)

    def __str__(self):
        hint = _HINTS.get(self.errno)
        return 'cannot write %s: %s%s' % (self.filename, self.strerror,
                                           ' (%s)' % hint if hint else '')


def _remove_quietly(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write_atomic(path, write):
    """Write `path` through `write(tmp_path)`, then fsync and rename, so that a
    reader sees the old file or the new one, never a half-written one.  An
    OSError is raised as a WriteError naming `path`; the temporary file is
    removed."""
    tmp = path + '.tmp'
    try:
        write(tmp)
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _remove_quietly(tmp)
        if isinstance(e, WriteError):
            raise
        raise WriteError(path, e) from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def write_text_atomic(path, text):
    """Write the str `text` to `path` (UTF-8, '\\n' line ends) atomically."""
    def write(tmp):
        with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
            f.write(text)
    write_atomic(path, write)


def json_safe(obj):
    """`obj` with every non-finite float (NaN, Infinity; numpy's too) replaced
    by None, tuples as lists."""
    if isinstance(obj, float) or type(obj).__name__.startswith('float'):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps_json(obj, **kwargs):
    """`json.dumps` of `json_safe(obj)`, refusing NaN and Infinity."""
    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)


def write_json_atomic(path, obj):
    """Write `obj` as indented JSON (sorted keys, no NaN: null) to `path`
    atomically."""
    write_text_atomic(path, dumps_json(obj, indent=2, sort_keys=True) + '\n')


def append_text(path, text, truncate=False):
    """Append `text` to `path` (or replace its content: `truncate`); an
    OSError is a WriteError naming `path`."""
    try:
        with open(path, 'w' if truncate else 'a', encoding='utf-8', newline='\n') as f:
            f.write(text)
    except OSError as e:
        raise WriteError(path, e) from None


def read_json(path):
    """The JSON document in `path`; invalid JSON is a ValueError naming the file
    and the line."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError('%s: line %d: invalid JSON: %s' % (path, e.lineno, e.msg)) from None


def read_utf8(path):
    """The text of the UTF-8 file `path`; invalid UTF-8 is a ValueError naming the
    file and the line."""
    with open(path, 'rb') as f:
        data = f.read()
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as e:
        line_no = data.count(b'\n', 0, e.start) + 1
        raise ValueError('%s: line %d: invalid UTF-8 (%s)' % (path, line_no, e.reason)) from None


def file_digest(path, algorithm='sha256'):
    """Hex digest of a file's bytes (`hashlib.file_digest`)."""
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, algorithm).hexdigest()
