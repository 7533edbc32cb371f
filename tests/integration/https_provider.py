#!/usr/bin/env python3
"""An HTTPS server on 127.0.0.1 answering like ElectricityMaps, for test_https_client.c.

  https_provider.py DIR

Makes a self-signed certificate for IP 127.0.0.1 with openssl (DIR/cert.pem, the CA the client is
given through SSL_CERT_FILE; DIR/key.pem), serves HTTPS on a free port and the same routes over
plain HTTP on another, prints "HTTPS_PORT HTTP_PORT" on stdout and runs until its stdin closes.
Standard library only. Routes:

  GET  /v3/carbon-intensity/latest   {"carbonIntensity": 321.5, ...}
  GET  /v3/carbon-intensity/history  24 hourly values: intensity_of(hour) below
       auth-token "bad" gets 401 as the real API does
  POST /echo                         201, the body back, the request's X-Test header as X-Echo
  GET  /slow                         answers after 3 s
"""

import json
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def intensity_of(hour_start: int) -> float:
    """The fake grid's intensity of the hour starting at hour_start (Unix s); the C test knows it."""
    return 200.0 + 5.0 * ((hour_start // 3600) % 24)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # the head and the body are two writes: no 40 ms ACK wait

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, data: bytes, headers: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/slow":
            time.sleep(3)
            return self._send(200, b"{}")
        if self.headers.get("auth-token") == "bad":
            return self._send(401, b'{"error": "Invalid auth-token"}')
        if url.path == "/v3/carbon-intensity/latest":
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            body = {"zone": "DE", "carbonIntensity": 321.5, "datetime": now, "isEstimated": False}
            return self._send(200, json.dumps(body).encode())
        if url.path == "/v3/carbon-intensity/history":
            top = int(time.time()) // 3600 * 3600
            history = [{"zone": "DE", "carbonIntensity": intensity_of(t), "isEstimated": False,
                        "datetime": datetime.fromtimestamp(t, timezone.utc).strftime(
                            "%Y-%m-%dT%H:%M:%S.000Z")}
                       for t in range(top - 23 * 3600, top + 3600, 3600)]
            return self._send(200, json.dumps({"zone": "DE", "history": history}).encode())
        self._send(404, b'{"error": "no route"}')

    def do_POST(self) -> None:  # noqa: N802
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/echo":
            return self._send(404, b"{}")
        self._send(201, data, {"X-Echo": self.headers.get("X-Test", "")})


def server_context(folder: str) -> ssl.SSLContext:
    """Makes a self-signed certificate for IP 127.0.0.1 in folder (cert.pem, the CA a client is
    given; key.pem) and returns a server context with it (test_carbon.py uses it too)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=zeus-test", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", f"{folder}/key.pem", "-out", f"{folder}/cert.pem"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(f"{folder}/cert.pem", f"{folder}/key.pem")
    return context


def main() -> None:
    folder = sys.argv[1]
    context = server_context(folder)
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(2)]
    servers[0].socket = context.wrap_socket(servers[0].socket, server_side=True)
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(*(server.server_address[1] for server in servers), flush=True)
    sys.stdin.read()  # until the test closes the pipe (or ends)
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
