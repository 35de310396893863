"""A Python program as a wasi:cli/command component (componentize-py): arguments, the
environment, a directory granted as /data, JSON, and an exception caught."""

import json
import os
import sys


class Run:
    def run(self) -> None:
        print("hello from python")
        print("args:", sys.argv[1:])
        print("env:", sorted(os.environ.items()))
        data = "/data"
        if os.path.isdir(data):
            path = os.path.join(data, "from-python.txt")
            with open(path, "w") as f:
                f.write("written by python\n")
            with open(path) as f:
                print("read back:", f.read().strip())
            print("listing:", sorted(os.listdir(data)))
            try:
                open(os.path.join(data, "missing.txt"))
            except FileNotFoundError as e:
                print("missing file:", type(e).__name__)
        print(json.dumps({"sum": sum(range(1000)), "squares": [i * i for i in range(6)]}))
        try:
            1 / 0
        except ZeroDivisionError as e:
            print("caught:", e)
        print("to stderr", file=sys.stderr)
