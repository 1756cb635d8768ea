"""The data sets of the chapters, and finding them on disk.

`get_dataset_dir` returns the folder holding a data set's files.  It takes the
data from `data_dir` when given (the extracted folder, the official zip, or a
folder holding either), else from the cache (`$GLUON_BERT_HOME/datasets` or
`~/.gluon_bert/datasets`), downloading the official zip there when allowed.
A zip is checked (sha1 for the official zip, then its CRCs) and extracted once,
through a temporary folder, so a half-extracted folder is never used.
"""
import collections
import os
import shutil
import tempfile
import zipfile
import zlib

from mxnet.gluon import utils as gluon_utils

from gluon_bert.fileio import file_digest

__all__ = ['Entry', 'DATASETS', 'default_cache_dir', 'get_dataset_dir', 'check_zip']


class Entry(collections.namedtuple('Entry', ['url', 'sha1', 'folder', 'files'])):
    """A data set: official zip `url` and its `sha1`, the `folder` the zip
    holds, and the `files` in that folder."""
    __slots__ = ()

    @property
    def zip_name(self):
        return self.url.rsplit('/', 1)[-1]


DATASETS = {
    'wikitext-2': Entry(
        url='https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip',
        sha1='3c914d17d80b1459be871a5039ac23e752a53cbe', folder='wikitext-2',
        files=('wiki.train.tokens', 'wiki.valid.tokens', 'wiki.test.tokens')),
    'snli': Entry(
        url='https://nlp.stanford.edu/projects/snli/snli_1.0.zip',
        sha1='9fcde07509c7e87ec61c640c1b2753d9041758e4', folder='snli_1.0',
        files=('snli_1.0_train.txt', 'snli_1.0_dev.txt', 'snli_1.0_test.txt')),
}


def default_cache_dir():
    """`$GLUON_BERT_HOME/datasets`, or `~/.gluon_bert/datasets`."""
    home = os.environ.get('GLUON_BERT_HOME') or os.path.join('~', '.gluon_bert')
    return os.path.join(os.path.expanduser(home), 'datasets')


def get_dataset_dir(name, data_dir=None, cache_dir=None, download=True, files=None):
    """The folder holding the files of data set `name` (`files`: the names that
    must be there; default all of the entry's files)."""
    if name not in DATASETS:
        raise ValueError('unknown data set %r; choose one of %s'
                         % (name, ', '.join(sorted(DATASETS))))
    entry = DATASETS[name]
    files = tuple(entry.files if files is None else files)
    if data_dir is not None:
        return _from_data_dir(entry, os.path.abspath(os.path.expanduser(data_dir)), files)
    return _from_cache(entry, cache_dir or default_cache_dir(), files, download)


def _from_data_dir(entry, data_dir, files):
    """The data under a user's `data_dir`: extracted folder, zip, or a parent."""
    if os.path.isfile(data_dir):
        if not zipfile.is_zipfile(data_dir) and not data_dir.endswith('.zip'):
            raise ValueError('%s is not a zip file; pass the zip %s or the folder '
                             'holding %s' % (data_dir, entry.zip_name, ', '.join(files)))
        return _extracted(entry, data_dir, os.path.dirname(data_dir), files)
    if not os.path.isdir(data_dir):
        raise FileNotFoundError('data directory not found: %s' % data_dir)
    for folder in (data_dir, os.path.join(data_dir, entry.folder)):
        if _has_files(folder, files):
            return folder
    zip_path = os.path.join(data_dir, entry.zip_name)
    if os.path.isfile(zip_path):
        return _extracted(entry, zip_path, data_dir, files)
    raise FileNotFoundError(_not_found_message(entry, data_dir, files))


def _from_cache(entry, cache_dir, files, download):
    """The data in the cache, downloading the official zip into it if needed."""
    folder = os.path.join(cache_dir, entry.folder)
    if _has_files(folder, files):
        return folder
    zip_path = os.path.join(cache_dir, entry.zip_name)
    if not os.path.isfile(zip_path):
        if not download:
            raise FileNotFoundError('%s is not in the cache %s and downloading is off. %s'
                                    % (entry.zip_name, cache_dir,
                                       _placement_message(entry, cache_dir, files)))
        _download(entry, zip_path, cache_dir, files)
    return _extracted(entry, zip_path, cache_dir, files)


