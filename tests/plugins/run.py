#!/usr/bin/env python3
"""Protocol-level tests of the provider plugins (docs/plugin-protocol.md).

    tests/plugins/run.py BUILD/plugins/cairn-provider-process BUILD/tests/plugins/cairn-provider-test

Starts each plugin, speaks the protocol to it directly (no cairn involved) and
checks the answers and their effects: real processes for the process plugin,
the object store, call log and every scenario fault for the test plugin.
Prints TAP ("ok N - name" / "not ok N - name", then "1..N") and exits 1 when
a case failed.  A plugin that prints a sanitizer report or exits badly fails
the case it was started for.

Safety: every process the process plugin starts here carries a stack name
unique to this run (CAIRN_STACK=plugtest-PID-RANDOM).  At the end, pass or
fail, any process still carrying it is killed, by pid, and nothing else.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

PROCESS, TEST = None, None
STACK = "plugtest-%d-%s" % (os.getpid(), uuid.uuid4().hex[:8])
TMP = None
CALL_TIMEOUT = 15.0

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")


class Failure(Exception):
    pass


def check(cond, what, *detail):
    if not cond:
        raise Failure(" ".join([what] + [str(d) for d in detail]))


# ---- talking to a plugin ----------------------------------------------------

class Plugin:
    """One plugin process: requests go out as lines, answers are matched by id."""

    def __init__(self, path, name="plugin"):
        self.path = path
        self.errfile = tempfile.NamedTemporaryFile(
            prefix="stderr-%s-" % name, dir=TMP, delete=False)
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errfile, close_fds=True)
        self.next_id = 0
        self.answers = {}
        self.garbage = []           # stdout lines that are not JSON objects
        self.long_lines = []        # lengths of lines over 4 MiB
        self.cond = threading.Condition()
        self.eof = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                if len(raw) > (4 << 20):
                    self.long_lines.append(len(raw))
                    self.cond.notify_all()
                    continue
                try:
                    msg = json.loads(raw)
                except ValueError:
                    msg = None
                if not isinstance(msg, dict) or not isinstance(msg.get("id"), int):
                    self.garbage.append(raw)
                elif msg["id"] in self.answers:
                    self.garbage.append(raw)        # a second answer
                else:
                    self.answers[msg["id"]] = msg
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def send(self, method, params=None, raw=None):
        rid = self.next_id
        self.next_id += 1
        line = raw if raw is not None else json.dumps(
            {"id": rid, "method": method, "params": params if params is not None else {}})
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return rid

    def wait(self, rid, timeout=CALL_TIMEOUT):
        """The answer to request rid, or None when none came in time."""
        end = time.monotonic() + timeout
        with self.cond:
            while rid not in self.answers:
                left = end - time.monotonic()
                if left <= 0 or self.eof:
                    return None
                self.cond.wait(left)
            return self.answers[rid]

    def call(self, method, params=None, timeout=CALL_TIMEOUT):
        rid = self.send(method, params)
        ans = self.wait(rid, timeout)
        check(ans is not None, "no answer to %s" % method, self.stderr_tail())
        return ans

    def ok(self, method, params=None, timeout=CALL_TIMEOUT):
        ans = self.call(method, params, timeout)
        check("result" in ans, "%s failed:" % method, json.dumps(ans))
        return ans["result"]

    def error(self, method, params=None, code=None, timeout=CALL_TIMEOUT):
        ans = self.call(method, params, timeout)
        check("error" in ans, "%s should fail but answered" % method, json.dumps(ans))
        if code:
            check(ans["error"].get("code") == code, "%s: want code %s, got" % (method, code),
                  json.dumps(ans["error"]))
        return ans["error"]

    def handshake(self, config=None, state_dir=None, stack=STACK, provider="local", type_=None):
        params = {"protocol": 1, "cairn": "0.1.0", "stack": stack, "provider": provider,
                  "type": type_, "config": config or {}, "state_dir": state_dir}
        return self.ok("handshake", params)

    def stderr_text(self):
        with open(self.errfile.name, "r", errors="replace") as f:
            return f.read()

    def stderr_tail(self):
        lines = self.stderr_text().splitlines()[-10:]
        return ("stderr: " + " | ".join(lines)) if lines else ""

    def wait_exit(self, timeout=CALL_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def shutdown(self, status=0):
        """Say goodbye; check the exit status and that no sanitizer complained."""
        rid = self.send("shutdown")
        ans = self.wait(rid)
        check(ans == {"id": rid, "result": {}}, "shutdown answer", ans, self.stderr_tail())
        self.proc.stdin.close()
        rc = self.wait_exit()
        check(rc == status, "exit status %s, want %s" % (rc, status), self.stderr_tail())
        self.check_sanitizers()

    def check_sanitizers(self):
        text = self.stderr_text()
        for mark in SANITIZER_MARKS:
            check(mark not in text, "sanitizer report in the plugin's stderr:", text[-3000:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


# ---- /proc ----------------------------------------------------------------

def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (field 3 first), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def proc_environ(pid):
    """A process's environment as a dict; None when it is gone.

    execve() makes it look empty for a moment (a read racing the switch of
    memory, or the new stack not filled in yet: env_start and env_end, fields
    50 and 51 of stat): read it again then, as the process plugin does."""
    settled = 0
    for _ in range(2000):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                data = f.read()
        except OSError:
            return None
        fields = proc_stat(pid)
        if data or not fields or fields[0] in "ZX" or int(fields[6]) & 0x00200000 \
                or len(fields) < 49:
            break
        start, end = int(fields[47]), int(fields[48])
        if start and end > start:
            continue
        if start:
            settled += 1
            if settled >= 3:
                break
        time.sleep(0.001)
    env = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode(errors="replace")] = v.decode(errors="replace")
    return env


def alive(pid):
    """A live, non-zombie process."""
    fields = proc_stat(pid)
    return bool(fields) and fields[0] not in "ZX"


def procs_of_stack(stack=STACK):
    """Live pids whose environment carries CAIRN_STACK=stack."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        env = proc_environ(pid)
        if env and env.get("CAIRN_STACK") == stack and alive(pid):
            pids.append(pid)
    return pids


