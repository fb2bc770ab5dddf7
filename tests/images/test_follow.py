"""The archive writer's reader of blobs still downloading (bundler.follow): a real file written by a thread
that reports to a LiveFile the way bundler.fetch does."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future

import pytest

from bundler.follow import FollowReader, LiveFile, Pending, SourceChanged

CHUNK = 64 * 1024


def read_all(reader: FollowReader, size: int) -> bytes:
    out = bytearray()
    buf = bytearray(CHUNK)
    while len(out) < size:
        n = reader.readinto(memoryview(buf))
        assert n, "reader ended early"
        out += buf[:n]
    return bytes(out)


class GrowingFile(threading.Thread):
    """Writes `data` to `partial` in steps, reporting each to the LiveFile, then renames it to `final`."""

    def __init__(self, tmp_path, data: bytes, steps: int = 8, pause: float = 0.02):
        super().__init__(daemon=True)
        self.partial, self.final = tmp_path / "blob.partial", tmp_path / "blob"
        self.data, self.steps, self.pause = data, steps, pause
        self.pending = Pending(Future(), LiveFile())
        self.verify = threading.Event()  # the test decides when the digest check is done
        self.verify.set()
        self.before_rename = None

    def run(self) -> None:
        live, step = self.pending.live, len(self.data) // self.steps + 1
        with open(self.partial, "ab") as f:
            for i in range(0, len(self.data), step):
                f.write(self.data[i:i + step])
                f.flush()
                live.grew(self.partial, min(i + step, len(self.data)))
                time.sleep(self.pause)
        self.verify.wait(5)
        if self.before_rename:
            self.before_rename()
        os.replace(self.partial, self.final)
        self.pending.future.set_result(self.final)


def test_follows_a_growing_file_and_holds_the_last_bytes_until_verified(tmp_path):
    data = os.urandom(300_000)
    dl = GrowingFile(tmp_path, data)
    dl.verify.clear()
    reader = FollowReader(dl.pending, dl.final, len(data))
    dl.start()
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("bytes", read_all(reader, len(data))))
    t.start()
    t.join(1.0)
    assert t.is_alive(), "the last read returned before the download's digest check"
    assert dl.pending.live.length == len(data)
    dl.verify.set()
    t.join(5)
    assert got["bytes"] == data
    reader.close()


def test_a_restart_before_anything_was_handed_out_is_followed(tmp_path):
    data = os.urandom(100_000)
    dl = GrowingFile(tmp_path, data)
    # A first attempt wrote garbage and was thrown away before the reader took any of it.
    dl.partial.write_bytes(b"x" * 5000)
    dl.pending.live.grew(dl.partial, 5000)
    reader = FollowReader(dl.pending, dl.final, len(data))
    dl.pending.live.restart()
    dl.partial.unlink()
    dl.start()
    assert read_all(reader, len(data)) == data
    reader.close()


def test_a_restart_after_bytes_were_handed_out_raises_source_changed(tmp_path):
    data = os.urandom(100_000)
    dl = GrowingFile(tmp_path, data)
    dl.partial.write_bytes(data[:40_000])
    dl.pending.live.grew(dl.partial, 40_000)
    reader = FollowReader(dl.pending, dl.final, len(data))
    buf = bytearray(CHUNK)
    assert reader.readinto(memoryview(buf)) == 40_000
    dl.pending.live.restart()  # e.g. the server ignored the Range of a resume
    with open(dl.partial, "r+b") as f:
        f.truncate(0)
    with pytest.raises(SourceChanged):
        reader.readinto(memoryview(buf))
    reader.close()


def test_a_digest_failure_after_the_last_byte_raises_source_changed(tmp_path):
    data = os.urandom(50_000)
    dl = GrowingFile(tmp_path, data, steps=1)
    dl.verify.clear()
    reader = FollowReader(dl.pending, dl.final, len(data))
    dl.start()
    while dl.pending.live.length < len(data):
        time.sleep(0.01)
    # The digest check fails: the download throws its bytes away and fetches the blob again.
    threading.Timer(0.3, lambda: (dl.pending.live.restart(), dl.verify.set())).start()
    with pytest.raises(SourceChanged, match="digest check"):
        read_all(reader, len(data))
    reader.close()


def test_a_failed_download_is_raised_by_the_reader(tmp_path):
    pending = Pending(Future(), LiveFile())
    reader = FollowReader(pending, tmp_path / "never", 10)
    threading.Timer(0.1, lambda: pending.future.set_exception(RuntimeError("404 not found"))).start()
    with pytest.raises(RuntimeError, match="404"):
        reader.readinto(memoryview(bytearray(10)))


def test_another_failed_download_stops_a_waiting_reader(tmp_path):
    pending = Pending(Future(), LiveFile())

    def check():
        raise RuntimeError("another blob: digest mismatch")

    reader = FollowReader(pending, tmp_path / "never", 10, check)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="another blob"):
        reader.readinto(memoryview(bytearray(10)))
    assert time.monotonic() - t0 < 2


def test_a_partial_renamed_before_the_reader_opens_it_is_read_under_its_final_name(tmp_path):
    data = os.urandom(20_000)
    partial, final = tmp_path / "blob.partial", tmp_path / "blob"
    partial.write_bytes(data)
    pending = Pending(Future(), LiveFile())
    pending.live.grew(partial, len(data))
    os.replace(partial, final)  # verified and renamed between the report and the reader's open
    pending.future.set_result(final)
    reader = FollowReader(pending, final, len(data))
    assert read_all(reader, len(data)) == data
    reader.close()
