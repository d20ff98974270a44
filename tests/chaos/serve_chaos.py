#!/usr/bin/env python3
"""Chaos: `banshi serve` under HTTP load, killed with SIGKILL at random moments.

A workload of four clients starts instances (each with its own business key),
claims and completes their review tasks and publishes the message each
instance then waits for, while the server is killed with SIGKILL at a random
moment and restarted, again and again. Afterwards the load drains (every
remaining task completed, every message published) and the invariants are
checked:

- every start the server acknowledged (201) is present exactly once; no
  business key, acknowledged or not, is present twice;
- every completion the server acknowledged took effect: the instance passed
  the review task exactly once;
- every message the server acknowledged as correlated was caught exactly once;
- every instance reaches its end.

Usage: serve_chaos.py BANSHI [--kills N] [--seed S]
Prints the kills survived, the requests made and acknowledged, the invariants
checked and the count of anything lost or duplicated (which must be 0).
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bs="urn:banshi:bpmn:1" id="chaos-defs" targetNamespace="urn:banshi:test">
  <bpmn:message id="go" name="chaos-go"/>
  <bpmn:process id="chaos" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review" name="Review" bs:candidateGroups="qa-team"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait" bs:correlationKey="=key">
      <bpmn:messageEventDefinition messageRef="go"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="done"/>
    <bpmn:endEvent id="done"/>
  </bpmn:process>
</bpmn:definitions>
"""