def kill_stack_leftovers():
    """SIGKILL every process of this run's stack, by pid; returns the pids.

    Scans until one finds none, since a process may fork while being killed."""
    killed = []
    for _ in range(10):
        pids = procs_of_stack()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        killed += pids
        time.sleep(0.05)
    return killed


def wait_for(pred, timeout=5.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def new_id():
    return str(uuid.uuid4())


# ---- the process plugin ---------------------------------------------------

def node(cid, address, **desired):
    return {"stack": STACK, "cairn_id": cid, "address": address, "kind": "node", "desired": desired}


def ref(cid, address, observed=None):
    return {"stack": STACK, "cairn_id": cid, "address": address, "kind": "node", "observed": observed}


def process_plugin(root=None):
    p = Plugin(PROCESS, "process")
    p.handshake(config={"root": root or os.path.join(TMP, "proc-root")}, type_="process")
    return p


def t_process_handshake():
    p = Plugin(PROCESS, "process")
    try:
        err = p.error("create", node(new_id(), "node.x", command="true"), "invalid")
        check("handshake" in err["message"], "a call before the handshake:", err)
        err = p.error("handshake", {"protocol": 2, "stack": STACK}, "invalid")
        check(err.get("protocols") == [1], "a refused handshake names the protocols spoken:", err)
        res = p.handshake(config={"root": os.path.join(TMP, "proc-root")})
        check(res["protocol"] == 1 and res["name"] == "cairn-provider-process", "handshake", res)
        check(res["types"] == ["process"] and res["kinds"] == ["node"], "types and kinds", res)
        check(res["methods"] == ["create", "read", "delete", "list"], "no update offered:", res)
        p.error("handshake", {"protocol": 1}, "invalid")
        p.error("frobnicate", {}, "unsupported")
        p.error("update", node(new_id(), "node.x", command="true"), "unsupported")
        p.error("create", node(new_id(), "node.x"), "invalid")
        p.error("create", node("not an id!", "node.x", command="true"), "invalid")
        p.error("list", {}, "invalid")
        # Garbage from cairn is ignored, not fatal.
        p.send(None, raw="this is not json")
        p.send(None, raw='{"method": "read"}')
        check(p.ok("list", {"stack": STACK})["objects"] == [], "list of an empty stack")
        p.shutdown()
    finally:
        p.kill()


def t_process_lifecycle():
    root = os.path.join(TMP, "proc-root")
    work = os.path.join(TMP, "work")
    os.makedirs(work, exist_ok=True)
    cid = new_id()
    p = process_plugin(root)
    try:
        obs = p.ok("create", node(cid, "node.web[1]", command="echo started; exec sleep 300",
                                  env={"FOO": "bar baz", "CAIRN_ID": "not this"},
                                  workdir=work, stop_timeout=2000))["observed"]
        pid = obs["pid"]
        check(obs["id"] == str(pid) and obs["state"] == "running", "observed", obs)
        check(obs["started_at"].endswith("Z") and obs["stop_timeout"] == 2000, "observed", obs)
        check(alive(pid), "the process runs")
        env = proc_environ(pid)
        check(env.get("CAIRN_ID") == cid, "CAIRN_ID in its environment:", env.get("CAIRN_ID"))
        check(env.get("CAIRN_STACK") == STACK and env.get("CAIRN_ADDRESS") == "node.web[1]"
              and env.get("CAIRN_PROVIDER") == "local", "the stamps in its environment")
        check(env.get("FOO") == "bar baz", "env FOO:", env.get("FOO"))
        check(os.readlink("/proc/%d/cwd" % pid) == os.path.realpath(work), "workdir")
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        check(int(fields[3]) == pid and int(fields[2]) == pid, "its own session and group", fields[:4])
        check(os.readlink("/proc/%d/fd/0" % pid) == "/dev/null", "stdin from /dev/null")
        log = os.path.join(root, STACK, "node.web[1].log")
        check(obs["log"] == log, "log path", obs["log"])
        check(wait_for(lambda: os.path.exists(log) and "started" in open(log).read()),
              "output in", log)
        check(os.stat(os.path.join(root, STACK)).st_mode & 0o777 == 0o700, "log dir mode 0700")

        again = p.ok("create", node(cid, "node.web[1]", command="exec sleep 300"))["observed"]
        check(again["pid"] == pid, "create is idempotent:", again)

        got = p.ok("read", ref(cid, "node.web[1]"))["observed"]
        check(got == obs, "read without a hint:", got, obs)
        got = p.ok("read", ref(cid, "node.web[1]", obs))["observed"]
        check(got == obs, "read with a hint:", got, obs)

        objs = p.ok("list", {"stack": STACK})["objects"]
        check(objs == [{"cairn_id": cid, "address": "node.web[1]", "kind": "node", "observed": obs}],
              "list:", objs)
        check(p.ok("list", {"stack": STACK + "-other"})["objects"] == [], "list of another stack")

        t0 = time.monotonic()
        check(p.ok("delete", ref(cid, "node.web[1]", obs)) == {}, "delete")
        check(time.monotonic() - t0 < 1.5, "a process that obeys SIGTERM stops at once")
        check(not alive(pid), "the pid is gone after delete")
        p.error("read", ref(cid, "node.web[1]", obs), "notfound")
        check(p.ok("delete", ref(cid, "node.web[1]", obs)) == {}, "delete of an absent node succeeds")
        check(p.ok("list", {"stack": STACK})["objects"] == [], "list after delete")
        p.shutdown()
    finally:
        p.kill()


def t_process_stop_timeout():
    p = process_plugin()
    cid = new_id()
    try:
        # Ignores SIGTERM, and has a child in its group that does too.
        cmd = "trap '' TERM; sh -c 'trap \"\" TERM; exec sleep 300' & while :; do sleep 0.05; done"
        obs = p.ok("create", node(cid, "node.stubborn", command=cmd, stop_timeout=400))["observed"]
        check(wait_for(lambda: len([q for q in procs_of_stack() if (proc_environ(q) or {}).get("CAIRN_ID") == cid]) >= 2),
              "the child started")
        t0 = time.monotonic()
        p.ok("delete", ref(cid, "node.stubborn", {"pid": obs["pid"]}))   # no stop_timeout here
        took = time.monotonic() - t0
        check(0.35 <= took < 5, "SIGKILL after the stamped stop_timeout of 400 ms, took %.2fs" % took)
        left = [q for q in procs_of_stack() if (proc_environ(q) or {}).get("CAIRN_ID") == cid]
        check(not left, "nothing of the node is left:", left)
        p.shutdown()
    finally:
        p.kill()


def t_process_children_and_exit():
    p = process_plugin()
    a, b = new_id(), new_id()
    try:
        obs = p.ok("create", node(a, "node.family", command="sleep 300 & sleep 300 & wait"))["observed"]
        check(wait_for(lambda: len([q for q in procs_of_stack() if (proc_environ(q) or {}).get("CAIRN_ID") == a]) == 3),
              "three processes carry the id")
        objs = p.ok("list", {"stack": STACK})["objects"]
        check(len(objs) == 1 and objs[0]["observed"]["pid"] == obs["pid"],
              "list reports a node once, by its leader:", objs)
        p.ok("delete", ref(a, "node.family", obs))
        left = [q for q in procs_of_stack() if (proc_environ(q) or {}).get("CAIRN_ID") == a]
        check(not left, "delete stops the whole group:", left)

        obs = p.ok("create", node(b, "node.brief", command="sleep 0.2"))["observed"]
        check(wait_for(lambda: not alive(obs["pid"]), 5), "the brief process ends")
        p.error("read", ref(b, "node.brief", obs), "notfound")
        p.ok("delete", ref(b, "node.brief", obs))
        p.shutdown()
    finally:
        p.kill()


def t_process_exec_race():
    # Read right after create, while sh is exec'ing the command: /proc shows an
    # empty environment for a moment then, which must not read as "gone".
    p = process_plugin()
    try:
        for i in range(100):
            cid = new_id()
            obs = p.ok("create", node(cid, "node.e", command="echo hi; exec sleep 300"))["observed"]
            got = p.call("read", ref(cid, "node.e"))
            check("result" in got, "read %d right after create:" % i, got)
            p.ok("delete", ref(cid, "node.e", obs))
        check(not procs_of_stack(), "all deleted")
        p.shutdown()
    finally:
        p.kill()


def t_process_errors():
    p = process_plugin()
    try:
        err = p.error("create", node(new_id(), "node.lost", command="true",
                                     workdir=os.path.join(TMP, "no", "such", "dir")), "permanent")
        check("workdir" in err["message"], "bad workdir:", err)
        p.error("create", node(new_id(), "node.x", command="true", env=["A"]), "invalid")
        p.error("create", node(new_id(), "node.x", command="true", env={"A=B": "c"}), "invalid")
        p.error("create", {"cairn_id": new_id(), "address": "network.n", "kind": "network",
                           "desired": {"command": "true"}}, "invalid")
        check(not procs_of_stack(), "no process started by failed creates")
        p.shutdown()
    finally:
        p.kill()

    # Without a root and without state_dir there is nowhere for the log.
    p = Plugin(PROCESS, "process")
    try:
        p.ok("handshake", {"protocol": 1, "stack": STACK, "provider": "local", "config": {}})
        p.error("create", node(new_id(), "node.x", command="true"), "permanent")
        p.shutdown()
    finally:
        p.kill()


def t_process_restart_and_concurrency():
    root = os.path.join(TMP, "proc-state")
    ids = [new_id() for _ in range(20)]
    p = Plugin(PROCESS, "process")
    try:
        # state_dir is the root when the config names none.
        p.handshake(state_dir=root)
        rids = [p.send("create", node(cid, "node.n[%d]" % i, command="exec sleep 300"))
                for i, cid in enumerate(ids)]
        # The same id twice at once still makes one process.
        dup = p.send("create", node(ids[0], "node.n[0]", command="exec sleep 300"))
        answers = [p.wait(r) for r in rids + [dup]]
        check(all(a and "result" in a for a in answers), "20 concurrent creates:", answers)
        check(answers[0]["result"] == answers[-1]["result"], "a concurrent duplicate create")
        check(os.path.exists(os.path.join(root, STACK, "node.n[3].log")), "log under state_dir")
        # cairn goes away without a word: the plugin leaves, the nodes stay.
        p.proc.stdin.close()
        check(p.wait_exit() == 0, "exit at end of input", p.stderr_tail())
        p.check_sanitizers()
    finally:
        p.kill()
    check(len(procs_of_stack()) == 20, "the nodes outlive the plugin")

    p = Plugin(PROCESS, "process")
    try:
        p.handshake(state_dir=root)
        objs = p.ok("list", {"stack": STACK})["objects"]
        check(sorted(o["cairn_id"] for o in objs) == sorted(ids), "a new plugin lists them all")
        check(p.ok("read", ref(ids[5], "node.n[5]"))["observed"]["state"] == "running",
              "a new plugin reads one")
        # Another provider instance of the stack does not list them.
        q = Plugin(PROCESS, "process")
        try:
            q.handshake(state_dir=root, provider="other")
            check(q.ok("list", {"stack": STACK})["objects"] == [], "list is per provider instance")
            q.shutdown()
        finally:
            q.kill()
        rids = [p.send("delete", ref(cid, "node.n[%d]" % i)) for i, cid in enumerate(ids)]
        answers = [p.wait(r) for r in rids]
        check(all(a and a.get("result") == {} for a in answers), "20 concurrent deletes:", answers)
        check(not procs_of_stack(), "every node stopped:", procs_of_stack())
        p.shutdown()
    finally:
        p.kill()


def t_process_nothing_left():
    left = procs_of_stack()
    check(not left, "processes of stack %s left behind:" % STACK, left)


# ---- the test plugin ------------------------------------------------------

class TestDir:
    """A directory for the test plugin's objects, and its scenario file."""

    def __init__(self, name):
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir, exist_ok=True)
        self.scenario = os.path.join(self.dir, "scenario.json")

    def set(self, scenario):
        tmp = self.scenario + ".tmp"
        with open(tmp, "w") as f:
            json.dump(scenario, f)
        os.rename(tmp, self.scenario)

    def calls(self):
        path = os.path.join(self.dir, "calls.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def start(self, stack=STACK, provider="local"):
        p = Plugin(TEST, "test")
        p.handshake(config={"dir": self.dir, "scenario": self.scenario}, stack=stack,
                    provider=provider, type_="test")
        return p


def obj(cid, address, kind="node", **desired):
    return {"stack": STACK, "cairn_id": cid, "address": address, "kind": kind, "desired": desired,
            "observed": None}


def t_test_basics():
    d = TestDir("basics")
    p = Plugin(TEST, "test")
    try:
        res = p.handshake(config={"dir": d.dir}, type_="test")
        check(res["types"] == ["test"] and res["kinds"] == ["node", "network", "volume"]
              and res["methods"] == ["create", "read", "update", "delete", "list"], "handshake", res)
        a, n, v = new_id(), new_id(), new_id()
        oa = p.ok("create", obj(a, "node.web[1]", cpus=2))["observed"]
        check(oa["state"] == "running" and oa["ip"].startswith("10.") and "mac" in oa, "node", oa)
        on = p.ok("create", obj(n, "network.lan", "network", cidr="10.0.0.0/24"))["observed"]
        check(on["state"] == "active", "network", on)
        ov = p.ok("create", obj(v, "volume.data", "volume", size=10))["observed"]
        check(ov["state"] == "available", "volume", ov)
        check(p.ok("create", obj(a, "node.web[1]", cpus=4))["observed"] == oa, "idempotent create")
        check(p.ok("read", obj(a, "node.web[1]"))["observed"] == oa, "read")
        up = p.ok("update", obj(a, "node.web[1]", cpus=4))["observed"]
        check(up["generation"] == 2 and "updated_at" in up and up["id"] == oa["id"], "update", up)
        check(p.ok("read", obj(a, "node.web[1]"))["observed"] == up, "read after update")
        objs = p.ok("list", {"stack": STACK})["objects"]
        check(sorted((o["cairn_id"], o["address"], o["kind"]) for o in objs) ==
              sorted([(a, "node.web[1]", "node"), (n, "network.lan", "network"),
                      (v, "volume.data", "volume")]), "list", objs)
        check(p.ok("list", {"stack": "elsewhere"})["objects"] == [], "list of another stack")
        q = d.start(provider="other")
        try:
            check(q.ok("list", {"stack": STACK})["objects"] == [], "list is per provider instance")
            check(q.ok("read", obj(a, "node.web[1]"))["observed"] == up, "read is by cairn id alone")
            q.shutdown()
        finally:
            q.kill()
        check(p.ok("delete", obj(n, "network.lan", "network")) == {}, "delete")
        check(p.ok("delete", obj(n, "network.lan", "network")) == {}, "delete of an absent object")
        p.error("read", obj(n, "network.lan", "network"), "notfound")
        p.error("update", obj(n, "network.lan", "network"), "notfound")
        p.error("create", obj(new_id(), "pool.p", "pool"), "invalid")
        p.shutdown()
    finally:
        p.kill()
    calls = d.calls()
    methods = [c["method"] for c in calls]
    check(methods[0] == "handshake" and methods.count("handshake") == 2
          and methods.count("create") == 5 and methods.count("read") == 4
          and methods.count("delete") == 2 and methods.count("list") == 3, "calls.log:", methods)
    c = [c for c in calls if c["method"] == "update"][0]
    check(c["cairn_id"] == a and c["address"] == "node.web[1]" and c["time"].endswith("Z")
          and c["pid"] > 0, "a call record:", c)


def t_test_persistence():
    d = TestDir("persist")
    ids = [new_id() for _ in range(50)]
    p = d.start()
    try:
        rids = [p.send("create", obj(cid, "node.n[%d]" % i)) for i, cid in enumerate(ids)]
        check(all(p.wait(r) for r in rids), "creates answered")
    finally:
        p.kill()        # SIGKILL: no goodbye
    p = d.start()
    try:
        objs = p.ok("list", {"stack": STACK})["objects"]
        check(sorted(o["cairn_id"] for o in objs) == sorted(ids), "objects survive a SIGKILL")
        dump = subprocess.run([TEST, "--objects", d.dir], stdout=subprocess.PIPE, check=True)
        recs = [json.loads(line) for line in dump.stdout.decode().splitlines()]
        check(sorted(r["cairn_id"] for r in recs) == sorted(ids) and
              all(r["stack"] == STACK and r["provider"] == "local" and r["kind"] == "node"
                  for r in recs), "--objects prints the records")
        for cid in ids[:25]:
            p.ok("delete", obj(cid, "x"))
        p.shutdown()
    finally:
        p.kill()
    # Two plugin processes on one directory at once.
    p, q = d.start(), d.start()
    try:
        more = [new_id() for _ in range(200)]
        rp = [p.send("create", obj(cid, "node.p")) for cid in more[:100]]
        rq = [q.send("create", obj(cid, "node.q")) for cid in more[100:]]
        check(all(p.wait(r) for r in rp) and all(q.wait(r) for r in rq), "creates from two plugins")
        lp = p.ok("list", {"stack": STACK})["objects"]
        lq = q.ok("list", {"stack": STACK})["objects"]
        want = sorted(ids[25:] + more)
        check(sorted(o["cairn_id"] for o in lp) == want, "plugin 1 sees plugin 2's objects")
        check(sorted(o["cairn_id"] for o in lq) == want, "plugin 2 sees plugin 1's objects")
        p.shutdown()
        q.shutdown()
    finally:
        p.kill()
        q.kill()


def t_test_compaction():
    d = TestDir("compact")
    n = 3000
    ids = [new_id() for _ in range(n)]
    p = d.start()
    try:
        rids = [p.send("create", obj(cid, "node.n[%d]" % i, payload="x" * 300))
                for i, cid in enumerate(ids)]
        check(all(p.wait(r) for r in rids), "%d creates" % n)
        rids = [p.send("delete", obj(cid, "x")) for cid in ids[: n // 2]]
        check(all(p.wait(r) for r in rids), "deletes")
        p.shutdown()
    finally:
        p.kill()
    check(os.path.getsize(os.path.join(d.dir, "objects.json")) > 0, "a snapshot was written")
    check(os.path.getsize(os.path.join(d.dir, "objects.journal")) < 3 << 20,
          "the journal was folded into the snapshot")
    p = d.start()
    try:
        objs = p.ok("list", {"stack": STACK})["objects"]
        check(sorted(o["cairn_id"] for o in objs) == sorted(ids[n // 2:]),
              "snapshot plus journal give the objects: %d" % len(objs))
        p.shutdown()
    finally:
        p.kill()


def t_test_errors():
    d = TestDir("errors")
    # A retryable error, twice, then success; the object is not made by failed calls.
    d.set({"faults": [{"method": "create", "kind": "retryable", "times": 2}]})
    p = d.start()
    a = new_id()
    try:
        e = p.error("create", obj(a, "node.a"), "retryable")
        check("injected" in e["message"], "message of an injected fault:", e)
        p.error("read", obj(a, "node.a"), "notfound")
        p.error("create", obj(a, "node.a"), "retryable")
        p.ok("create", obj(a, "node.a"))
        p.ok("create", obj(new_id(), "node.b"))
        # Permanent, on a glob of addresses.
        d.set({"faults": [{"method": "create", "match": "node.web*", "kind": "permanent"}]})
        p.error("create", obj(new_id(), "node.web[1]"), "permanent")
        p.ok("create", obj(new_id(), "node.db"))
        p.ok("read", obj(a, "node.a"))
        # After the work: the call fails but the object exists.
        b = new_id()
        d.set({"faults": [{"method": "delete", "kind": "retryable", "after": True}]})
        p.error("delete", obj(a, "node.a"), "retryable")
        d.set({"faults": [{"method": "create", "kind": "retryable", "after": True}]})
        p.error("create", obj(b, "node.b"), "retryable")
        d.set({})
        p.error("read", obj(a, "node.a"), "notfound")
        p.ok("read", obj(b, "node.b"))
        # A scenario that does not parse fails every call, saying why.
        with open(d.scenario, "w") as f:
            f.write("{nope")
        e = p.error("read", obj(b, "node.b"), "permanent")
        check("scenario" in e["message"], "a broken scenario:", e)
        d.set({"faults": [{"kind": "explode"}]})
        e = p.error("read", obj(b, "node.b"), "permanent")
        check("explode" in e["message"], "an unknown fault kind:", e)
        os.unlink(d.scenario)
        p.ok("read", obj(b, "node.b"))
        p.shutdown()
    finally:
        p.kill()
    faults = [c.get("fault") for c in d.calls() if c["method"] == "create"]
    check(faults[:3] == ["retryable", "retryable", None], "faults in calls.log:", faults)


def t_test_hang():
    d = TestDir("hang")
    d.set({"faults": [{"method": "read", "match": "node.slow", "kind": "hang"}]})
    p = d.start()
    try:
        a = new_id()
        p.ok("create", obj(a, "node.slow"))
        rid = p.send("read", obj(a, "node.slow"))
        check(p.wait(rid, 1.0) is None, "a hung call does not answer")
        p.error("read", obj(new_id(), "node.fast"), "notfound")   # others still answered
        p.shutdown()        # the hang gives up when cairn says goodbye
        check(p.wait(rid, 0) is None, "still no answer to the hung call")
    finally:
        p.kill()


def t_test_crash():
    d = TestDir("crash")
    a, b = new_id(), new_id()
    d.set({"faults": [{"method": "create", "match": "node.a", "kind": "crash"},
                      {"method": "create", "match": "node.b", "kind": "crash", "after": True}]})
    p = d.start()
    try:
        rid = p.send("create", obj(a, "node.a"))
        check(p.wait_exit() == 3, "crash exits with status 3")
        check(p.wait(rid, 0) is None, "no answer from a crash")
    finally:
        p.kill()
    p = d.start()
    try:
        p.send("create", obj(b, "node.b"))
        check(p.wait_exit() == 3, "crash after the work exits with status 3")
    finally:
        p.kill()
    d.set({})
    p = d.start()
    try:
        p.error("read", obj(a, "node.a"), "notfound")     # crashed before the work
        p.ok("read", obj(b, "node.b"))                      # crashed after it
        p.shutdown()
    finally:
        p.kill()
    # "times" counts across plugin processes: one crash, then the call goes through.
    d.set({"faults": [{"method": "create", "kind": "crash", "times": 1}]})
    p = d.start()
    try:
        p.send("create", obj(a, "node.a"))
        check(p.wait_exit() == 3, "the first create crashes")
    finally:
        p.kill()
    p = d.start()
    try:
        p.ok("create", obj(a, "node.a"))
        p.shutdown()
    finally:
        p.kill()


def t_test_lost_garbage_oversized():
    d = TestDir("lost")
    a, b, c = new_id(), new_id(), new_id()
    d.set({"faults": [{"method": "create", "match": "node.lost", "kind": "lost"},
                      {"method": "read", "match": "node.garbage", "kind": "garbage"},
                      {"method": "read", "match": "node.big", "kind": "oversized"}]})
    p = d.start()
    try:
        rid = p.send("create", obj(a, "node.lost"))
        check(p.wait(rid, 1.0) is None, "a lost answer never comes")
        p.ok("read", obj(a, "node.other"))      # but the work was done
        p.ok("create", obj(b, "node.garbage"))
        rid = p.send("read", obj(b, "node.garbage"))
        check(wait_for(lambda: p.garbage, 5), "a garbage line")
        check(p.wait(rid, 0.2) is None and b"not JSON" in p.garbage[0], "garbage:", p.garbage)
        p.ok("create", obj(c, "node.big"))
        rid = p.send("read", obj(c, "node.big"))
        check(wait_for(lambda: p.long_lines, 10), "an oversized line")
        check(p.long_lines[0] > 4 << 20, "its length:", p.long_lines)
        check(p.wait(rid, 0.2) is None, "no other answer")
        p.shutdown()
    finally:
        p.kill()


def t_test_handshake_faults():
    d = TestDir("hs")
    d.set({"protocols": [2]})
    p = Plugin(TEST, "test")
    try:
        err = p.error("handshake", {"protocol": 1, "stack": STACK, "provider": "local",
                                    "config": {"dir": d.dir, "scenario": d.scenario}}, "invalid")
        check(err.get("protocols") == [2] and "protocol 2" in err["message"],
              "a plugin speaking only protocol 2:", err)
        p.error("list", {"stack": STACK}, "invalid")
        d.set({})
        p.handshake(config={"dir": d.dir, "scenario": d.scenario})     # a second chance
        p.shutdown()
    finally:
        p.kill()
    d.set({"faults": [{"method": "handshake", "kind": "crash"}]})
    p = Plugin(TEST, "test")
    try:
        p.send("handshake", {"protocol": 1, "stack": STACK, "config": {"dir": d.dir, "scenario": d.scenario}})
        check(p.wait_exit() == 3, "a crash in the handshake")
    finally:
        p.kill()
    d.set({"faults": [{"kind": "crash"}]})       # "*" leaves the handshake alone
    p = d.start()
    p.kill()


def t_test_probability():
    def run(name):
        d = TestDir(name)
        d.set({"seed": 42, "faults": [{"method": "create", "kind": "retryable", "probability": 0.2}]})
        p = d.start()
        try:
            ids = ["00000000-0000-0000-0000-%012d" % i for i in range(300)]
            rids = [p.send("create", obj(cid, "node.n")) for cid in ids]
            answers = [p.wait(r) for r in rids]
            p.shutdown()
        finally:
            p.kill()
        return [cid for cid, a in zip(ids, answers) if "error" in a]
    first, second = run("prob1"), run("prob2")
    check(30 <= len(first) <= 90, "about 20%% of 300 fail: %d" % len(first))
    check(first == second, "the same seed fails the same calls")


def t_test_latency_concurrency():
    d = TestDir("latency")
    d.set({"latency_ms": 200})
    p = d.start()
    try:
        t0 = time.monotonic()
        rids = [p.send("create", obj(new_id(), "node.n[%d]" % i)) for i in range(20)]
        answers = [p.wait(r) for r in rids]
        took = time.monotonic() - t0
        check(all(a and "result" in a for a in answers), "20 creates")
        check(0.2 <= took < 1.5, "20 calls of 200 ms at once took %.2fs (serial: 4s)" % took)
        p.shutdown()
    finally:
        p.kill()


CASES = [
    ("process: handshake, refusals and bad requests", t_process_handshake),
    ("process: create, read, list, delete a real process", t_process_lifecycle),
    ("process: SIGKILL after stop_timeout", t_process_stop_timeout),
    ("process: children die with the node; an exited node is notfound", t_process_children_and_exit),
    ("process: a node exec'ing is not taken for gone", t_process_exec_race),
    ("process: errors", t_process_errors),
    ("process: nodes outlive the plugin; concurrent calls", t_process_restart_and_concurrency),
    ("process: no process left behind", t_process_nothing_left),
    ("test: objects, idempotence, call log", t_test_basics),
    ("test: persistence across restarts and processes", t_test_persistence),
    ("test: snapshot and journal", t_test_compaction),
    ("test: retryable, permanent, after, scenario changes", t_test_errors),
    ("test: hang", t_test_hang),
    ("test: crash, before and after; times across restarts", t_test_crash),
    ("test: lost, garbage, oversized", t_test_lost_garbage_oversized),
    ("test: handshake faults", t_test_handshake_faults),
    ("test: seeded probability", t_test_probability),
    ("test: latency, concurrently", t_test_latency_concurrency),
]


def main():
    global PROCESS, TEST, TMP
    if len(sys.argv) != 3:
        print("Bail out! usage: run.py PROCESS-PLUGIN TEST-PLUGIN")
        return 1
    PROCESS, TEST = (os.path.abspath(a) for a in sys.argv[1:])
    TMP = tempfile.mkdtemp(prefix="cairn-plugins-test.")
    # meson's timeout sends SIGTERM: clean up then too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    only = os.environ.get("CAIRN_TEST_ONLY")
    failed = n = 0
    try:
        for name, fn in CASES:
            if only and only not in name:
                continue
            n += 1
            try:
                fn()
                print("ok %d - %s" % (n, name), flush=True)
            except Exception as e:     # a failure or a bug in the case: report, go on
                failed += 1
                print("not ok %d - %s" % (n, name), flush=True)
                text = str(e) if isinstance(e, Failure) else traceback.format_exc()
                for line in text.splitlines():
                    print("#   " + line, flush=True)
    finally:
        left = kill_stack_leftovers()
        if left:
            print("# killed leftover processes of stack %s: %s" % (STACK, left))
        shutil.rmtree(TMP, ignore_errors=True)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
