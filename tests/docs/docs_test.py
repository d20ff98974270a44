#!/usr/bin/env python3
"""The docs cannot drift from the binary.

- Every `banshi ...` command in a ```sh block of README.md and docs/*.md names
  subcommands and options the binary has (checked against its --help).
- Every ```toml block that configures the server is accepted by
  `banshi serve --config FILE --print-config`, and the configuration reference
  in docs/operations.md lists every key the server knows.
- The user-management walkthrough in docs/operations.md ("Creating users")
  runs as written against a fresh data folder.

Usage: docs_test.py BANSHI REPO_DIR
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import http.client

banshi, repo = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def blocks(path):
    """(language, first line number, text) of every fenced block."""
    out, lang, start, buf, fence_indent = [], None, 0, [], 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            stripped = line.lstrip()
            if stripped.startswith("```"):
                if lang is None:
                    lang, start, buf = stripped[3:].strip(), n + 1, []
                    fence_indent = len(line) - len(stripped)
                else:
                    out.append((lang, start, "".join(buf)))
                    lang = None
                continue
            if lang is not None:
                buf.append(line[fence_indent:] if line[:fence_indent].isspace() else line)
    return out


def doc_files():
    files = [os.path.join(repo, "README.md")]
    docs = os.path.join(repo, "docs")
    for root, _, names in os.walk(docs):
        files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".md")]
    return files


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


help_cache = {}


def help_of(chain):
    key = tuple(chain)
    if key not in help_cache:
        r = run([banshi] + chain + ["--help"])
        help_cache[key] = r.stdout + r.stderr if r.returncode == 0 else None
    return help_cache[key]


def subcommands_of(chain):
    """The subcommands `banshi CHAIN --help` lists (read from the binary, so new ones need no edit here)."""
    text = help_of(chain)
    names, inside = set(), False
    for line in (text or "").splitlines():
        if line.strip().lower() == "subcommands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\s", line)
            if m:
                names.add(m.group(1))
            elif line.strip() and not line.startswith("  "):
                inside = False
    return names


def check_command(where, words):
    chain = []
    i = 1
    while i < len(words) and not words[i].startswith("-"):
        w = words[i]
        if w in subcommands_of(chain):
            chain.append(w)
            i += 1
        else:
            break
    if not chain:
        if len(words) > 1 and not words[1].startswith("-"):
            fail(f"{where}: `{' '.join(words)}`: unknown subcommand '{words[1]}'")
        return
    text = help_of(chain)
    if text is None:
        fail(f"{where}: `banshi {' '.join(chain)} --help` fails")
        return
    # Options of a parent command apply to its subcommands too (banshi user --data).
    texts = [help_of(chain[:k]) or "" for k in range(1, len(chain) + 1)]
    for w in words[i:]:
        if w.startswith("--"):
            flag = w.split("=", 1)[0]
            if not any(re.search(re.escape(flag) + r"\b", t) for t in texts):
                fail(f"{where}: `banshi {' '.join(chain)}` has no option {flag}")


def commands_in(text):
    """Each simple command of a shell block, as a word list."""
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;|\||\(|\)", line):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]  # VAR=value prefixes
            if words and words[0] in ("sudo", "exec"):
                words = words[1:]
                if words[:2] == ["-u", "banshi"]:
                    words = words[2:]
            if words and (words[0] == "banshi" or words[0].endswith("/banshi")):
                yield words


checked = 0
for path in doc_files():
    rel = os.path.relpath(path, repo)
    for lang, line, text in blocks(path):
        if lang in ("sh", "bash", "shell"):
            for words in commands_in(text):
                check_command(f"{rel}:{line}", words)
                checked += 1
        if lang == "toml" and "[server]" in text:
            with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
                f.write(text)
            r = run([banshi, "serve", "--config", f.name, "--print-config"])
            os.unlink(f.name)
            if r.returncode != 0:
                fail(f"{rel}:{line}: the configuration example is refused: {r.stderr.strip()}")
            checked += 1
print(f"docs: {checked} commands and configuration examples checked against the binary")

# The configuration reference lists every key.
ops = os.path.join(repo, "docs", "operations.md")
reference = next((t for lang, _, t in blocks(ops) if lang == "toml" and "[server]" in t), None)
if reference is None:
    fail("docs/operations.md has no configuration reference block")
else:
    r = run([banshi, "serve", "--print-config"])
    section = None
    for l in r.stdout.splitlines():
        m = re.match(r"^\[(\w+)\]$", l)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^(\w+) = ", l)
        if m and section:
            doc_section = re.search(r"^\[" + section + r"\]$(.*?)(^\[|\Z)", reference, re.S | re.M)
            if not doc_section or not re.search(r"^" + m.group(1) + r" = ", doc_section.group(1), re.M):
                fail(f"docs/operations.md: the configuration reference lacks [{section}] {m.group(1)}")

# The "Creating users" walkthrough runs as written.
with open(ops, encoding="utf-8") as f:
    ops_text = f.read()
creating = re.search(r"### Creating users(.*?)(^### |\Z)", ops_text, re.S | re.M)
walk = next((t for lang, _, t in blocks(ops) if lang == "sh" and creating and t in creating.group(1)), None)
if walk is None:
    fail("docs/operations.md: no shell block under 'Creating users'")
else:
    with tempfile.TemporaryDirectory() as tmp:
        ran = 0
        for words in commands_in(walk):
            words = [banshi] + [os.path.join(tmp, "banshi") if w == "var/banshi" else w for w in words[1:]]
            r = run(words)
            ran += 1
            if r.returncode != 0:
                fail(f"docs/operations.md 'Creating users': `{' '.join(words[1:])}` exits {r.returncode}: {r.stderr.strip()}")
        print(f"docs: the 'Creating users' walkthrough ran {ran} commands")

# Every metric docs/monitoring.md names is served at /metrics, and every metric
# served is documented there.
monitoring = os.path.join(repo, "docs", "monitoring.md")
with open(monitoring, encoding="utf-8") as f:
    documented = set(re.findall(r"`(banshi_[a-z_]+)", f.read()))
with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, "data")
    run([banshi, "init", "--data", data])
    log_path = os.path.join(tmp, "serve.log")
    with open(log_path, "wb") as log:
        server = subprocess.Popen([banshi, "serve", "--listen", "127.0.0.1:0", "--data", data],
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(300):
            with open(log_path, "rb") as f:
                m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
                break
            if server.poll() is not None:
                break
            time.sleep(0.1)
        if port is None:
            fail("docs/monitoring.md: the server did not start to read /metrics")
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/metrics")
            body = conn.getresponse().read().decode()
            served = set(re.findall(r"^# TYPE (banshi_[a-z_]+)", body, re.M))
            for name in sorted(documented - served):
                fail(f"docs/monitoring.md names {name}, which /metrics does not serve")
            for name in sorted(served - documented):
                fail(f"/metrics serves {name}, which docs/monitoring.md does not describe")
            print(f"docs: {len(served)} metrics served and described")
    finally:
        server.terminate()
        server.wait(timeout=30)

if failures:
    print(f"{len(failures)} problems", file=sys.stderr)
    sys.exit(1)
print("docs: ok")
