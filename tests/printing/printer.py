"""A receipt printer for the tests: a TCP listener on loopback that records every connection's
bytes, and a small ESC/POS reader that turns those bytes back into what a printer would put on
paper (text lines in the selected code page, raster images, cuts)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

# ESC t n: the code page numbers of the common Epson command set.
CODE_PAGES = {0: "cp437", 2: "cp850", 13: "cp857", 16: "cp1252", 17: "cp866", 19: "cp858", 48: "cp1254"}
STATUS_ASK = b"\x10\x04\x04"  # DLE EOT 4: is there paper?


class PrinterListener:
    """Accepts connections on 127.0.0.1:`port`; each connection's bytes are one job. `down()`
    closes the port (a printer switched off: connections are refused), `up()` opens it again.
    `paper_out`: answers the paper question with "roll out" and records nothing printed."""

    def __init__(self, port: int = 0) -> None:
        self.jobs: list[bytes] = []
        self.asked = 0
        self.paper_out = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.up()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def up(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        self._thread.start()

    def down(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in its thread
            sock.close()
        if self._thread is not None:
            self._thread.join(5)

    stop = down

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._take, args=(conn,), daemon=True).start()

    def _take(self, conn: socket.socket) -> None:
        data = b""
        conn.settimeout(10)
        with conn:
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if data == STATUS_ASK and self.paper_out:
                        conn.sendall(b"\x72")  # bits 5 and 6: the roll is out
            except OSError:
                pass
        with self._lock:
            if data.startswith(STATUS_ASK):
                self.asked += 1
                data = data[len(STATUS_ASK):]
            if data:
                self.jobs.append(data)

    def printouts(self) -> list[Printout]:
        with self._lock:
            return [read(job) for job in self.jobs]

    def wait_for(self, count: int, seconds: float = 15.0) -> list[Printout]:
        deadline = time.monotonic() + seconds
        while True:
            outs = self.printouts()
            if len(outs) >= count:
                return outs
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(outs)} printouts, not {count}, within {seconds} s")
            time.sleep(0.05)


@dataclass
class Raster:
    width: int  # dots
    height: int
    rows: list[bytes]

    def dark(self) -> int:
        """How many dots are printed."""
        return sum(bin(byte).count("1") for row in self.rows for byte in row)

    def dark_columns(self) -> tuple[int, int]:
        """The first and last column with a printed dot."""
        cols = [x for x in range(self.width)
                if any(row[x // 8] & (0x80 >> (x % 8)) for row in self.rows)]
        return (cols[0], cols[-1]) if cols else (-1, -1)


@dataclass
class Printout:
    """What one job puts on paper."""

    lines: list[str] = field(default_factory=list)
    bold: list[str] = field(default_factory=list)  # lines printed in bold
    rasters: list[Raster] = field(default_factory=list)
    cuts: int = 0
    code_pages: list[str] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)
    cut_last: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def value(self, label: str) -> str:
        """The value on the line that starts with `label` (a pair row)."""
        for line in self.lines:
            if line.startswith(label):
                return line[len(label):].strip()
        raise AssertionError(f"no line starts with {label!r} in:\n{self.text}")


def read(data: bytes) -> Printout:
    """Decode the ESC/POS commands a receipt uses; anything else is kept in `unknown`."""
    out = Printout()
    page = "cp437"
    bold = False
    current = b""
    i = 0

    def flush() -> None:
        nonlocal current
        line = current.decode(page)
        out.lines.append(line)
        if bold:
            out.bold.append(line)
        current = b""

    while i < len(data):
        byte = data[i]
        out.cut_last = False
        if byte == 0x0A:
            flush()
            i += 1
        elif byte == 0x1B:  # ESC
            cmd = data[i + 1:i + 2]
            if cmd == b"@":
                page, bold = "cp437", False
                i += 2
            elif cmd == b"t":
                page = CODE_PAGES.get(data[i + 2], f"page-{data[i + 2]}")
                out.code_pages.append(page)
                i += 3
            elif cmd == b"E":
                bold = bool(data[i + 2])
                i += 3
            elif cmd == b"d":  # print and feed n lines
                for _ in range(data[i + 2]):
                    flush()
                i += 3
            elif cmd in (b"a", b"M", b"!", b"-", b"G", b"{", b"V", b"3"):
                i += 3
            elif cmd == b"2":
                i += 2
            else:
                out.unknown.append(data[i:i + 3])
                i += 2
        elif byte == 0x1D:  # GS
            cmd = data[i + 1:i + 2]
            if cmd == b"v" and data[i + 2:i + 3] == b"0":
                width_bytes = data[i + 4] + 256 * data[i + 5]
                height = data[i + 6] + 256 * data[i + 7]
                start = i + 8
                rows = [data[start + r * width_bytes:start + (r + 1) * width_bytes] for r in range(height)]
                out.rasters.append(Raster(width_bytes * 8, height, rows))
                i = start + width_bytes * height
            elif cmd == b"V":
                mode = data[i + 2]
                i += 4 if mode in (65, 66) else 3
                out.cuts += 1
                out.cut_last = True
            elif cmd in (b"!", b"B", b"b"):
                i += 3
            else:
                out.unknown.append(data[i:i + 3])
                i += 2
        else:
            current += bytes([byte])
            i += 1
    if current:
        flush()
    # Feeds before the cut leave empty lines at the end: not part of the receipt's text.
    while out.lines and out.lines[-1] == "":
        out.lines.pop()
    return out
