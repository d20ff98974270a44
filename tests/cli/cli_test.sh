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

# Timer start events are evaluated as a deployment would evaluate them: a cron
# field out of range, a FEEL value that gives a cron that never fires, and an
# ISO 8601 series that ended before the deployment are errors at the value.
timer_model() {  # timer_model FILE TIMER-DEFINITION-CONTENT
  cat >"$1" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <process id="p" isExecutable="true">
    <startEvent id="s"><timerEventDefinition>$2</timerEventDefinition></startEvent>
    <sequenceFlow id="f" sourceRef="s" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>
XML
}
timer_model "$tmp/cron.bpmn" '<timeCycle>0 0 6 * * MON-FRI</timeCycle>'
timer_model "$tmp/cron-hour.bpmn" '<timeCycle>0 0 24 * * MON-FRI</timeCycle>'
timer_model "$tmp/cron-feel.bpmn" '<timeCycle>="0 0 0 31 " + "6 ?"</timeCycle>'
timer_model "$tmp/iso-past.bpmn" '<timeCycle>R2/2026-01-01T00:00:00+08:00/P1D</timeCycle>'
expect "cron cycle" 0 'cron.bpmn: valid' -- "$banshi" validate "$tmp/cron.bpmn"
expect "cron field out of range" 1 "cron-hour.bpmn:4:57: error BS207: .*the hour field '24' is out of range 0-23" -- \
  "$banshi" validate "$tmp/cron-hour.bpmn"
expect "FEEL cron that never fires" 1 'cron-feel.bpmn:4:57: error BS207: .*it never fires' -- \
  "$banshi" validate "$tmp/cron-feel.bpmn"
expect "ISO series over before now" 1 'iso-past.bpmn:4:57: error BS207: .*lies before now' -- \
  "$banshi" validate "$tmp/iso-past.bpmn"
expect "ISO series still ahead --at" 0 'iso-past.bpmn: valid' -- \
  "$banshi" validate --at 2025-12-31T12:00:00+08:00 "$tmp/iso-past.bpmn"
expect "bad --at" 2 'at:' -- "$banshi" validate --at yesterday "$tmp/cron.bpmn"
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
# ... with the department simulators answering over HTTP, as in the live demo.
grep -qE 'department systems: [1-9][0-9]* calls over HTTP answered, [0-9]+ BPMN errors, 0 failed' "$tmp/out" \
  && { echo "ok   demo smoke over HTTP"; passed=$((passed + 1)); } \
  || { echo "FAIL demo smoke over HTTP: no calls answered by the simulators"; sed 's/^/  | /' "$tmp/out"; failed=$((failed + 1)); }

# banshi backup: a consistent copy of the demo's database.
expect "backup" 0 'backed up' -- "$banshi" backup --database "$tmp/demo/batch.db" "$tmp/copy.db"
# The copy holds exactly what the original does (the 20 applications, all
# ended, and the linked-services cases their issued certificates started).
original=$(sqlite3 "$tmp/demo/batch.db" "select count(*), sum(ended_at > 0) from instances")
copied=$(sqlite3 "$tmp/copy.db" "select count(*), sum(ended_at > 0) from instances")
if [ -n "$original" ] && [ "$original" = "$copied" ] && [ "${original#*|}" -ge 20 ]; then
  echo "ok   backup copy holds the instances"; passed=$((passed + 1))
else
  echo "FAIL backup copy holds the instances: original '$original', copy '$copied'"; failed=$((failed + 1))
fi
expect "backup refuses to overwrite" 1 'exists' -- "$banshi" backup --database "$tmp/demo/batch.db" "$tmp/copy.db"
expect "backup of a missing database" 1 'no such database' -- "$banshi" backup --database "$tmp/none.db" "$tmp/c2.db"
expect "demo bad folder" 2 'no workflows' -- "$banshi" demo --workflows "$tmp/none"
expect "demo bad count" 2 '' -- "$banshi" demo -n 0

