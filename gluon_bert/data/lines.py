"""Lines of the TSV and JSON-lines files the readers take (`snli`, `tasks`,
`pairs`): splitting a file's text into lines, skipping blank ones, finding a
header's column, and reading JSON objects, every error naming the file and line."""
import json

__all__ = ['split_lines', 'nonblank', 'find_column', 'json_key', 'json_sentence',
           'json_records']


def split_lines(text):
    """The lines of `text` (without line ends, byte-order mark dropped)."""
    if text.startswith('\ufeff'):
        text = text[1:]
    if '\r' in text:
        text = text.replace('\r\n', '\n')
    lines = text.split('\n')
    if lines and not lines[-1]:
        lines.pop()
    return lines


def nonblank(lines, start):
    """`(line_no, line)` of the non-blank lines from index `start` on."""
    for line_no in range(start + 1, len(lines) + 1):
        line = lines[line_no - 1]
        if line and not line.isspace():
            yield line_no, line


def find_column(names, keys, what, path, line_no):
    for key in keys:
        if key in names:
            return names.index(key)
    raise ValueError('%s: line %d: unrecognised header, no %s column (one of %s) in %r' % (
        path, line_no, what, ', '.join(keys), '\t'.join(names)))


def json_key(record, keys, path, line_no):
    for key in keys:
        if key in record:
            return record[key]
    raise ValueError('%s: line %d: missing key %s' % (path, line_no, ' or '.join(map(repr, keys))))


def json_sentence(record, keys, path, line_no):
    sentence = json_key(record, keys, path, line_no)
    if not isinstance(sentence, str):
        raise ValueError('%s: line %d: %s is not a string: %r' % (path, line_no, keys[0], sentence))
    return sentence.strip()


def json_records(lines, first, path):
    """(line number, object) of every non-blank line of a JSON-lines file; a line
    that is not a JSON object is an error naming the file and line."""
    for line_no, line in nonblank(lines, first):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError('%s: line %d: invalid JSON: %s' % (path, line_no, e.msg)) from None
        if not isinstance(record, dict):
            raise ValueError('%s: line %d: expected a JSON object' % (path, line_no))
        yield line_no, record