class Server:
    def __init__(self, banshi, data):
        self.banshi, self.data, self.proc, self.port = banshi, data, None, None
        self.log = os.path.join(data, "serve.log")

    def start(self):
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([self.banshi, "serve", "--data", self.data, "--listen", "127.0.0.1:0"],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(self.log) as f:
                m = re.search(r"listening on https?://[0-9.]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit("FAIL: the server did not start:\n" + open(self.log).read())

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout=60) != 0:
            raise SystemExit("FAIL: the server did not stop cleanly")


class Client:
    def __init__(self, server, cookie=None, csrf=None):
        self.server, self.cookie, self.csrf = server, cookie, csrf

    def call(self, method, path, body=None, timeout=10):
        """(status, parsed JSON or None); status 0 when the connection failed."""
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
            headers = {"Content-Type": "application/json"}
            if self.cookie:
                headers["Cookie"] = self.cookie
            if self.csrf and method != "GET":
                headers["X-CSRF-Token"] = self.csrf
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            cookie = r.getheader("Set-Cookie")
            conn.close()
            if cookie and not self.cookie:
                self.cookie = cookie.split(";", 1)[0]
            try:
                return r.status, json.loads(data) if data else None
            except ValueError:
                return r.status, None
        except (OSError, http.client.HTTPException):
            return 0, None


class Ledger:
    """What the clients sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys_sent = set()
        self.keys_acked = {}        # business key -> instance id
        self.completions_acked = set()  # instance ids whose review completion was acknowledged
        self.messages_acked = set()     # business keys whose message was acknowledged as correlated
        self.requests = 0
        self.acked = 0


def workload(client, ledger, rng, stop, worker):
    n = 0
    while not stop.is_set():
        action = rng.random()
        with ledger.lock:
            ledger.requests += 1
        if action < 0.4:
            n += 1
            key = f"w{worker}-{n}-{rng.randrange(1 << 30)}"
            with ledger.lock:
                ledger.keys_sent.add(key)
            status, body = client.call("POST", "/api/v1/instances",
                                       {"processId": "chaos", "businessKey": key, "variables": {"key": key}})
            if status == 201:
                with ledger.lock:
                    ledger.keys_acked[key] = body["id"]
                    ledger.acked += 1
        elif action < 0.75:
            status, body = client.call("GET", "/api/v1/tasks?processId=chaos&limit=20")
            if status != 200:
                continue
            items = body.get("items", [])
            if not items:
                continue
            task = rng.choice(items)
            tid, iid = task["id"], task["instanceId"]
            if rng.random() < 0.5:
                client.call("POST", f"/api/v1/tasks/{tid}/claim", {})
            status, _ = client.call("POST", f"/api/v1/tasks/{tid}/complete", {"variables": {"ok": True}})
            if status in (200, 204):
                with ledger.lock:
                    ledger.completions_acked.add(iid)
                    ledger.acked += 1
        else:
            with ledger.lock:
                waiting = [k for k, i in ledger.keys_acked.items() if i in ledger.completions_acked
                           and k not in ledger.messages_acked]
            if not waiting:
                continue
            key = rng.choice(waiting)
            status, body = client.call("POST", "/api/v1/messages",
                                       {"name": "chaos-go", "correlationKey": key, "messageId": "go-" + key})
            if status == 200 and body and body.get("correlated"):
                with ledger.lock:
                    ledger.messages_acked.add(key)
                    ledger.acked += 1


def setup_users(banshi, data):
    out = subprocess.run([banshi, "user", "add", "chaos", "--role", "supervisor", "--role", "designer",
                          "--department", "qa", "--region", "000000", "--data", data],
                         capture_output=True, text=True, check=True).stdout
    return re.search(r"password: (\S+)", out).group(1)


def login(server, password):
    c = Client(server)
    status, body = c.call("POST", "/api/v1/auth/login", {"username": "chaos", "password": password})
    if status != 200:
        raise SystemExit(f"FAIL: login answered {status}")
    c.csrf = body.get("csrfToken")
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("banshi")
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    data = tempfile.mkdtemp(prefix="banshi-chaos-")
    try:
        password = setup_users(args.banshi, data)
        server = Server(args.banshi, data)
        server.start()
        admin = login(server, password)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/api/v1/definitions?resource=chaos.bpmn", body=MODEL.encode(),
                     headers={"Content-Type": "application/xml", "Cookie": admin.cookie, "X-CSRF-Token": admin.csrf})
        r = conn.getresponse()
        deployed = r.read()
        if r.status not in (200, 201):
            raise SystemExit(f"FAIL: deploy answered {r.status}: {deployed[:500]!r}")

        ledger = Ledger()
        kills = 0
        for k in range(args.kills):
            stop = threading.Event()
            clients = [Client(server, admin.cookie, admin.csrf) for _ in range(4)]
            threads = [threading.Thread(target=workload, args=(c, ledger, random.Random(rng.random()), stop, f"{k}.{i}"))
                       for i, c in enumerate(clients)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.2, 1.2))
            server.kill()  # mid-request, at a random moment
            kills += 1
            stop.set()
            for t in threads:
                t.join()
            server.start()

        # Drain: complete what is open, publish every message, until all ended.
        deadline = time.time() + 300
        while True:
            status, body = admin.call("GET", "/api/v1/tasks?processId=chaos&limit=200")
            tasks = body.get("items", []) if status == 200 else []
            for t in tasks:
                admin.call("POST", f"/api/v1/tasks/{t['id']}/complete", {"variables": {"ok": True}})
            status, body = admin.call("GET", "/api/v1/instances?processId=chaos&status=active&limit=500")
            active = body.get("items", []) if status == 200 else []
            for i in active:
                admin.call("POST", "/api/v1/messages",
                           {"name": "chaos-go", "correlationKey": i["businessKey"], "messageId": "go-" + i["businessKey"]})
            if status == 200 and not active and not tasks:
                break
            if time.time() > deadline:
                raise SystemExit(f"FAIL: {len(active)} instances did not reach their end")
            time.sleep(0.1)

        # Invariants.
        instances = []
        offset = 0
        while True:
            status, body = admin.call("GET", f"/api/v1/instances?processId=chaos&limit=500&offset={offset}")
            if status != 200:
                raise SystemExit(f"FAIL: listing instances answered {status}")
            instances += body["items"]
            if len(body["items"]) < 500:
                break
            offset += 500
        lost = duplicated = 0
        by_key = {}
        for i in instances:
            by_key.setdefault(i["businessKey"], []).append(i)
        for key, found in by_key.items():
            if len(found) > 1:
                duplicated += 1
                print(f"duplicated: business key {key} has {len(found)} instances", file=sys.stderr)
        for key in ledger.keys_acked:
            if key not in by_key:
                lost += 1
                print(f"lost: the acknowledged start {key} has no instance", file=sys.stderr)
        unknown = [k for k in by_key if k not in ledger.keys_sent]
        not_ended = [i for i in instances if i["status"] != "completed"]
        passes_checked = 0
        for i in instances:
            status, body = admin.call("GET", f"/api/v1/instances/{i['id']}/history")
            if status != 200:
                raise SystemExit(f"FAIL: history of {i['id']} answered {status}")
            completed = {}
            for h in body["items"]:
                for r in h["records"] if isinstance(h["records"], list) else []:
                    if r.get("k") == 4 and r.get("el") in ("review", "wait"):
                        completed[r["el"]] = completed.get(r["el"], 0) + 1
            for el in ("review", "wait"):
                passes_checked += 1
                if completed.get(el, 0) != 1:
                    duplicated += completed.get(el, 0) > 1
                    lost += completed.get(el, 0) == 0
                    print(f"instance {i['id']}: '{el}' completed {completed.get(el, 0)} times", file=sys.stderr)
        for iid in ledger.completions_acked:
            if iid not in {i["id"] for i in instances}:
                lost += 1
        server.stop()

        print(f"chaos: {kills} SIGKILLs survived; {ledger.requests} requests, {ledger.acked} acknowledged "
              f"({len(ledger.keys_acked)} starts, {len(ledger.completions_acked)} completions, "
              f"{len(ledger.messages_acked)} messages); {len(instances)} instances, {passes_checked} element "
              f"passes checked; lost {lost}, duplicated {duplicated}, not ended {len(not_ended)}, "
              f"unknown {len(unknown)}")
        if lost or duplicated or not_ended or unknown:
            sys.exit(1)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
