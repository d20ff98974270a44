#!/usr/bin/env python3
"""POST /api/v1/definitions/test against a real `banshi serve`.

A designer runs scenario tests on the model they are editing: a passing
scenario with its coverage; a failing expectation reported with its line; a
scenario that uses a decision file deployed earlier; a scenario that tries to
read a file outside its own (refused, and the file's content never shows);
a timer loop stopped by the step budget; and the refusals (no designer role,
bad JSON, a resource name with a folder). Nothing the test route runs is
deployed.
Usage: scenario_route_test.py path/to/banshi REPO_DIR
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

banshi, repo = sys.argv[1], sys.argv[2]
failures = []


def check(cond, label, detail=""):
    if cond:
        print("ok  ", label)
    else:
        failures.append(label)
        print("FAIL:", label, detail)


work = tempfile.mkdtemp(prefix="banshi-scenario-route-")
data = os.path.join(work, "data")
subprocess.run([banshi, "init", "--data", data], check=True, capture_output=True)


def add_user(name, *roles):
    args = [banshi, "user", "add", name, "--data", data, "--department", "civil-affairs", "--region", "220102"]
    for r in roles:
        args += ["--role", r]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return re.search(r"^password: (\S+)$", out, re.M).group(1)


designer_password = add_user("deng", "designer")
staff_password = add_user("wu", "staff")
log_path = os.path.join(work, "serve.log")
log = open(log_path, "wb")
server = subprocess.Popen([banshi, "serve", "--listen", "127.0.0.1:0", "--data", data], stdout=log, stderr=subprocess.STDOUT)
port = None
for _ in range(300):
    m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", open(log_path, "rb").read())
    if m:
        port = int(m.group(1))
        break
    time.sleep(0.1)
if port is None:
    server.kill()
    sys.exit("the server did not start")


def call(method, path, body=None, cookie=None, csrf=None, content_type="application/json"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if csrf:
        headers["X-CSRF-Token"] = csrf
    if body is not None:
        headers["Content-Type"] = content_type
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    payload = r.read()
    cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload
    return r.status, parsed, cookies


def login(user, password):
    status, body, cookies = call("POST", "/api/v1/auth/login", {"username": user, "password": password})
    assert status == 200, (status, body)
    return cookies[0].split(";", 1)[0], body["csrfToken"]


try:
    cookie, csrf = login("deng", designer_password)
    model = open(os.path.join(repo, "docs", "api", "examples", "subsidy-decision.bpmn"), encoding="utf-8").read()
    dmn = open(os.path.join(repo, "workflows", "subsidy-eligibility.dmn"), encoding="utf-8").read()

    def test(scenario, resource="subsidy-decision.bpmn", xml=model, who=(None, None)):
        c, t = who if who[0] else (cookie, csrf)
        return call("POST", "/api/v1/definitions/test", {"resource": resource, "xml": xml, "scenario": scenario}, c, t)

    # A passing scenario, with coverage.
    status, report, _ = test("""deploy subsidy-decision.bpmn
start subsidy-decision-example with {"household": "低保"}
complete job decide with {"subsidyDecision": "granted"}
expect path: start decide granted
expect completed
""")
    check(status == 200 and report["passed"] is True, "a passing scenario passes", report)
    cov = {c["processId"]: c for c in report.get("coverage", [])} if status == 200 else {}
    c = cov.get("subsidy-decision-example", {})
    check(c.get("elements") == 5 and c.get("elementsReached") == 3 and set(c.get("missedElements", [])) == {"notEligible", "refused"},
          "coverage names the elements the scenario missed", c)
    check(report.get("commands") == 3 and report.get("expectations") == 2, "commands and expectations counted", report)

    # A failing expectation, with its line.
    status, report, _ = test("""deploy subsidy-decision.bpmn
start subsidy-decision-example
throw error decide not-eligible
expect path: start decide granted
""")
    f = report.get("failures", []) if status == 200 else []
    check(status == 200 and report["passed"] is False and f and f[0]["line"] == 4 and "path" in f[0]["message"],
          "a failing expectation is reported with its line", report)
    check(all("/tmp" not in x["message"] and "banshi-scenario" not in x["message"] for x in f),
          "failures do not show the server's folders", f)

    # A decision deployed earlier is there by its resource name.
    status, body, _ = call("POST", "/api/v1/definitions?resource=subsidy-eligibility.dmn", dmn, cookie, csrf,
                           "application/xml")
    check(status in (200, 201), "deploy a decision file", body)
    status, report, _ = test("""deploy subsidy-eligibility.dmn
deploy subsidy-decision.bpmn
start subsidy-decision-example
complete job decide
expect completed
""")
    check(status == 200 and report.get("passed") is True, "a deployed decision file can be named", report)

    # Files outside the test are not reachable.
    for bad in ("../../../etc/passwd", "/etc/passwd", "..", "calendars/../../x.bpmn"):
        status, report, _ = test(f"deploy {bad}\n")
        text = json.dumps(report, ensure_ascii=False)
        check(status == 200 and report["passed"] is False and "not one of this test's files" in text and "root:" not in text,
              f"'deploy {bad}' is refused", report)
    status, report, _ = test("calendar /etc\n")
    check(status == 200 and report["passed"] is False, "'calendar /etc' is refused", report)

    # A loop is stopped by the step budget.
    loop = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="d">
  <process id="ticker" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
    <userTask id="wait" bs:candidateGroups="dpf-county"/>
    <boundaryEvent id="tick" attachedToRef="wait" cancelActivity="false">
      <timerEventDefinition><timeCycle>R/PT1S</timeCycle></timerEventDefinition>
    </boundaryEvent>
    <sequenceFlow id="f2" sourceRef="tick" targetRef="e2"/><endEvent id="e2"/>
    <sequenceFlow id="f3" sourceRef="wait" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>"""
    started = time.time()
    status, report, _ = test("deploy ticker.bpmn\nstart ticker\nadvance P100Y\nadvance P100Y\nadvance P100Y\n",
                             resource="ticker.bpmn", xml=loop)
    took = time.time() - started
    text = json.dumps(report)
    check(status == 200 and report["passed"] is False and ("more than" in text or "steps" in text),
          f"a timer loop is stopped by the budget ({took:.1f} s)", report)

    # Refusals.
    staff_cookie, staff_csrf = login("wu", staff_password)
    status, body, _ = test("deploy subsidy-decision.bpmn\n", who=(staff_cookie, staff_csrf))
    check(status == 403, "staff may not run tests", body)
    status, body, _ = call("POST", "/api/v1/definitions/test", "{\"resource\":", cookie, csrf)
    check(status == 400, "malformed JSON is a 400", body)
    status, body, _ = test("deploy x.bpmn\n", resource="../x.bpmn")
    check(status == 400 and body.get("field") == "resource", "a resource with a folder is a 400", body)
    status, body, _ = call("POST", "/api/v1/definitions/test", {"resource": "a.bpmn", "xml": model}, cookie, csrf)
    check(status == 400 and body.get("field") == "scenario", "a missing scenario is a 400", body)

    # The test route deployed nothing.
    status, body, _ = call("GET", "/api/v1/definitions", None, cookie, csrf)
    ids = {d.get("processId") for d in body.get("items", [])} if isinstance(body, dict) else set()
    check(status == 200 and not ({"subsidy-decision-example", "ticker"} & ids), "the tests deployed nothing", ids)
finally:
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)

print(f"scenario route: {len(failures)} problems")
sys.exit(1 if failures else 0)
