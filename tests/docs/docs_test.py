#!/usr/bin/env python3
"""The docs cannot drift from the binary.

- Every `banshi ...` command in a ```sh block of README.md and docs/*.md names
  subcommands and options the binary has (checked against its --help).
- Every ```toml block that configures the server is accepted by
  `banshi serve --config FILE --print-config`, every calendar example loads in
  the scenario runner, and the configuration reference in docs/operations.md
  lists every key the server knows.
- Every ```xml example is a model `banshi validate` accepts (a DMN file: one
  the scenario runner deploys).
- Every shell block runs as written in a fresh folder, or is marked just
  before its fence with `<!-- docs-test: not run: REASON -->`.
- Every other block (JSON, YAML, HTTP, C and C++, scenarios, console sessions,
  text) is checked by its language as examples.py describes, or marked.
- A block of a language no check knows fails, so no example goes unchecked.

Usage: docs_test.py BANSHI REPO_DIR BUILD_DIR [BENCH_DIR]
(BENCH_DIR: where the benchmarks are built; `-` or absent: not built)
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import http.client
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import examples as block_checks  # noqa: E402

banshi, repo, build_dir = sys.argv[1], sys.argv[2], sys.argv[3]
bench_dir = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None
failures = []
# Per language: blocks checked, blocks marked as not run.
checked_blocks, marked_by_language = Counter(), Counter()
run_elsewhere = 0  # shell blocks run by the test of their own page (RUN_ELSEWHERE)


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def blocks(path, with_marks=False):
    """(language, first line number, text) of every fenced block; with_marks
    adds the text of a `<!-- docs-test: ... -->` comment on the line just
    before the opening fence (empty when there is none)."""
    out, lang, start, buf, fence_indent, previous, mark = [], None, 0, [], 0, "", ""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            stripped = line.lstrip()
            if stripped.startswith("```"):
                if lang is None:
                    lang, start, buf = stripped[3:].strip(), n + 1, []
                    fence_indent = len(line) - len(stripped)
                    m = re.match(r"^\s*<!--\s*docs-test:(.*?)-->\s*$", previous)
                    mark = m.group(1).strip() if m else ""
                else:
                    out.append((lang, start, "".join(buf), mark) if with_marks else (lang, start, "".join(buf)))
                    lang = None
                continue
            if lang is not None:
                buf.append(line[fence_indent:] if line[:fence_indent].isspace() else line)
            if line.strip():
                previous = line
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


def build_commands_in(text):
    """Each `ctest` and `cmake` command of a shell block, as a word list (quotes
    respected, so a regex `'A|B'` stays one word)."""
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:
            continue
        words = []
        for token in tokens + [";"]:
            if token and all(c in "|&;()<>" for c in token):
                if words and words[0] in ("ctest", "cmake"):
                    yield words
                words = []
            else:
                words.append(token)


def declared_tests_and_targets():
    """The test names the sources declare (gtest's Suite.Name, add_test NAMEs)
    and the targets of every CMakeLists.txt, read from the sources, not a build."""
    names, targets = set(), set()
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if not d.startswith(("build", ".")) and d != "node_modules"]
        for name in files:
            if name.endswith(".cc") or name == "CMakeLists.txt":
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                names |= {a + "." + b for a, b in re.findall(
                    r"^\s*(?:TEST|TEST_F|TEST_P|TYPED_TEST)\(\s*(\w+)\s*,\s*(\w+)", text, re.M)}
                names |= set(re.findall(r"add_test\(\s*NAME\s+([\w.-]+)", text))
                targets |= set(re.findall(r"add_(?:executable|library|custom_target)\(\s*([\w-]+)", text))
    return names, targets


def check_build_command(where, words, tests, targets):
    """A `ctest -R REGEX` selects tests the sources declare, every alternative of
    it at least one; a `cmake --build ... --target T` names targets that exist."""
    for i, w in enumerate(words[:-1]):
        if words[0] == "ctest" and w in ("-R", "--tests-regex"):
            for alternative in words[i + 1].split("|"):
                if not any(re.search(alternative, t) for t in tests):
                    fail(f"{where}: `ctest -R {words[i + 1]}`: '{alternative}' matches no test the sources declare")
        if words[0] == "cmake" and w == "--target":
            for target in words[i + 1:]:
                if target.startswith("-"):
                    break
                if target not in targets:
                    fail(f"{where}: `cmake --build --target {target}`: no CMakeLists.txt declares that target")


checked = 0
declared_tests, declared_targets = declared_tests_and_targets()
for path in doc_files():
    rel = os.path.relpath(path, repo)
    for lang, line, text in blocks(path):
        if lang in ("sh", "bash", "shell"):
            for words in commands_in(text):
                check_command(f"{rel}:{line}", words)
                checked += 1
            # Also in blocks marked as not run: the tests and targets they name exist.
            for words in build_commands_in(text):
                check_build_command(f"{rel}:{line}", words, declared_tests, declared_targets)
                checked += 1
        if lang == "toml" and not re.search(r"^year\s*=", text, re.M):
            with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
                f.write(text)
            r = run([banshi, "serve", "--config", f.name, "--print-config"])
            os.unlink(f.name)
            if r.returncode != 0:
                fail(f"{rel}:{line}: the configuration example is refused: {r.stderr.strip()}")
            checked += 1
            checked_blocks["toml"] += 1
print(f"docs: {checked} commands and configuration examples checked against the binary and the sources")


def scenario_accepts(where, files, scenario):
    """Runs `banshi test` on a scenario beside `files` (name -> text); fails `where` unless it passes."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, name)), exist_ok=True)
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(tmp, "doc.scenario"), "w", encoding="utf-8") as f:
            f.write(scenario)
        r = run([banshi, "test", os.path.join(tmp, "doc.scenario")])
        if r.returncode != 0:
            fail(f"{where}: {(r.stdout + r.stderr).strip()}")