def _download(entry, zip_path, cache_dir, files):
    """Download the official zip to `zip_path`; a failure says what to place where."""
    os.makedirs(cache_dir, exist_ok=True)
    try:
        gluon_utils.download(entry.url, path=zip_path, sha1_hash=entry.sha1)
    except Exception as e:
        raise OSError('could not download %s (%s: %s).\n%s'
                      % (entry.url, type(e).__name__, e,
                         _placement_message(entry, cache_dir, files))) from e


def _extracted(entry, zip_path, parent, files):
    """`parent/<entry.folder>`, extracting `zip_path` there unless already done."""
    folder = os.path.join(parent, entry.folder)
    if _has_files(folder, files):
        return folder
    if os.path.exists(folder):
        raise FileNotFoundError('%s exists but lacks %s; complete or remove it'
                                % (folder, ', '.join(_missing(folder, files))))
    check_zip(zip_path, entry)
    try:
        tmp = tempfile.mkdtemp(prefix='.extract-', dir=parent)
    except OSError as e:
        raise OSError('cannot extract %s into %s (%s); unpack it yourself '
                      '(unzip %s -d DIR) and pass --data-dir DIR'
                      % (zip_path, parent, e, zip_path)) from e
    try:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        _move_into_place(_find_extracted(tmp, entry, files, zip_path), folder, files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _find_extracted(tmp, entry, files, zip_path):
    """The folder inside the extracted tree that holds `files`."""
    for folder in (os.path.join(tmp, entry.folder), tmp):
        if _has_files(folder, files):
            return folder
    raise ValueError('%s does not hold %s/ with %s'
                     % (zip_path, entry.folder, ', '.join(files)))


def _move_into_place(src, dst, files):
    """Rename `src` to `dst`; if another process got there first, use theirs."""
    try:
        os.replace(src, dst)
    except OSError:
        if not _has_files(dst, files):
            raise


def check_zip(zip_path, entry=None):
    """ValueError unless `zip_path` is a sound zip; the official zip of `entry`
    must also have the registered sha1."""
    if entry is not None and os.path.basename(zip_path) == entry.zip_name:
        sha1 = file_digest(zip_path, 'sha1')
        if sha1 != entry.sha1:
            raise ValueError('%s: sha1 mismatch: expected %s, got %s; the file is '
                             'corrupt or not the official %s (download it again from %s)'
                             % (zip_path, entry.sha1, sha1, entry.zip_name, entry.url))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ValueError('%s: not a readable zip file (truncated or corrupt?): %s'
                         % (zip_path, e)) from e
    if bad is not None:
        raise ValueError('%s: corrupt zip file (CRC error in %s)' % (zip_path, bad))


def _has_files(folder, files):
    return os.path.isdir(folder) and not _missing(folder, files)


def _missing(folder, files):
    return [f for f in files if not os.path.isfile(os.path.join(folder, f))]


def _not_found_message(entry, data_dir, files):
    """What was looked for under `data_dir`, with a hint for `.xz` files."""
    msg = ('%s holds neither %s, nor %s/ with them, nor %s'
           % (data_dir, ', '.join(files), entry.folder, entry.zip_name))
    for folder in (data_dir, os.path.join(data_dir, entry.folder)):
        xz = [f + '.xz' for f in files if os.path.isfile(os.path.join(folder, f + '.xz'))]
        if xz:
            msg += ('; found %s in %s: unpack it with xz -dk (e.g. xz -dk %s)'
                    % (', '.join(xz), folder, os.path.join(folder, xz[0])))
            break
    partial = [folder for folder in (data_dir, os.path.join(data_dir, entry.folder))
               if os.path.isdir(folder) and len(_missing(folder, files)) < len(files)]
    if partial:
        msg += '; %s lacks %s' % (partial[0], ', '.join(_missing(partial[0], files)))
    return msg


def _placement_message(entry, cache_dir, files):
    return ('Place %s (from %s) in %s, or its extracted folder %s/ holding %s; '
            'or pass --data-dir pointing at the zip or the folder.'
            % (entry.zip_name, entry.url, cache_dir, entry.folder, ', '.join(files)))
