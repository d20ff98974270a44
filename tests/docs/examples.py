"""The fenced blocks of the docs other than shell, XML and TOML, each checked
against the real thing by its language (docs_test.py runs these):

- ```json: parses, and is what the comment before it says it is:
    `request METHOD PATH`     the route's request body in docs/api/openapi.yaml,
                              and a real server takes it (2xx)
    `response METHOD PATH`    the route's 2xx answer in docs/api/openapi.yaml; for
                              a GET, with the members (and kinds of values) of a
                              real server's answer
    `answer to METHOD PATH BODY`  what a real server answers to that request
    `event TYPE`              an Event of docs/api/openapi.yaml with the members
                              of the TYPE frame a real server sends on /api/v1/events
    `schema NAME`             the schema components.schemas.NAME
    `variables of PROCESS`    start variables the scenario runner starts
                              workflows/PROCESS.bpmn with, without an incident
    `excerpt of FILE`         members and values of the JSON file FILE ("…" stands for any value)
    `value of VAR in FILE`    the value FILE (a scenario that passes) expects VAR to hold
- ```yaml: parses; a Prometheus scrape config targets the server's default
  listen address; every metric an alert rule reads is served at /metrics of a
  real server, with the labels it selects by, and `up{job=...}` names the
  page's scrape job.
- ```http: one request a line (`METHOD PATH [JSON]`, `[...]` an optional part,
  `a|b` alternatives, `{id}` a case that has ended, `...` the value given on an
  earlier line); each is sent to a real server, as a user with a role the
  route allows, and must succeed with a 2xx status docs/api/openapi.yaml
  lists for the route.
- ```cpp / ```c with `compiled: NAME`: compiled as written, with the compiler
  and flags the build uses for the part it shows, inside the small wrapper
  NAME below; with `excerpt of FILE`: the lines appear in that source file in
  that order (`...` stands for lines left out).
- ```scenario: `beside DIR`: runs in the scenario runner as a file in DIR;
  `excerpt of FILE`: its lines appear in that scenario, which passes.
- ```console: each `$ command` runs in a fresh folder with the repository's
  workflows/ beside it (banshi on the PATH) and prints exactly the lines that
  follow it.
- ```text with `synopsis of banshi COMMAND`: names the options and
  positionals `banshi COMMAND --help` lists, no more and no fewer; with
  `output of BENCH ARGS, figures aside`: the benchmark BENCH run with ARGS
  (TMP: a fresh folder) prints those lines, every number aside.
Any block may instead be marked `not run: REASON`.

The real server runs with the connectors pointed at `banshi simulate`, the
controlled clock of docs/operations.md and one user per role.
"""
import base64
import http.client
import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import time

import yaml

import openapi_schema

LANGUAGES = ("json", "yaml", "http", "cpp", "c", "scenario", "console", "text")