# Every XML example (BPMN or DMN) is a model banshi accepts: a BPMN model as
# `banshi validate` checks it, a DMN file deployed by the scenario runner.
# Every calendar example (a ```toml block with `year =`) loads as a business
# calendar in the scenario runner.
examples = 0
for path in doc_files():
    rel = os.path.relpath(path, repo)
    for lang, line, text in blocks(path):
        where = f"{rel}:{line}"
        if lang in ("xml", "bpmn", "dmn"):
            examples += 1
            checked_blocks[lang] += 1
            if "dmn/20" in text.lower() or lang == "dmn":
                scenario_accepts(where, {"example.dmn": text}, "deploy example.dmn\n")
                continue
            with tempfile.NamedTemporaryFile("w", suffix=".bpmn", delete=False, encoding="utf-8") as f:
                f.write(text)
            r = run([banshi, "validate", f.name])
            os.unlink(f.name)
            if r.returncode != 0:
                fail(f"{where}: the BPMN example does not validate: {(r.stdout + r.stderr).strip()}")
        elif lang == "toml" and re.search(r"^year\s*=", text, re.M):
            examples += 1
            checked_blocks["toml"] += 1
            year = re.search(r"^year\s*=\s*(\d+)", text, re.M)
            name = f"calendars/{year.group(1) if year else 'example'}.toml"
            scenario_accepts(where, {name: text}, "calendar calendars\n")
print(f"docs: {examples} model and calendar examples accepted")

# Every shell block runs as written, in a fresh folder (with the repository's
# workflows/ beside it and banshi on the PATH; the blocks of one page run in
# order in the same folder), unless a comment just before it says why it is
# not run: `<!-- docs-test: not run: REASON -->`. Pages maintained with a
# test of their own are listed here instead.
RUN_ELSEWHERE = {
    "docs/api/department-systems.md": "its curl walkthrough runs against a real server in api_examples_test.sh",
}
# api_examples_test.sh runs the ```sh blocks of department-systems.md that
# open with exactly ```sh at the start of a line: every shell block of the
# page must be one of them.
for page in RUN_ELSEWHERE:
    with open(os.path.join(repo, page), encoding="utf-8") as f:
        fences = sum(1 for l in f if l.rstrip("\n") == "```sh")
    shell = sum(1 for lang, _, _ in blocks(os.path.join(repo, page)) if lang in ("sh", "bash", "shell"))
    if fences != shell:
        fail(f"{page}: {shell} shell blocks, of which {fences} open with ```sh at the start of a line, "
             f"the only ones its own test runs")