# banshi decide: a decision of a DMN file, its result and the rules that matched.
cat >"$tmp/subsidy.dmn" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="subsidy" namespace="urn:t">
  <inputData id="i_age" name="age"><variable name="age" typeRef="number"/></inputData>
  <decision id="amount" name="Amount">
    <informationRequirement><requiredInput href="#i_age"/></informationRequirement>
    <decisionTable hitPolicy="COLLECT" aggregation="SUM">
      <input><inputExpression typeRef="number"><text>age</text></inputExpression></input>
      <output name="amount" typeRef="number"/>
      <rule id="base"><inputEntry><text>&gt;= 60</text></inputEntry><outputEntry><text>100</text></outputEntry></rule>
      <rule id="old"><inputEntry><text>&gt;= 80</text></inputEntry><outputEntry><text>50</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="unique" name="Unique">
    <informationRequirement><requiredInput href="#i_age"/></informationRequirement>
    <decisionTable>
      <input><inputExpression><text>age</text></inputExpression></input>
      <output name="o"/>
      <rule><inputEntry><text>&gt; 1</text></inputEntry><outputEntry><text>1</text></outputEntry></rule>
      <rule><inputEntry><text>&gt; 2</text></inputEntry><outputEntry><text>2</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
XML
sed 's/&gt;= 80/\&gt;= (80/' "$tmp/subsidy.dmn" >"$tmp/broken.dmn"
expect "decide prints the result" 0 '^150$' -- "$banshi" decide "$tmp/subsidy.dmn" amount --input '{"age": 85}'
expect "decide prints the matched rules" 0 'matched in Amount: rule 1 \(base\), 2 \(old\)' -- \
  "$banshi" decide "$tmp/subsidy.dmn" Amount --input '{"age": 85}'
expect "decide with no match" 0 'matched in Amount: no rule' -- "$banshi" decide "$tmp/subsidy.dmn" amount -i '{"age": 5}'
expect "decide --json" 0 '"result":100,"matched":\[\{"decision":"amount","rules":\[1\],"ruleIds":\["base"\]\}\]' -- \
  "$banshi" decide --json "$tmp/subsidy.dmn" amount --input '{"age": 61}'
expect "decide reports a hit policy error" 1 'error: unique: the UNIQUE table matched 2 rules' -- \
  "$banshi" decide "$tmp/subsidy.dmn" unique --input '{"age": 5}'
expect "decide on an invalid model" 1 'broken.dmn:10:[0-9]+: error DMN020' -- \
  "$banshi" decide "$tmp/broken.dmn" amount --input '{"age": 85}'
expect "decide unknown decision" 2 "no decision 'nope' \(decisions: amount, unique\)" -- \
  "$banshi" decide "$tmp/subsidy.dmn" nope
expect "decide bad JSON" 2 'must be a JSON object' -- "$banshi" decide "$tmp/subsidy.dmn" amount --input '[1'
expect "decide on random bytes" 1 'error' -- "$banshi" decide "$tmp/random.bpmn" amount
expect "decide missing file" 2 'cannot open' -- "$banshi" decide "$tmp/none.dmn" amount
# today() and now() are the real clock's, or --now's.
cat >"$tmp/today.dmn" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="t" name="t" namespace="urn:t">
  <decision id="year" name="Year"><literalExpression><text>today().year</text></literalExpression></decision>
</definitions>
XML
expect "decide sees today's date" 0 "^$(date -u +%Y)$" -- "$banshi" decide "$tmp/today.dmn" year
expect "decide --now sets today()" 0 '^2031$' -- "$banshi" decide "$tmp/today.dmn" year --now 2031-03-04T10:00:00+08:00
expect "decide --now in epoch milliseconds" 0 '^2001$' -- "$banshi" decide "$tmp/today.dmn" year --now 1000000000000
expect "decide --now refuses nonsense" 2 'must be an ISO 8601' -- "$banshi" decide "$tmp/today.dmn" year --now soon

# The WebSocket replay window is a setting, and one the frame queue cannot hold is refused.
expect "serve takes server.ws_replay_events" 0 '^ws_replay_events = 64$' -- \
  env BANSHI_SERVER_WS_REPLAY_EVENTS=64 "$banshi" serve --print-config --data "$tmp/cfg"
expect "serve refuses a replay window the frame queue cannot hold" 2 'ws_max_queue \(100\) must be larger' -- \
  env BANSHI_SERVER_WS_REPLAY_EVENTS=200 BANSHI_SERVER_WS_MAX_QUEUE=100 "$banshi" serve --print-config --data "$tmp/cfg"

mapfile -t shipped < <(find "$workflows" -name '*.bpmn' | sort)
if [ ${#shipped[@]} -gt 0 ]; then
  expect "shipped workflows are valid" 0 '' -- "$banshi" validate --warnings-as-errors "${shipped[@]}"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