def start_listening(args, log_path):
    """Starts a process that prints `listening on http://127.0.0.1:PORT`, its
    output going to log_path: (process, that URL or None, the output so far)."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    output = ""
    for _ in range(300):
        with open(log_path, encoding="utf-8", errors="replace") as f:
            output = f.read()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output)
        if m:
            return process, m.group(1), output
        if process.poll() is not None:
            break
        time.sleep(0.1)
    return process, None, output


class Server:
    """A real `banshi serve` on a fresh data folder, with one user per role
    (staff and supervisor of dpf in 南关区 220102)."""

    ROLES = ("admin", "staff", "supervisor", "monitor", "designer")

    def __init__(self, banshi, config_text=""):
        self.banshi = banshi
        self.tmp = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.tmp.name, "data")
        self.passwords, self.sessions = {}, {}
        self.port, self.process, self.error = None, None, None
        r = subprocess.run([banshi, "init", "--data", self.data], capture_output=True, text=True, timeout=60)
        m = re.search(r"^password: (\S+)", r.stdout, re.M)
        if not m:
            self.error = f"banshi init printed no password: {r.stdout}{r.stderr}"
            return
        self.passwords["admin"] = m.group(1)
        for role in self.ROLES[1:]:
            extra = ["--department", "dpf", "--region", "220102"] if role in ("staff", "supervisor") else []
            r = subprocess.run([banshi, "user", "add", "docs-" + role, "--role", role, *extra, "--data", self.data],
                               capture_output=True, text=True, timeout=60)
            m = re.search(r"^password: (\S+)", r.stdout, re.M)
            if not m:
                self.error = f"banshi user add docs-{role} failed: {r.stdout}{r.stderr}"
                return
            self.passwords[role] = m.group(1)
        config = os.path.join(self.tmp.name, "banshi.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(config_text)
        self.process, url, output = start_listening([banshi, "serve", "--config", config, "--listen", "127.0.0.1:0",
                                                     "--data", self.data], os.path.join(self.tmp.name, "serve.log"))
        if url:
            self.port = int(url.rsplit(":", 1)[1])
        else:
            self.error = "the server did not start: " + output[-2000:]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.tmp.cleanup()

    def request(self, method, path, body=None, role=None, content_type="application/json"):
        """(status, content type, body bytes) of one request, as a user with `role` (None: no credential)."""
        headers = {}
        if role is not None:
            cookie, csrf = self.session(role)
            headers["Cookie"] = cookie
            if method not in ("GET", "HEAD"):
                headers["X-CSRF-Token"] = csrf
        if body is not None:
            headers["Content-Type"] = content_type
            if isinstance(body, str):
                body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            conn.close()

    def session(self, role):
        if role not in self.sessions:
            name = "admin" if role == "admin" else "docs-" + role
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            conn.request("POST", "/api/v1/auth/login", json.dumps({"username": name, "password": self.passwords[role]}),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            body = json.loads(response.read() or b"{}")
            cookies = [c.split(";", 1)[0] for k, c in response.getheaders() if k.lower() == "set-cookie"]
            conn.close()
            if response.status != 200:
                raise RuntimeError(f"login as {name} answers {response.status}: {body}")
            self.sessions[role] = ("; ".join(cookies), body.get("csrfToken", ""))
        return self.sessions[role]


class Checker:
    def __init__(self, banshi, repo, build_dir, fail, server_config, bench_dir=None):
        self.banshi, self.repo, self.build_dir, self.fail = banshi, repo, build_dir, fail
        self.bench_dir = bench_dir
        self.server_config = server_config
        self.spec = openapi_schema.Spec(yaml.safe_load(open(os.path.join(repo, "docs/api/openapi.yaml"), encoding="utf-8")))
        self._server = None
        self._simulators = None
        self._fixtures = None
        self._compile_commands = None
        self.scrape_jobs = {}  # page -> job names of its scrape configs

    # --- shared pieces --------------------------------------------------------

    def server(self):
        """The server, its connectors pointed at `banshi simulate` (so the front
        door's pre-fill and the department calls are real HTTP calls), with the
        shipped models the examples use deployed."""
        if self._server is None:
            if self._simulators is not None:
                raise RuntimeError("banshi simulate did not start")
            self._simulators_dir = tempfile.TemporaryDirectory()
            self._simulators, base, output = start_listening([self.banshi, "simulate", "--port", "0"],
                                                             os.path.join(self._simulators_dir.name, "simulate.log"))
            if base is None:
                raise RuntimeError("banshi simulate did not start: " + output[-2000:])
            self._server = Server(self.banshi, self.server_config + f'\n[connectors]\nenabled = true\nbase_url = "{base}"\n')
            if not self._server.error:
                for name in self.DEPLOYED:
                    with open(os.path.join(self.repo, "workflows", name), "rb") as f:
                        status, _, body = self._server.request("POST", f"/api/v1/definitions?resource={name}", f.read(),
                                                               "designer", "application/xml")
                    if status not in (200, 201):
                        self._server.error = f"deploying workflows/{name} answers {status}: {body[:300]!r}"
        if self._server.error:
            raise RuntimeError(self._server.error)
        return self._server

    # The models the front door's example form starts (the operation, its two
    # subsidies and their decision), and the process a bad rating starts.
    DEPLOYED = ("subsidy-eligibility.dmn", "certificate-new-issue.bpmn", "living-subsidy.bpmn", "nursing-subsidy.bpmn",
                "rating-follow-up.bpmn")

    def close(self):
        if self._server is not None:
            self._server.stop()
        if self._simulators is not None:
            self._simulators.terminate()
            self._simulators.wait(timeout=30)
            self._simulators_dir.cleanup()

    def run(self, args, cwd=None, timeout=120):
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def scenario_passes(self, where, scenario_path):
        r = self.run([self.banshi, "test", scenario_path])
        if r.returncode != 0:
            self.fail(f"{where}: the scenario fails: {(r.stdout + r.stderr).strip()[-2000:]}")
            return False
        return True

    def scenario_beside(self, where, folder, text):
        """Runs `text` as a scenario file in a copy of `folder` (its entries linked)."""
        with tempfile.TemporaryDirectory() as tmp:
            for name in os.listdir(folder):
                if not name.endswith(".scenario"):
                    os.symlink(os.path.join(folder, name), os.path.join(tmp, name))
            path = os.path.join(tmp, "doc-example.scenario")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return self.scenario_passes(where, path)

    def role_for(self, method, path):
        roles = self.spec.roles(method, path)
        for role in roles:
            if role in Server.ROLES:
                return role
        return "admin"

    def excerpt_of(self, where, lines, path):
        """Fails `where` unless `lines` (stripped; `...` a gap, `...` inside a line
        any text) appear in order in the file at `path`."""
        try:
            with open(os.path.join(self.repo, path), encoding="utf-8") as f:
                source = [l.strip() for l in f]
        except OSError as e:
            self.fail(f"{where}: the excerpt names {path}, which cannot be read: {e}")
            return False
        wanted = [l.strip() for l in lines if l.strip()]
        i = 0
        for w in wanted:
            if w in ("...", "…"):
                continue
            pattern = "^" + ".*".join(re.escape(part) for part in re.split(r"\.\.\.|…", w)) + "$"
            while i < len(source) and not re.match(pattern, source[i]):
                i += 1
            if i == len(source):
                self.fail(f"{where}: the excerpt's line `{w}` is not in {path} (in this order)")
                return False
            i += 1
        return True

    # --- json -------------------------------------------------------------------

    def check_json(self, where, text, mark):
        try:
            value = json.loads(text)
        except ValueError as e:
            self.fail(f"{where}: the JSON does not parse: {e}")
            return
        m = re.match(r"^(request|response) (GET|POST|PUT|PATCH|DELETE) (\S+)$", mark)
        if m:
            kind, method, path = m.groups()
            if kind == "request":
                schema = self.spec.request_schema(method, path)
            else:
                schema = next((s for status in ("200", "201", "202") if (s := self.spec.response_schema(method, path, status))), None)
            if schema is None:
                self.fail(f"{where}: docs/api/openapi.yaml has no JSON {kind} schema for {method} {path}")
                return
            for e in openapi_schema.validate(self.spec, value, schema):
                self.fail(f"{where}: not a {kind} of {method} {path}: {e}")
            if kind == "request":
                # Sent to the real server, as a user the route allows: it must be taken.
                status, _, answer = self.server().request(method, path, text, self.role_for(method, path))
                if not 200 <= status < 300:
                    self.fail(f"{where}: {method} {path} with the example answers {status}: {answer[:400]!r}")
            elif method == "GET" and "{" not in path:
                # The real answer has the example's members, of the same kinds.
                status, _, answer = self.server().request(method, path, None, self.role_for(method, path))
                if status != 200:
                    self.fail(f"{where}: {method} {path} answers {status}: {answer[:400]!r}")
                else:
                    for e in shape_problems(value, json.loads(answer), "$"):
                        self.fail(f"{where}: unlike the real answer to {method} {path}: {e}")
            return
        m = re.match(r"^event ([a-z.]+)$", mark)
        if m:
            for e in openapi_schema.validate(self.spec, value, self.spec.doc["components"]["schemas"]["Event"]):
                self.fail(f"{where}: not an Event of docs/api/openapi.yaml: {e}")
            if value.get("type") != m.group(1):
                self.fail(f"{where}: the example is not a {m.group(1)} event")
            for e in shape_problems(value, self.real_event(m.group(1)), "$"):
                self.fail(f"{where}: unlike the {m.group(1)} event a real server sends: {e}")
            return
        m = re.match(r"^schema (\w+)$", mark)
        if m:
            schema = self.spec.doc.get("components", {}).get("schemas", {}).get(m.group(1))
            if schema is None:
                self.fail(f"{where}: docs/api/openapi.yaml has no schema {m.group(1)}")
                return
            for e in openapi_schema.validate(self.spec, value, schema):
                self.fail(f"{where}: not a {m.group(1)}: {e}")
            return
        m = re.match(r"^answer to (GET|POST|PUT|PATCH|DELETE) (\S+)(?: (.*))?$", mark)
        if m:
            method, path, body = m.groups()
            server = self.server()
            status, _, answer = server.request(method, path, body, self.role_for(method, path))
            try:
                real = json.loads(answer)
            except ValueError:
                self.fail(f"{where}: {method} {path} answers {status} without JSON: {answer[:200]!r}")
                return
            if real != value:
                self.fail(f"{where}: {method} {path} answers {status} {json.dumps(real, ensure_ascii=False)}, "
                          f"not the example")
            schema = self.spec.response_schema(method, path, status)
            for e in openapi_schema.validate(self.spec, real, schema) if schema else []:
                self.fail(f"{where}: the answer to {method} {path} does not fit docs/api/openapi.yaml: {e}")
            return
        m = re.match(r"^variables of ([a-z0-9-]+)$", mark)
        if m:
            process = m.group(1)
            if not isinstance(value, dict):
                self.fail(f"{where}: start variables must be a JSON object")
                return
            self.scenario_beside(where, os.path.join(self.repo, "workflows"),
                                 f"calendar calendars\ndeploy {process}.bpmn\n"
                                 f"start {process} with {json.dumps(value, ensure_ascii=False)}\n"
                                 "expect no incidents\n")
            return
        m = re.match(r"^excerpt of (\S+)$", mark)
        if m:
            try:
                with open(os.path.join(self.repo, m.group(1)), encoding="utf-8") as f:
                    real = json.load(f)
            except (OSError, ValueError) as e:
                self.fail(f"{where}: the excerpt names {m.group(1)}, which cannot be read as JSON: {e}")
                return
            for e in json_excerpt_problems(value, real, "$"):
                self.fail(f"{where}: not an excerpt of {m.group(1)}: {e}")
            return
        m = re.match(r"^value of (\w+) in (\S+\.scenario)$", mark)
        if m:
            variable, path = m.groups()
            try:
                with open(os.path.join(self.repo, path), encoding="utf-8") as f:
                    expected = [json.loads(l.split("=", 1)[1]) for l in f
                                if re.match(r"^expect variable " + variable + r"\s*=", l)]
            except (OSError, ValueError) as e:
                self.fail(f"{where}: cannot read what {path} expects of {variable}: {e}")
                return
            if value not in expected:
                self.fail(f"{where}: {path} expects {variable} to be {expected}, not the example")
            self.scenario_passes(where, os.path.join(self.repo, path))
            return
        self.fail(f"{where}: a JSON example needs a `<!-- docs-test: ... -->` comment saying what it is "
                  f"(request/response METHOD PATH, answer to ..., schema NAME, variables of PROCESS, "
                  f"excerpt of FILE, value of VAR in FILE), not '{mark}'")

    # --- yaml -------------------------------------------------------------------

    def check_yaml(self, where, page, text, served_metrics):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            self.fail(f"{where}: the YAML does not parse: {e}")
            return
        if not isinstance(doc, dict):
            self.fail(f"{where}: the YAML is not a mapping")
            return
        if "scrape_configs" in doc:
            listen = None
            r = self.run([self.banshi, "serve", "--print-config"])
            m = re.search(r"^\[server\]$.*?^listen = ['\"]([^'\"]+)['\"]", r.stdout, re.M | re.S)
            if m:
                listen = m.group(1)
            for job in doc["scrape_configs"]:
                self.scrape_jobs.setdefault(page, set()).add(job.get("job_name"))
                targets = [t for c in job.get("static_configs", []) for t in c.get("targets", [])]
                if listen is None or targets != [listen]:
                    self.fail(f"{where}: the scrape job {job.get('job_name')} targets {targets}, "
                              f"not the server's default listen address {listen}")
                if job.get("metrics_path", "/metrics") != "/metrics":
                    self.fail(f"{where}: the server serves its metrics at /metrics")
        elif "groups" in doc:
            for group in doc["groups"]:
                for rule in group.get("rules", []):
                    name = rule.get("alert") or rule.get("record")
                    unknown = set(rule) - {"alert", "record", "expr", "for", "labels", "annotations", "keep_firing_for"}
                    if not name or "expr" not in rule or unknown:
                        self.fail(f"{where}: the rule {name} needs alert and expr and nothing else than "
                                  f"for, labels, annotations ({sorted(unknown)})")
                        continue
                    if "for" in rule and not re.match(r"^\d+[smhdwy]$", str(rule["for"])):
                        self.fail(f"{where}: {name}: `for: {rule['for']}` is not a Prometheus duration")
                    expr = str(rule["expr"])
                    if expr.count("(") != expr.count(")") or expr.count("[") != expr.count("]"):
                        self.fail(f"{where}: {name}: the expression's brackets do not balance")
                    for metric, selector in re.findall(r"\b(banshi_[a-z_]+)(\{[^}]*\})?", expr):
                        base = re.sub(r"_(bucket|sum|count)$", "", metric)
                        if base not in served_metrics or (base != metric and served_metrics[base] != "histogram"):
                            self.fail(f"{where}: {name} reads {metric}, which /metrics does not serve")
                            continue
                        for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector):
                            if label not in self.served_labels(metric):
                                self.fail(f"{where}: {name} selects {metric} by {label}, a label /metrics does not give it")
                    for job in re.findall(r'\bup\{job="([^"]+)"\}', expr):
                        if job not in self.scrape_jobs.get(page, set()):
                            self.fail(f"{where}: {name} watches the job {job}, which the page's scrape config does not name")
        else:
            self.fail(f"{where}: a YAML example must be a Prometheus scrape config or rule file")

    def served_labels(self, metric):
        """The label names of the samples of `metric` a real server's /metrics
        shows once it has answered a request."""
        server = self.server()
        server.request("GET", "/healthz")
        _, _, body = server.request("GET", "/metrics")
        labels = set()
        for selector in re.findall(r"^" + metric + r"\{([^}]*)\}", body.decode(), re.M):
            labels |= set(re.findall(r'(\w+)="', selector))
        return labels

    # --- http -------------------------------------------------------------------

    def fixtures(self):
        """{id}: a case in 220102 that has ended (rating-follow-up deployed, so it can be rated badly)."""
        if self._fixtures is None:
            server = self.server()
            # A case of dpf in 南关区 that has ended: one task, claimed and completed by staff there.
            model = ('<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" '
                     'id="d"><process id="docs-example" isExecutable="true"><startEvent id="start"/>'
                     '<sequenceFlow id="f1" sourceRef="start" targetRef="check"/>'
                     '<userTask id="check" bs:candidateGroups="dpf-county" bs:region="=applicant.region"/>'
                     '<sequenceFlow id="f2" sourceRef="check" targetRef="end"/><endEvent id="end"/></process>'
                     '</definitions>')
            status, _, body = server.request("POST", "/api/v1/definitions?resource=docs-example.bpmn", model,
                                             "designer", "application/xml")
            if status not in (200, 201):
                raise RuntimeError(f"deploying the example process answers {status}: {body[:300]!r}")
            instance = self.start_example_case()
            status, _, body = server.request("GET", f"/api/v1/tasks?instanceId={instance}", None, "staff")
            tasks = json.loads(body).get("items", []) if status == 200 else []
            if len(tasks) != 1:
                raise RuntimeError(f"the example case has no open task: {status} {body[:300]!r}")
            for action in ("claim", "complete"):
                status, _, body = server.request("POST", f"/api/v1/tasks/{tasks[0]['id']}/{action}", "{}", "staff")
                if status != 204:
                    raise RuntimeError(f"{action} of the example task answers {status}: {body[:300]!r}")
            self._fixtures = {"id": str(instance)}
        return self._fixtures

    def start_example_case(self):
        """Starts a case of the fixture process (a dpf task in 220102); its instance id."""
        status, _, body = self.server().request("POST", "/api/v1/instances", json.dumps(
            {"processId": "docs-example", "variables": {"applicant": {"region": "220102"}}}), "staff")
        if status != 201:
            raise RuntimeError(f"starting the example process answers {status}: {body[:300]!r}")
        return json.loads(body)["id"]

    def real_event(self, event_type):
        """The first frame of `event_type` /api/v1/events sends a supervisor of the
        region after a case of the fixture process starts (a task.created, ...)."""
        self.fixtures()
        server = self.server()
        cookie, _ = server.session("supervisor")
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                          f"Cookie: {cookie}\r\n\r\n").encode())
            reader = sock.makefile("rb")
            status_line = reader.readline().decode()
            while reader.readline() not in (b"\r\n", b""):
                pass
            if " 101 " not in status_line:
                raise RuntimeError(f"/api/v1/events answers {status_line.strip()}")
            instance = self.start_example_case()
            deadline = time.time() + 30
            while time.time() < deadline:
                head = reader.read(2)
                if len(head) < 2:
                    break
                length = head[1] & 0x7F
                if length == 126:
                    length = int.from_bytes(reader.read(2), "big")
                elif length == 127:
                    length = int.from_bytes(reader.read(8), "big")
                payload = reader.read(length)
                if head[0] & 0x0F != 1:
                    continue
                event = json.loads(payload)
                if event.get("type") == event_type and event.get("instanceId") == instance:
                    return event
            raise RuntimeError(f"/api/v1/events sent no {event_type} for the case started")
        finally:
            sock.close()

    def expand(self, where, method, target, earlier):
        """The concrete paths a request line of a block stands for."""
        variants = [""]
        for literal, group in re.findall(r"([^\[]*)(?:\[([^\]]*)\])?", target):
            options = [literal]
            if group:
                key, _, values = group.partition("=")
                options = [literal] + [literal + key + ("=" + v if values else "") for v in values.split("|")]
            variants = [v + o for v in variants for o in options]
        paths = []
        for v in sorted(set(variants)):
            path, _, query = v.partition("?")
            concrete = [path]
            for name in re.findall(r"\{(\w+)\}", path):
                enum = []
                found = self.spec.operation(method, path)
                for p in found[1].get("parameters", []) if found else []:
                    p = self.spec.resolve(p)
                    if p.get("name") == name and p.get("in") == "path":
                        enum = p.get("schema", {}).get("enum", [])
                values = enum or [self.fixtures().get(name)]
                if values == [None]:
                    raise RuntimeError(f"{where}: no value for {{{name}}} in {target}")
                concrete = [c.replace("{" + name + "}", x) for c in concrete for x in values]
            params = []
            for pair in filter(None, query.split("&")):
                k, _, val = pair.partition("=")
                if val in ("...", "…"):
                    if k not in earlier:
                        raise RuntimeError(f"{where}: {k}=... but no earlier line gives {k}")
                    val = earlier[k]
                earlier[k] = val
                params.append(f"{k}={val}")
            paths += [c + ("?" + "&".join(params) if params else "") for c in concrete]
        return paths

    def check_http(self, where, text):
        server = self.server()
        earlier = {}
        sent = 0
        for n, line in enumerate(text.splitlines()):
            if not line.strip():
                continue
            m = re.match(r"^(GET|POST|PUT|PATCH|DELETE|HEAD)\s+(\S+)\s*(.*)$", line.strip())
            if not m:
                self.fail(f"{where}+{n}: not a request line (`METHOD PATH [JSON]`): {line}")
                continue
            method, target, body = m.groups()
            if body:
                try:
                    json.loads(body)
                except ValueError as e:
                    self.fail(f"{where}+{n}: the body is not JSON: {e}")
                    continue
            try:
                paths = self.expand(where, method, target, earlier)
            except RuntimeError as e:
                self.fail(str(e))
                continue
            for path in paths:
                status, _, answer = server.request(method, path, body or None, self.role_for(method, path))
                sent += 1
                found = self.spec.operation(method, path)
                documented = sorted(c for c in (found[1].get("responses", {}) if found else {}) if c.startswith("2"))
                if not 200 <= status < 300:
                    self.fail(f"{where}+{n}: {method} {path} {body} answers {status}: {answer[:300]!r}")
                elif str(status) not in documented:
                    self.fail(f"{where}+{n}: {method} {path} answers {status}, which docs/api/openapi.yaml "
                              f"does not list for it ({', '.join(documented) or 'no route'})")
        return sent

    # --- cpp / c ----------------------------------------------------------------

    # name -> (source whose compile command the build uses, wrapper with {fragment})
    WRAPPERS = {
        # The interface as docs/connectors.md shows it declares the same call
        # as connectors/sdk/connector.h, with Done as its comment says.
        "connector-interface": ("connectors/sdk/runtime.cc", """\
#include <functional>
#include <type_traits>
#include "sdk/connector.h"
namespace doc_example {
using banshi::connectors::Call;
using banshi::connectors::Done;
using banshi::connectors::Reply;
{fragment}
}  // namespace doc_example
template <class T> struct member_fn;
template <class C, class F> struct member_fn<F C::*> { using type = F; };
static_assert(std::is_same_v<member_fn<decltype(&doc_example::AsyncConnector::call)>::type,
                             member_fn<decltype(&banshi::connectors::AsyncConnector::call)>::type>,
              "AsyncConnector::call differs from connectors/sdk/connector.h");
static_assert(std::is_same_v<banshi::connectors::Done, std::function<void(banshi::connectors::Reply)>>,
              "Done is not std::function<void(Reply)>");
static_assert(std::is_abstract_v<doc_example::AsyncConnector> && std::has_virtual_destructor_v<doc_example::AsyncConnector>);
"""),
        # The plugin entry point as docs/connectors.md declares it: a second
        # declaration after the ABI header's typedef, and it must have that type.
        "plugin-entry": ("connectors/examples/plugin/id_number_plugin.c", """\
#include <stddef.h>
#include <stdint.h>
#include "banshi/connector_abi.h"
{fragment}
banshi_plugin_entry_fn doc_example_entry(void);
banshi_plugin_entry_fn doc_example_entry(void) { return banshi_connector_plugin; }
"""),
    }

    def compile_commands(self):
        if self._compile_commands is None:
            with open(os.path.join(self.build_dir, "compile_commands.json"), encoding="utf-8") as f:
                self._compile_commands = json.load(f)
        return self._compile_commands

    def check_compiled(self, where, rel, line, lang, text, name):
        if name not in self.WRAPPERS:
            self.fail(f"{where}: no wrapper named {name} in tests/docs/examples.py")
            return
        reference, wrapper = self.WRAPPERS[name]
        entry = next((e for e in self.compile_commands()
                      if os.path.realpath(e["file"]) == os.path.realpath(os.path.join(self.repo, reference))), None)
        if entry is None:
            self.fail(f"{where}: the build has no compile command for {reference}")
            return
        args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
        keep, skip = [args[0]], False
        for a in args[1:]:
            if skip:
                skip = False
            elif a in ("-o", "-c", "-MT", "-MF", "-MQ"):
                skip = True
            elif a in ("-MD", "-MMD") or os.path.realpath(a) == os.path.realpath(entry["file"]):
                continue
            else:
                keep.append(a)
        # Errors in the fragment name the doc's lines; those in the wrapper, the wrapper.
        fragment = f'#line {line} "{rel}"\n{text}#line 1 "wrapper {name} (tests/docs/examples.py)"\n'
        source = wrapper.replace("{fragment}", fragment)
        suffix = ".c" if lang == "c" else ".cc"
        with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8") as f:
            f.write(source)
        try:
            r = self.run(keep + ["-fsyntax-only", f.name], cwd=entry["directory"], timeout=300)
        finally:
            os.unlink(f.name)
        if r.returncode != 0:
            self.fail(f"{where}: the {lang} example does not compile as written:\n{(r.stdout + r.stderr).strip()[-3000:]}")

    # --- console and text -------------------------------------------------------

    def check_console(self, where, text, bin_dir):
        commands, current = [], None
        for l in text.splitlines():
            if l.startswith("$ "):
                current = [l[2:], []]
                commands.append(current)
            elif current is not None:
                current[1].append(l.rstrip())
            else:
                self.fail(f"{where}: a console block starts with `$ command`")
                return
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        # In a fresh folder with the repository's workflows/ beside it, as the shell blocks run.
        with tempfile.TemporaryDirectory() as tmp:
            os.symlink(os.path.join(self.repo, "workflows"), os.path.join(tmp, "workflows"))
            runs = [(subprocess.run(["bash", "-c", command], cwd=tmp, env=env, capture_output=True, text=True,
                                    timeout=120), command, expected) for command, expected in commands]
        for r, command, expected in runs:
            got = [l.rstrip() for l in (r.stdout + r.stderr).splitlines()]
            while expected and not expected[-1]:
                expected.pop()
            if r.returncode != 0 or got != expected:
                self.fail(f"{where}: `{command}` exits {r.returncode} and prints\n" + "\n".join(got)
                          + "\nnot\n" + "\n".join(expected))

    def check_bench_output(self, where, text, bench, args):
        """The benchmark prints the lines of the example, every figure aside
        (run with ARGS, a small run: the figures are not the point)."""
        def shape(line):
            return re.sub(r"\s+", " ", re.sub(r"\d+(\.\d+)?", "N", line)).strip()
        if not os.path.exists(os.path.join(self.bench_dir, bench)):
            self.fail(f"{where}: {bench} is not built (cmake --build BUILD --target {bench})")
            return
        with tempfile.TemporaryDirectory() as tmp:
            r = self.run([os.path.join(self.bench_dir, bench), *[a.replace("TMP", tmp) for a in args]], cwd=tmp,
                         timeout=300)
        # The engine's log lines ("[2026-11-30 01:09:19.529] [info] ...") are not the benchmark's figures.
        got = [shape(l) for l in r.stdout.splitlines() if l.strip() and not re.match(r"^\[\d{4}-\d\d-\d\d ", l)]
        want = [shape(l) for l in text.splitlines() if l.strip()]
        if r.returncode != 0 or got != want:
            self.fail(f"{where}: `{bench} {' '.join(args)}` exits {r.returncode} and prints, figures aside,\n"
                      + "\n".join(got) + "\nnot\n" + "\n".join(want))

    def check_synopsis(self, where, text, command):
        r = self.run([self.banshi, *command.split(), "--help"])
        if r.returncode != 0:
            self.fail(f"{where}: `banshi {command} --help` fails")
            return
        helped = set(re.findall(r"(--[a-z][a-z0-9-]*)", r.stdout)) - {"--help"}
        positionals = re.search(r"^Positionals:\n((?:  .*\n)+)", r.stdout, re.M)
        helped_positionals = len(re.findall(r"^  \S", positionals.group(1), re.M)) if positionals else 0
        for line in filter(None, (l.strip() for l in text.splitlines())):
            if not line.startswith(f"banshi {command} "):
                self.fail(f"{where}: the synopsis line does not start with `banshi {command}`: {line}")
                continue
            words = line[len(f"banshi {command} "):]
            shown = set(re.findall(r"(--[a-z][a-z0-9-]*)", words))
            bare = re.sub(r"\[[^\]]*\]", "", words).split()
            if shown != helped:
                self.fail(f"{where}: the synopsis names {sorted(shown)}, `banshi {command} --help` {sorted(helped)}")
            if len(bare) != helped_positionals:
                self.fail(f"{where}: the synopsis has {len(bare)} positionals, `banshi {command}` {helped_positionals}")


def shape_problems(doc, real, where):
    """Where the documented value's members differ from the real one's (names,
    and the kind of each value; null stands in for any kind)."""
    if doc is None or real is None:
        return []
    if isinstance(doc, dict) and isinstance(real, dict):
        problems = [f"{where}.{k} is not in the real answer" for k in doc if k not in real]
        problems += [f"{where}.{k} of the real answer is not in the example" for k in real if k not in doc]
        for k in doc:
            if k in real:
                problems += shape_problems(doc[k], real[k], f"{where}.{k}")
        return problems
    if isinstance(doc, list) and isinstance(real, list):
        return shape_problems(doc[0], real[0], f"{where}[0]") if doc and real else []
    kinds = [(bool,), (int, float), (str,), (list,), (dict,)]
    same = any(isinstance(doc, k) and isinstance(real, k) for k in kinds) and isinstance(doc, bool) == isinstance(real, bool)
    return [] if same else [f"{where} is {type(real).__name__} in the real answer, {type(doc).__name__} in the example"]


def json_excerpt_problems(doc, real, where):
    """What of the documented value is not in the real one; "…" stands for any value."""
    if doc in ("…", "...") or doc == {"…": None}:
        return []
    if isinstance(doc, dict):
        if not isinstance(real, dict):
            return [f"{where} is not an object there"]
        problems = []
        for k, v in doc.items():
            if k not in real:
                problems.append(f"{where}.{k} is not there")
            else:
                problems += json_excerpt_problems(v, real[k], f"{where}.{k}")
        return problems
    if isinstance(doc, list):
        if not isinstance(real, list):
            return [f"{where} is not a list there"]
        problems, i = [], 0
        for n, item in enumerate(doc):
            while i < len(real) and json_excerpt_problems(item, real[i], where):
                i += 1
            if i == len(real):
                problems.append(f"{where}[{n}] matches no later item there")
                break
            i += 1
        return problems
    return [] if doc == real else [f"{where} is {real!r} there, not {doc!r}"]