bin_dir = tempfile.mkdtemp()
os.symlink(os.path.abspath(banshi), os.path.join(bin_dir, "banshi"))
ran_blocks = marked_blocks = 0
for path in doc_files():
    rel = os.path.relpath(path, repo)
    page_dir = None
    for lang, line, text, mark in blocks(path, with_marks=True):
        if lang not in ("sh", "bash", "shell"):
            continue
        where = f"{rel}:{line}"
        if rel in RUN_ELSEWHERE:
            checked_blocks[lang] += 1  # run as written by the test RUN_ELSEWHERE names
            run_elsewhere += 1
            continue
        if mark:
            m = re.match(r"^not run:\s*(.*)$", mark)
            if not m or len(m.group(1).split()) < 3:
                fail(f"{where}: the docs-test mark must read 'not run: REASON' with a reason of a few words, not '{mark}'")
            marked_blocks += 1
            marked_by_language[lang] += 1
            continue
        if page_dir is None:
            page_dir = tempfile.mkdtemp()
            os.symlink(os.path.join(repo, "workflows"), os.path.join(page_dir, "workflows"))
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        # Its own process group, so what the block leaves running in the
        # background is stopped after it; the output goes to a file, which a
        # background process may keep open.
        with tempfile.TemporaryFile("w+") as log:
            p = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", text], cwd=page_dir, env=env, text=True,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                p.wait(timeout=240)
            except subprocess.TimeoutExpired:
                log.write("\n(timed out after 240 s)")
            finally:
                try:
                    os.killpg(p.pid, 15)
                except ProcessLookupError:
                    pass
                p.wait()
            log.seek(0)
            out = log.read()
        ran_blocks += 1
        checked_blocks[lang] += 1
        if p.returncode != 0:
            fail(f"{where}: the shell block exits {p.returncode} when run as written:\n{out.strip()[-2000:]}")
print(f"docs: {ran_blocks} shell blocks run as written, {marked_blocks} marked as not run (with the reason)")

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

# The other blocks, checked by language (examples.py) against a real server
# and the real binary. The server runs the controlled clock of docs/operations.md
# ("The clock"), so its ```http examples can move it.
clock_config = next((t for lang, _, t in blocks(ops) if lang == "toml" and 'mode = "controlled"' in t), None)
if clock_config is None:
    fail("docs/operations.md has no example of the controlled clock")
