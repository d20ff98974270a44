#!/usr/bin/env bash
# The command line's contract. `banshi validate`: exit 0 when every file is valid, 1 when any
# has an error (printed as file:line:col: error CODE: ...), 2 on a usage error,
# and never a crash whatever the file holds. `banshi test`: scenarios pass
# or fail with file:line and the reason, and coverage is reported.
set -uo pipefail
banshi="$1"
workflows="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

expect() {  # expect NAME WANT_EXIT [grep-pattern] -- command...
  local name="$1" want="$2" pattern="$3"
  shift 4
  "$@" >"$tmp/out" 2>&1
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, want $want"; sed 's/^/  | /' "$tmp/out"; failed=$((failed + 1)); return
  fi
  if [ -n "$pattern" ] && ! grep -qE "$pattern" "$tmp/out"; then
    echo "FAIL $name: output lacks /$pattern/"; sed 's/^/  | /' "$tmp/out"; failed=$((failed + 1)); return
  fi
  echo "ok   $name"
  passed=$((passed + 1))
}

cat >"$tmp/good.bpmn" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>
XML
cat >"$tmp/bad.bpmn" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="u"/>
    <userTask id="u"/>
  </process>
</definitions>
XML
printf '<definitions><process' >"$tmp/truncated.bpmn"
head -c 4096 /dev/urandom >"$tmp/random.bpmn"
: >"$tmp/empty.bpmn"

expect "version" 0 '^banshi [0-9]+\.[0-9]+' -- "$banshi" --version
expect "help" 0 'validate' -- "$banshi" --help
expect "validate --help" 0 'files' -- "$banshi" validate --help
expect "valid file" 0 'good.bpmn: valid' -- "$banshi" validate "$tmp/good.bpmn"
expect "invalid file" 1 'bad.bpmn:5:5: error BS205: .*\(u\)' -- "$banshi" validate "$tmp/bad.bpmn"
expect "one bad among good" 1 'bad.bpmn: INVALID' -- "$banshi" validate "$tmp/good.bpmn" "$tmp/bad.bpmn"
expect "quiet prints errors only" 1 '^[^ ]*bad.bpmn:5:5: error' -- "$banshi" validate -q "$tmp/bad.bpmn"
expect "truncated XML" 1 'truncated.bpmn:1:[0-9]+: error BS001' -- "$banshi" validate "$tmp/truncated.bpmn"
expect "random bytes" 1 'error BS00' -- "$banshi" validate "$tmp/random.bpmn"
expect "empty file" 1 'error BS001' -- "$banshi" validate "$tmp/empty.bpmn"
expect "missing file" 1 'cannot open' -- "$banshi" validate "$tmp/nope.bpmn"
expect "a directory" 1 'error' -- "$banshi" validate "$tmp"
expect "no files" 2 '' -- "$banshi" validate
expect "unknown option" 2 '' -- "$banshi" validate --frobnicate "$tmp/good.bpmn"
expect "unknown subcommand" 2 '' -- "$banshi" frobnicate
expect "no subcommand" 2 '' -- "$banshi"
# banshi test: scenario files, exit codes and the coverage report.
cp "$tmp/good.bpmn" "$tmp/p.bpmn"
printf 'deploy p.bpmn\nstart p\nexpect completed\nexpect path: s e\n' >"$tmp/ok.scenario"
printf 'deploy p.bpmn\nstart p\nexpect running\n' >"$tmp/bad.scenario"
printf 'deploy p.bpmn\nstart p\nfrobnicate\n' >"$tmp/unknown.scenario"
expect "test passes" 0 '^ok .*ok.scenario' -- "$banshi" test "$tmp/ok.scenario"
expect "test coverage" 0 'p +2/2 +1/1' -- "$banshi" test "$tmp/ok.scenario"
expect "test fails" 1 'bad.scenario:3: the instance is completed, expected running' -- "$banshi" test "$tmp/bad.scenario"
expect "test unknown command" 1 "unknown command 'frobnicate'" -- "$banshi" test "$tmp/unknown.scenario"
expect "test folder" 1 '1 passed, 2 failed' -- "$banshi" test "$tmp"
expect "test missing path" 2 'no such file' -- "$banshi" test "$tmp/none.scenario"

# banshi demo: the smoke path runs synthetic applications to their ends.
expect "demo smoke" 0 'applications through .certificate-new-issue.: 20 finished, 0 unfinished' -- \
  "$banshi" demo -q -n 20 --workflows "$workflows" --data "$tmp/demo"

# banshi backup: a consistent copy of the demo's database.
expect "backup" 0 'backed up' -- "$banshi" backup --database "$tmp/demo/batch.db" "$tmp/copy.db"
expect "backup copy holds the instances" 0 '^20\|20$' -- \
  sqlite3 "$tmp/copy.db" "select count(*), sum(ended_at > 0) from instances"
expect "backup refuses to overwrite" 1 'exists' -- "$banshi" backup --database "$tmp/demo/batch.db" "$tmp/copy.db"
expect "backup of a missing database" 1 'no such database' -- "$banshi" backup --database "$tmp/none.db" "$tmp/c2.db"
expect "demo bad folder" 2 'no workflows' -- "$banshi" demo --workflows "$tmp/none"
expect "demo bad count" 2 '' -- "$banshi" demo -n 0

mapfile -t shipped < <(find "$workflows" -name '*.bpmn' | sort)
if [ ${#shipped[@]} -gt 0 ]; then
  expect "shipped workflows are valid" 0 '' -- "$banshi" validate --warnings-as-errors "${shipped[@]}"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
