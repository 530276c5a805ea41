"""Serve an AAS JSON file with basyx-python-sdk 1.2.1's reference HTTP server (WSGIApp on werkzeug).

Runs in its own virtual environment, because basyx 1.2.1 and werk's basyx 2.x cannot share one
(the 2.x wheels no longer ship the HTTP adapter)::

    python -m venv /tmp/basyx121
    /tmp/basyx121/bin/pip install basyx-python-sdk==1.2.1 werkzeug
    /tmp/basyx121/bin/python benchmarks/basyx_reference_server.py ENV.json --port 8081

The API is served under /api/v3.0 on 127.0.0.1 by one process. werkzeug serves one request at a
time unless ``--threaded`` is given; on the 2-CPU benchmark machine one at a time was the faster
of the two (about 1,080 against 770 submodel GETs/s), so it is the default. It prints ``ready``
once it listens.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environment", help="an AAS environment as JSON (werk's plant export)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threaded", action="store_true", help="a thread per connection")
    args = parser.parse_args()

    from basyx.aas.adapter import aasx
    from basyx.aas.adapter.http import WSGIApp
    from basyx.aas.adapter.json import read_aas_json_file
    from werkzeug.serving import make_server

    # werkzeug logs every request to stderr; that would slow the reference down, not measure it.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with open(args.environment, encoding="utf-8") as file:
        store = read_aas_json_file(file, failsafe=False)
    app = WSGIApp(store, aasx.DictSupplementaryFileContainer())
    server = make_server(args.host, args.port, app, threaded=args.threaded)
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