checker = block_checks.Checker(banshi, repo, build_dir, fail, clock_config or "", bench_dir)
try:
    # Every metric docs/monitoring.md names is served at /metrics, and every
    # metric served is documented there.
    monitoring = os.path.join(repo, "docs", "monitoring.md")
    with open(monitoring, encoding="utf-8") as f:
        documented = set(re.findall(r"`(banshi_[a-z_]+)", f.read()))
    served = {}
    try:
        status, _, body = checker.server().request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answers {status} to a loopback client without a credential")
        served = dict(re.findall(r"^# TYPE (banshi_[a-z_]+) (\w+)", body.decode(), re.M))
        for name in sorted(documented - set(served)):
            fail(f"docs/monitoring.md names {name}, which /metrics does not serve")
        for name in sorted(set(served) - documented):
            fail(f"/metrics serves {name}, which docs/monitoring.md does not describe")
        print(f"docs: {len(served)} metrics served and described")
    except RuntimeError as e:
        fail(f"docs/monitoring.md: cannot read /metrics: {e}")

    http_requests = 0
    for path in doc_files():
        rel = os.path.relpath(path, repo)
        for lang, line, text, mark in blocks(path, with_marks=True):
            where = f"{rel}:{line}"
            if lang not in block_checks.LANGUAGES:
                continue
            if mark.startswith("not run:"):
                if len(mark[len("not run:"):].split()) < 3:
                    fail(f"{where}: the docs-test mark must read 'not run: REASON' with a reason of a few words")
                marked_by_language[lang] += 1
                continue
            try:
                if lang == "json":
                    checker.check_json(where, text, mark)
                elif lang == "yaml":
                    checker.check_yaml(where, rel, text, served)
                elif lang == "http":
                    http_requests += checker.check_http(where, text)
                elif lang in ("cpp", "c"):
                    m = re.match(r"^compiled: ([\w-]+)$", mark)
                    e = re.match(r"^excerpt of (\S+)$", mark)
                    if m:
                        checker.check_compiled(where, rel, line, lang, text, m.group(1))
                    elif e:
                        checker.excerpt_of(where, text.splitlines(), e.group(1))
                    else:
                        fail(f"{where}: a {lang} example needs `<!-- docs-test: compiled: WRAPPER -->` "
                             f"or `<!-- docs-test: excerpt of FILE -->`")
                elif lang == "scenario":
                    b = re.match(r"^beside (\S+)$", mark)
                    e = re.match(r"^excerpt of (\S+\.scenario)$", mark)
                    if b:
                        checker.scenario_beside(where, os.path.join(repo, b.group(1)), text)
                    elif e:
                        if checker.excerpt_of(where, text.splitlines(), e.group(1)):
                            checker.scenario_passes(where, os.path.join(repo, e.group(1)))
                    else:
                        fail(f"{where}: a scenario example needs `<!-- docs-test: beside DIR -->` "
                             f"or `<!-- docs-test: excerpt of FILE.scenario -->`")
                elif lang == "console":
                    checker.check_console(where, text, bin_dir)
                elif lang == "text":
                    m = re.match(r"^synopsis of banshi ([a-z -]+)$", mark)
                    b = re.match(r"^output of (bench_\w+)((?: \S+)*), figures aside$", mark)
                    if m:
                        checker.check_synopsis(where, text, m.group(1).strip())
                    elif b and bench_dir is None:
                        print(f"docs: {where}: not checked: the benchmarks are not built")
                        marked_by_language[lang] += 1
                        continue
                    elif b:
                        checker.check_bench_output(where, text, b.group(1), b.group(2).split())
                    else:
                        fail(f"{where}: a text block needs `<!-- docs-test: synopsis of banshi COMMAND -->`, "
                             f"`<!-- docs-test: output of BENCH ARGS, figures aside -->` "
                             f"or `<!-- docs-test: not run: REASON -->`")
            except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as e:
                # A server that cannot be reached, an answer that is not JSON, a command that hangs.
                fail(f"{where}: {type(e).__name__}: {e}")
            checked_blocks[lang] += 1
    print(f"docs: {http_requests} requests of the ```http examples sent to a real server")
finally:
    checker.close()

# Every fenced block is of a language some check above knows.
KNOWN = {"sh", "bash", "shell", "xml", "bpmn", "dmn", "toml", *block_checks.LANGUAGES}
for path in doc_files():
    rel = os.path.relpath(path, repo)
    for lang, line, _ in blocks(path):
        if lang not in KNOWN:
            fail(f"{rel}:{line}: a fenced block of language '{lang or '(none)'}', which no check knows; "
                 f"tag it with one of {', '.join(sorted(KNOWN))}")
summary = ", ".join(f"{lang} {checked_blocks[lang]} checked/{marked_by_language[lang]} marked"
                    for lang in sorted(set(checked_blocks) | set(marked_by_language)))
print(f"docs: blocks by language: {summary} (of the sh blocks, {run_elsewhere} run by docs_api_examples)")

if failures:
    print(f"{len(failures)} problems", file=sys.stderr)
    sys.exit(1)
print("docs: ok")
