"""Small file helpers: atomic writes (temporary file, fsync, rename), reading
JSON and UTF-8 text with errors that name the line, and digests."""
import hashlib
import json
import os

__all__ = ['write_atomic', 'write_text_atomic', 'write_json_atomic', 'read_json',
           'read_utf8', 'file_digest']


def write_atomic(path, write):
    """Write `path` through `write(tmp_path)`, then fsync and rename, so that a
    reader sees the old file or the new one, never a half-written one."""
    tmp = path + '.tmp'
    write(tmp)
    with open(tmp, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text_atomic(path, text):
    """Write the str `text` to `path` (UTF-8, '\\n' line ends) atomically."""
    def write(tmp):
        with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
            f.write(text)
    write_atomic(path, write)


def write_json_atomic(path, obj):
    """Write `obj` as indented JSON (sorted keys) to `path` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


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
