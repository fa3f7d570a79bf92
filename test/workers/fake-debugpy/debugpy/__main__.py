"""A stand-in for `python -m debugpy --listen HOST:PORT [--wait-for-client] FILE`, for the tests.

It listens on the address as debugpy does, says so on stderr with its arguments, waits for one
connection with --wait-for-client, then runs FILE as __main__, as debugpy runs its target.
"""
import json
import runpy
import socket
import sys

args = sys.argv[1:]
listen = args[args.index("--listen") + 1]
wait = "--wait-for-client" in args
target = args[-1]
host, port = listen.rsplit(":", 1)
server = socket.create_server((host, int(port)))
print("fake debugpy listening on %s %s" % (listen, json.dumps(args)), file=sys.stderr, flush=True)
if wait:
    client, _ = server.accept()
    print("fake debugpy: client attached", file=sys.stderr, flush=True)
sys.argv = [target]
runpy.run_path(target, run_name="__main__")
