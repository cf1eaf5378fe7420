"""The server side of cairn's plugin protocol (docs/plugin-protocol.md), for
the fake plugins of tests/unit/test-provider.c.  Each cairn-provider-fake-*
script here is a small variation on the well-behaved in-memory plugin that
serve() runs by default: it passes its own handlers, or answers the
handshake its own way."""

import json
import os
import sys
import threading

_out_lock = threading.Lock()


class PluginError(Exception):
    def __init__(self, code, message, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def write_line(text):
    """One line to cairn, whole, as it is."""
    data = (text + "\n").encode()
    with _out_lock:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


def send(obj):
    write_line(json.dumps(obj, separators=(",", ":")))


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Memory:
    """Objects by cairn id: what a real provider would keep in the world."""

    def __init__(self):
        self.lock = threading.Lock()
        self.objects = {}
        self.serial = 0

    def create(self, p):
        with self.lock:
            o = self.objects.get(p["cairn_id"])
            if o is None:
                self.serial += 1
                o = {"stack": p["stack"], "address": p["address"], "kind": p["kind"],
                     "observed": {"id": "mem-%d" % self.serial, "state": "running",
                                  "desired": p["desired"]}}
                self.objects[p["cairn_id"]] = o
            return {"observed": o["observed"]}

    def read(self, p):
        with self.lock:
            o = self.objects.get(p["cairn_id"])
            if o is None:
                raise PluginError("notfound", "no object with cairn id '%s'" % p["cairn_id"])
            return {"observed": o["observed"]}

    def update(self, p):
        with self.lock:
            o = self.objects.get(p["cairn_id"])
            if o is None:
                raise PluginError("notfound", "no object with cairn id '%s'" % p["cairn_id"])
            o["observed"] = dict(o["observed"], desired=p["desired"], updated=True)
            return {"observed": o["observed"]}

    def delete(self, p):
        with self.lock:
            if self.objects.pop(p["cairn_id"], None) is None:
                raise PluginError("notfound", "no object with cairn id '%s'" % p["cairn_id"])
            return {}

    def list(self, p):
        with self.lock:
            return {"objects": [{"cairn_id": cid, "address": o["address"], "kind": o["kind"],
                                 "observed": o["observed"]}
                                for cid, o in sorted(self.objects.items())
                                if o["stack"] == p["stack"]]}

    def handlers(self):
        return {"create": self.create, "read": self.read, "update": self.update,
                "delete": self.delete, "list": self.list}


def answer(rid, fn, params):
    try:
        result = fn(params)
    except PluginError as e:
        err = {"code": e.code, "message": e.message}
        err.update(e.extra)
        send({"id": rid, "error": err})
        return
    if result is not None:      # None: the handler answered itself, or not at all
        send({"id": rid, "result": result})


def serve(handlers=None, name=None, methods=None, handshake=None, threaded=False):
    """Read requests until shutdown or end of input.  handshake(params) may
    replace the handshake's answer (return a result, or raise PluginError)."""
    if handlers is None:
        handlers = Memory().handlers()
    name = name or os.path.basename(sys.argv[0])
    workers = []
    for raw in sys.stdin.buffer:
        req = json.loads(raw)
        rid, method, params = req["id"], req["method"], req.get("params", {})
        if method == "handshake":
            def hello(p):
                if handshake:
                    return handshake(p)
                res = {"protocol": 1, "name": name, "version": "0.0.1",
                       "types": [p["type"]], "kinds": ["node"]}
                if methods is not None:
                    res["methods"] = methods
                return res
            answer(rid, hello, params)
        elif method == "shutdown":
            for t in workers:
                t.join()
            send({"id": rid, "result": {}})
            return
        elif method not in handlers:
            send({"id": rid, "error": {"code": "unsupported",
                                       "message": "method '%s' is not offered" % method}})
        elif threaded:
            t = threading.Thread(target=answer, args=(rid, handlers[method], params))
            t.start()
            workers.append(t)
        else:
            answer(rid, handlers[method], params)
