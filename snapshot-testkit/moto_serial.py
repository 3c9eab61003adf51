"""moto's S3 server handling one request at a time: `python moto_serial.py HOST PORT`.

moto 5.2.5 checks `If-None-Match: *` and then stores the object as two steps, and its
own server (`moto_server`) runs every request on a thread of its own, so two racing
conditional PUTs of one key can both succeed. Served one request at a time, the check
and the write are atomic, as on the servers moto imitates; the tests of racing writers
then test this project's client, not moto's threading.
"""

import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(
        host,
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )
