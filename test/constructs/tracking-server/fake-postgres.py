"""
A fake PostgreSQL server for one connection: it declines SSL, asks for a cleartext password, and
prints (as JSON) the user, database and password the client sent, then exits. It proves which
credentials libpq really puts on the wire, without a database. Prints its port first.
"""

import json
import socket
import struct

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
srv.settimeout(60)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.settimeout(30)


def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise SystemExit("client closed the connection")
        data += chunk
    return data


def startup_packet():
    (length,) = struct.unpack("!I", recv_exact(4))
    return recv_exact(length - 4)


body = startup_packet()
if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest: decline, the client retries in clear
    conn.sendall(b"N")
    body = startup_packet()
fields = body[4:].split(b"\0")
params = dict(zip(fields[0::2], fields[1::2], strict=False))  # the packet ends in an empty name
conn.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
kind = recv_exact(1)
(length,) = struct.unpack("!I", recv_exact(4))
password = recv_exact(length - 4).rstrip(b"\0")
print(
    json.dumps(
        {
            "message": kind.decode(),
            "user": params.get(b"user", b"").decode(),
            "database": params.get(b"database", b"").decode(),
            "password": password.decode(),
        }
    ),
    flush=True,
)
conn.close()
