"""Where the archive's one zstd frame ends, found by walking its headers as the file's bytes go by.

Why: the decompressor ends silently at a frame cut short (the content checksum is simply never checked), steps
over appended skippable frames and, reading across frames, over appended ones. An archive is whole only when the
file is exactly one frame: this walker reads only the frame and block headers (a few bytes per 128 KiB block),
so a file cut inside the frame, or with anything after it, is told apart from the archive that was written.
Format: RFC 8878, sections 3.1.1 (frame header) and 3.1.1.2 (blocks).
"""

from __future__ import annotations

MAGIC = b"\x28\xb5\x2f\xfd"
BLOCK_MAX = 128 << 10  # Block_Maximum_Size: no valid block is larger
_FCS_SIZE = (0, 2, 4, 8)  # by Frame_Content_Size_flag; flag 0 means 1 byte when Single_Segment is set
_DICT_ID_SIZE = (0, 1, 2, 4)

_MAGIC, _DESCRIPTOR, _HEADER, _BLOCK, _CHECKSUM, _DONE, _BAD = range(7)


class FrameCheck:
    """Fed every byte of the file in order (`feed`), then asked `problem()` once the file has been read."""

    def __init__(self) -> None:
        self.seen = 0  # bytes fed so far
        self.frame_end: int | None = None  # offset just past the frame, once it is complete
        self.trailing = 0  # bytes after the frame
        self.bad: str | None = None
        self._state = _MAGIC
        self._want = 4
        self._buf = b""
        self._skip = 0
        self._checksum = 0
        self._last_block = False

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        self.seen += end
        while pos < end:
            if self._state == _DONE:
                self.trailing += end - pos
                return
            if self._state == _BAD:
                return
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                if not self._skip:
                    self._after_block(self.seen - (end - pos))
                continue
            step = min(self._want - len(self._buf), end - pos)
            self._buf += data[pos:pos + step]
            pos += step
            if len(self._buf) == self._want:
                buf, self._buf = self._buf, b""
                self._step(buf, offset=self.seen - (end - pos))

    def _expect(self, state: int, n: int, offset: int) -> None:
        self._state, self._want = state, n
        if n == 0:
            self._step(b"", offset)

    def _step(self, buf: bytes, offset: int) -> None:
        if self._state == _MAGIC:
            if buf != MAGIC:
                self._fail(f"no zstd frame at byte {offset - 4}")
                return
            self._expect(_DESCRIPTOR, 1, offset)
        elif self._state == _DESCRIPTOR:
            d = buf[0]
            if d & 0x08:
                self._fail(f"reserved bit set in the zstd frame header at byte {offset - 1}")
                return
            single = (d >> 5) & 1
            self._checksum = 4 if d & 0x04 else 0
            fcs = _FCS_SIZE[d >> 6] or single
            self._expect(_HEADER, (0 if single else 1) + _DICT_ID_SIZE[d & 3] + fcs, offset)
        elif self._state == _HEADER:
            self._expect(_BLOCK, 3, offset)
        elif self._state == _BLOCK:
            v = int.from_bytes(buf, "little")
            kind, size = (v >> 1) & 3, v >> 3
            if kind == 3 or size > BLOCK_MAX:
                self._fail(f"corrupt zstd block header at byte {offset - 3}")
                return
            self._last_block = bool(v & 1)
            self._skip = 1 if kind == 1 else size  # an RLE block stores its one byte
            if not self._skip:
                self._after_block(offset)
        elif self._state == _CHECKSUM:
            self._state = _DONE
            self.frame_end = offset

    def _after_block(self, offset: int) -> None:
        if self._last_block:
            self._expect(_CHECKSUM, self._checksum, offset)
        else:
            self._expect(_BLOCK, 3, offset)

    def _fail(self, why: str) -> None:
        self._state, self.bad = _BAD, why

    def problem(self) -> tuple[str, str] | None:
        """("truncated" | "trailing" | "corrupt", what), or None when the file is exactly one whole frame."""
        if self.bad is not None:
            return "corrupt", self.bad
        if self._state != _DONE:
            return "truncated", f"the file ends inside its zstd frame after {self.seen} bytes"
        if self.trailing:
            return "trailing", (f"{self.trailing} bytes of trailing data after the archive's end "
                                f"(its zstd frame ends at byte {self.frame_end})")
        return None
