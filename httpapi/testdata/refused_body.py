# A client that sends a request's whole body before it reads the answer,
# as Python's http.client does: it gives up on a failed write, answer or
# not. Its body comes in parts (chunked): the first at once, the rest once
# the server's answer has arrived — a client still sending when it is
# refused. Prints the status of the answer; exits 1 when it got none.
#
# usage: refused_body.py URL TOKEN BYTES
import http.client
import select
import sys
import urllib.parse

url, token, size = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def body():
    yield b"{"
    # The answer is readable: the server has refused the request.
    select.select([conn.sock], [], [], 10)
    for _ in range(size // 4096):
        yield b" " * 4096


try:
    conn.request("POST", url.path, body=body(), encode_chunked=True,
                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
except OSError as err:
    print("no answer:", repr(err))
    sys.exit(1)
print(resp.status)
