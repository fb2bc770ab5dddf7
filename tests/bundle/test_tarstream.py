"""The archive's own tar writer and reader against Python's tarfile: same bytes out, same members back."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading

import pytest

from bundler.bundle.tarstream import CHUNK, HashingFileSink, HashingReadAhead, TarReader, TarWriter, header

LONG = "debs/pool/main/" + "l" * 120 + "/libsomething_1.0-1_amd64.deb"  # > 100 characters: needs a pax header
MEMBERS = [("bundle.json", b'{"a": 1}\n'), (LONG, b"x" * 1000), ("images/blobs/sha256/" + "a" * 64, b"y" * 512),
           ("empty", b"")]


def by_tarfile(members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 1700000000, 0o644, 0, 0, "", ""
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def by_writer(members) -> bytes:
    buf = io.BytesIO()
    tar = TarWriter(buf)
    for i, (name, data) in enumerate(members):
        if i % 2:
            tar.add_file(name, io.BytesIO(data), len(data), 1700000000)
        else:
            tar.add_bytes(name, data, 1700000000)
    tar.close()
    return buf.getvalue()


def read_all(data: bytes) -> list[tuple[str, str, bytes]]:
    return [(info.name, info.type.decode(), b"".join(chunks)) for info, chunks in TarReader(io.BytesIO(data)).members()]


def test_writer_gives_tarfiles_bytes():
    assert by_writer(MEMBERS) == by_tarfile(MEMBERS)


def test_reader_gives_back_every_member_with_pax_names():
    assert read_all(by_writer(MEMBERS)) == [(n, "0", d) for n, d in MEMBERS]


def test_reader_hands_links_and_directories_to_the_caller_to_judge():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        s = tarfile.TarInfo("dir/escape")
        s.type, s.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tar.addfile(s)
        f = tarfile.TarInfo("after")
        f.size = 3
        tar.addfile(f, io.BytesIO(b"abc"))
    got = [(info.name, info.type, info.linkname) for info, _ in TarReader(io.BytesIO(buf.getvalue())).members()]
    assert got == [("dir", tarfile.DIRTYPE, ""), ("dir/escape", tarfile.SYMTYPE, "../../etc/passwd"),
                   ("after", tarfile.REGTYPE, "")]


def test_a_damaged_header_is_refused():
    data = bytearray(by_writer(MEMBERS))
    data[10] ^= 0xFF  # inside the first member's name: the header checksum no longer matches
    with pytest.raises(tarfile.HeaderError):
        read_all(bytes(data))


def test_a_truncated_stream_ends_with_eof_error():
    data = by_writer(MEMBERS)
    with pytest.raises(EOFError):
        read_all(data[: len(header("bundle.json", 9, 0)) + 100])


def test_data_left_unread_in_part_or_whole_is_skipped_and_stale_chunks_end():
    big = os.urandom(3 * CHUNK + 7)  # skipped in several pieces, with padding after
    members = [("first", big), ("second", b"z" * 700), ("third", big[:100])]
    got, stale = [], None
    for info, chunks in TarReader(io.BytesIO(by_writer(members)), chunk=4096).members():
        if info.name == "first":
            assert next(chunks) == big[:4096]  # one piece read, the rest left
            stale = chunks
        elif info.name == "second":
            assert list(stale) == []  # the first member's chunks never hand out the second's data
            got.append(b"".join(chunks))
        else:
            got.append(b"".join(chunks))
    assert got == [b"z" * 700, big[:100]]


def test_read_ahead_closes_when_the_reader_stops_with_the_queue_full():
    """`inspect` reads only the head: the read-ahead thread may already hold the whole file and the end marker
    with nobody left to take them. close() must still return (it hung when the file was 5 chunks long)."""
    for chunks in (1, 4, 5, 6, 9):
        reader = HashingReadAhead(io.BytesIO(b"x" * (chunks * CHUNK)))
        assert reader.read(100) == b"x" * 100
        reader._thread.join(timeout=1)  # let it fill the queue (and reach the end of a short file)
        closer = threading.Thread(target=reader.close, daemon=True)
        closer.start()
        closer.join(timeout=5)
        assert not closer.is_alive(), f"close() hung on a {chunks}-chunk file"


def test_read_ahead_hashes_the_whole_file_when_drained():
    data = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    reader = HashingReadAhead(io.BytesIO(data))
    got = reader.read(10) + reader.read(CHUNK)
    reader.drain()
    reader.close()
    assert got == data[: len(got)]
    assert reader.hash.hexdigest() == hashlib.sha256(data).hexdigest()


def test_sink_syncs_early_and_writes_every_byte(tmp_path):
    data = os.urandom(5 << 20)
    path = tmp_path / "out"
    with open(path, "wb") as raw:
        sink = HashingFileSink(raw, writeback=1 << 20, early_sync=1 << 20)
        for i in range(0, len(data), 256 << 10):
            sink.write(data[i:i + (256 << 10)])
        sink.finish()
    assert path.read_bytes() == data
    assert sink.hash.hexdigest() == hashlib.sha256(data).hexdigest()


def test_an_early_sync_error_reaches_finish():
    """fdatasync of a pipe fails (EINVAL): a real error from the sync thread must not vanish."""
    r, w = os.pipe()
    drain = threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(r, 1 << 20), b"")], daemon=True)
    drain.start()
    with os.fdopen(w, "wb") as raw:
        sink = HashingFileSink(raw, writeback=1 << 20, early_sync=1 << 20)
        for _ in range(3):
            sink.write(bytes(1 << 20))
        with pytest.raises(OSError):
            sink.finish()
    drain.join(5)
    os.close(r)
