"""Locating, checking, downloading and extracting the data sets (no network)."""
import hashlib
import os
import shutil
import zipfile

import mxnet
import pytest

from gluon_bert.data import download
from gluon_bert.data.download import DATASETS, default_cache_dir, get_dataset_dir

ENTRY = DATASETS['wikitext-2']
FILES = ENTRY.files


def make_zip(path, folder='wikitext-2', files=FILES, method=zipfile.ZIP_DEFLATED):
    """A small zip shaped like the official one; returns its sha1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, 'w', compression=method) as zf:
        for name in files:
            zf.writestr('%s/%s' % (folder, name), ' %s line . two \n' % name * 200)
    return hashlib.sha1(path.read_bytes()).hexdigest()


def make_folder(path, files=FILES):
    path.mkdir(parents=True, exist_ok=True)
    for name in files:
        (path / name).write_text(' %s . x \n' % name, encoding='utf-8')
    return path


@pytest.fixture
def official_zip(tmp_path, monkeypatch):
    """`wikitext-2-v1.zip` made here, registered with its own sha1."""
    path = tmp_path / 'src' / ENTRY.zip_name
    sha1 = make_zip(path)
    monkeypatch.setitem(DATASETS, 'wikitext-2', ENTRY._replace(sha1=sha1))
    return path


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Any download attempt fails; the default cache is inside tmp_path."""
    def offline(*args, **kwargs):
        raise ConnectionError('network is unreachable')
    monkeypatch.setattr(mxnet.gluon.utils, 'download', offline)
    monkeypatch.setenv('GLUON_BERT_HOME', str(tmp_path / 'home'))


