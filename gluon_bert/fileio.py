"""Small file helpers: atomic writes (temporary file, fsync, rename) and digests."""
import hashlib
import json
import os

__all__ = ['write_text_atomic', 'write_json_atomic', 'file_digest']


def write_text_atomic(path, text):
    """Write `text` to `path` so that a reader sees the old file or the new one,
    never a half-written one."""
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def file_digest(path, algorithm='sha256'):
    """Hex digest of a file's bytes (`hashlib.file_digest`)."""
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, algorithm).hexdigest()
