"""An HTTPS front for a test Orthanc: TLS ends here and every request goes on to Orthanc.

Debian's Orthanc 1.10 crashes on its own HTTPS with OpenSSL 3, and hospitals usually put a
TLS-terminating proxy in front of a PACS anyway; this is that proxy, with a self-signed
certificate, so the client's certificate checks meet a real TLS handshake.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class TlsProxy:
    """``https://127.0.0.1:<port>`` in front of ``upstream`` (an http URL), until :meth:`stop`."""

    def __init__(self, upstream: str, pem: Path) -> None:
        target = upstream.rstrip("/")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                r = requests.request(
                    self.command, target + self.path, data=body, headers=headers, timeout=60
                )
                self.send_response(r.status_code)
                for key, value in r.headers.items():
                    if key.lower() not in _HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