def forbid_extraction(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError('extracted again')
    monkeypatch.setattr(zipfile.ZipFile, 'extractall', fail)


def no_temp_left(folder):
    return not [n for n in os.listdir(folder) if n.startswith('.extract-')]


# ---------------------------------------------------------------- data_dir

def test_data_dir_is_the_extracted_folder(tmp_path):
    folder = make_folder(tmp_path / 'anything')
    assert get_dataset_dir('wikitext-2', data_dir=str(folder)) == str(folder)


def test_data_dir_holds_the_extracted_folder(tmp_path):
    folder = make_folder(tmp_path / 'data' / 'wikitext-2')
    assert get_dataset_dir('wikitext-2', data_dir=str(tmp_path / 'data')) == str(folder)


def test_data_dir_is_the_zip_extracted_once(official_zip, monkeypatch):
    result = get_dataset_dir('wikitext-2', data_dir=str(official_zip))
    assert result == str(official_zip.parent / 'wikitext-2')
    for name in FILES:
        assert (official_zip.parent / 'wikitext-2' / name).read_text().startswith(' ' + name)
    assert no_temp_left(official_zip.parent)
    sentinel = official_zip.parent / 'wikitext-2' / 'sentinel'
    sentinel.write_text('still here')
    forbid_extraction(monkeypatch)
    assert get_dataset_dir('wikitext-2', data_dir=str(official_zip)) == result
    assert get_dataset_dir('wikitext-2', data_dir=str(official_zip.parent)) == result
    assert sentinel.read_text() == 'still here'


def test_data_dir_holds_the_zip(official_zip):
    result = get_dataset_dir('wikitext-2', data_dir=str(official_zip.parent))
    assert result == str(official_zip.parent / 'wikitext-2')
    assert sorted(os.listdir(result)) == sorted(FILES)


def test_zip_with_another_name_is_not_hash_checked(tmp_path):
    path = tmp_path / 'my-copy.zip'
    make_zip(path)
    assert get_dataset_dir('wikitext-2', data_dir=str(path)) == str(tmp_path / 'wikitext-2')


def test_files_option_accepts_a_partial_folder(tmp_path):
    folder = make_folder(tmp_path / 'wt', files=('wiki.train.tokens',))
    with pytest.raises(FileNotFoundError, match='lacks wiki.valid.tokens'):
        get_dataset_dir('wikitext-2', data_dir=str(folder))
    assert get_dataset_dir('wikitext-2', data_dir=str(folder),
                           files=('wiki.train.tokens',)) == str(folder)


def test_nothing_found_names_what_was_looked_for(tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError) as err:
        get_dataset_dir('wikitext-2', data_dir=str(tmp_path / 'empty'))
    message = str(err.value)
    for expected in ('wiki.train.tokens', 'wikitext-2/', ENTRY.zip_name, str(tmp_path / 'empty')):
        assert expected in message
    with pytest.raises(FileNotFoundError, match='not found'):
        get_dataset_dir('wikitext-2', data_dir=str(tmp_path / 'missing'))


def test_xz_files_are_not_accepted_but_hinted(tmp_path):
    folder = tmp_path / 'wikitext-2'
    folder.mkdir()
    for name in FILES:
        (folder / (name + '.xz')).write_bytes(b'\xfd7zXZ\x00')
    for data_dir in (folder, tmp_path):
        with pytest.raises(FileNotFoundError) as err:
            get_dataset_dir('wikitext-2', data_dir=str(data_dir))
        assert 'found wiki.train.tokens.xz' in str(err.value)
        assert 'xz -dk' in str(err.value)


# ---------------------------------------------------------------- zip checks

def test_sha1_mismatch_rejected_and_file_kept(tmp_path):
    path = tmp_path / ENTRY.zip_name          # official name, other content
    sha1 = make_zip(path)
    with pytest.raises(ValueError) as err:
        get_dataset_dir('wikitext-2', data_dir=str(tmp_path))
    message = str(err.value)
    assert str(path) in message and ENTRY.sha1 in message and sha1 in message
    assert path.exists()
    assert not (tmp_path / 'wikitext-2').exists() and no_temp_left(tmp_path)


def test_truncated_zip_rejected(tmp_path):
    path = tmp_path / 'wt.zip'
    make_zip(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='wt.zip.*truncated or corrupt'):
        get_dataset_dir('wikitext-2', data_dir=str(path))
    assert not (tmp_path / 'wikitext-2').exists() and no_temp_left(tmp_path)


def test_crc_error_rejected(tmp_path):
    path = tmp_path / 'wt.zip'
    make_zip(path, method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.index(b'wiki.train.tokens line')
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match='wt.zip.*CRC'):
        get_dataset_dir('wikitext-2', data_dir=str(path))
    assert not (tmp_path / 'wikitext-2').exists()


def test_zip_without_the_files_rejected(tmp_path):
    path = tmp_path / 'other.zip'
    make_zip(path, folder='something', files=('readme.txt',))
    with pytest.raises(ValueError, match='does not hold wikitext-2/'):
        get_dataset_dir('wikitext-2', data_dir=str(path))
    assert not (tmp_path / 'wikitext-2').exists() and no_temp_left(tmp_path)


# ---------------------------------------------------------------- cache

def test_default_cache_dir(monkeypatch, tmp_path):
    assert default_cache_dir() == str(tmp_path / 'home' / 'datasets')
    monkeypatch.delenv('GLUON_BERT_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'user'))
    assert default_cache_dir() == str(tmp_path / 'user' / '.gluon_bert' / 'datasets')


def test_offline_with_empty_cache_says_what_to_place_where(tmp_path):
    cache = tmp_path / 'cache'
    with pytest.raises(OSError) as err:
        get_dataset_dir('wikitext-2', cache_dir=str(cache))
    message = str(err.value)
    for expected in (ENTRY.zip_name, str(cache), '--data-dir', ENTRY.url, 'unreachable'):
        assert expected in message
    with pytest.raises(FileNotFoundError) as err:
        get_dataset_dir('wikitext-2', cache_dir=str(cache), download=False)
    assert ENTRY.zip_name in str(err.value) and str(cache) in str(err.value)


def test_default_cache_used_without_cache_dir(tmp_path):
    with pytest.raises(OSError, match=str(tmp_path / 'home' / 'datasets')):
        get_dataset_dir('wikitext-2')


def test_download_then_extract_once(official_zip, tmp_path, monkeypatch):
    calls = []

    def fake_download(url, path=None, sha1_hash=None, **kwargs):
        calls.append((url, path, sha1_hash))
        shutil.copy(official_zip, path)
        return path
    monkeypatch.setattr(mxnet.gluon.utils, 'download', fake_download)
    cache = tmp_path / 'cache'
    result = get_dataset_dir('wikitext-2', cache_dir=str(cache))
    assert result == str(cache / 'wikitext-2')
    assert sorted(os.listdir(result)) == sorted(FILES)
    assert calls == [(ENTRY.url, str(cache / ENTRY.zip_name), DATASETS['wikitext-2'].sha1)]
    assert no_temp_left(cache)
    forbid_extraction(monkeypatch)
    assert get_dataset_dir('wikitext-2', cache_dir=str(cache)) == result
    assert len(calls) == 1


def test_zip_already_in_cache_is_used(official_zip, tmp_path):
    cache = tmp_path / 'cache'
    cache.mkdir()
    shutil.copy(official_zip, cache / ENTRY.zip_name)
    assert get_dataset_dir('wikitext-2', cache_dir=str(cache)) == str(cache / 'wikitext-2')


def test_bad_zip_in_cache_rejected(tmp_path):
    cache = tmp_path / 'cache'
    make_zip(cache / ENTRY.zip_name)  # not the registered sha1
    with pytest.raises(ValueError, match='sha1 mismatch.*expected %s' % ENTRY.sha1):
        get_dataset_dir('wikitext-2', cache_dir=str(cache))
    assert (cache / ENTRY.zip_name).exists()
    assert not (cache / 'wikitext-2').exists()


def test_unknown_data_set():
    with pytest.raises(ValueError, match='snli'):
        get_dataset_dir('nope')


def test_registry():
    assert DATASETS['wikitext-2'].zip_name == 'wikitext-2-v1.zip'
    assert DATASETS['snli'].zip_name == 'snli_1.0.zip'
    assert DATASETS['snli'].folder == 'snli_1.0'
    assert DATASETS['snli'].files == ('snli_1.0_train.txt', 'snli_1.0_dev.txt',
                                      'snli_1.0_test.txt')
    assert download.DATASETS is DATASETS
