// Unit checks of the console's pure pieces (no browser): masking, working days,
// the form-condition evaluator, the validation-line parser, the history reader.
import assert from 'node:assert/strict'
import { maskValue, maskDeep, workingDaysLeft, slaKey } from '../../console/src/lib/format.js'
import { evaluate } from '../../console/src/lib/feel-lite.js'
import { parseDiagnostics } from '../../console/src/lib/diagnostics.js'
import { readHistory, K } from '../../console/src/lib/history.js'

let n = 0
const check = (name, fn) => {
  fn()
  n += 1
}

check('masking', () => {
  assert.equal(maskValue('idNumber', '22010219900101123X'), '220102********123X')
  assert.equal(maskValue('name', '张三丰'), '张**')
  assert.equal(maskValue('phone', '13800001234'), '*******1234')
  assert.equal(maskValue('region', '220102'), '220102')
  assert.equal(maskValue('identityVerified', true), true)
  // Already masked by the server: left as it came, not masked again.
  assert.equal(maskValue('idNumber', '220102********123X'), '220102********123X')
  assert.equal(maskValue('name', '张*丰'), '张*丰')
  assert.deepEqual(maskDeep({ applicant: { name: '李四', idNumber: '220102199001011234', region: '220102' }, accepted: true }),
    { applicant: { name: '李*', idNumber: '220102********1234', region: '220102' }, accepted: true })
})

check('working days', () => {
  const mon = new Date(2026, 2, 2, 9).getTime() // Monday 2 March 2026
  assert.equal(workingDaysLeft(new Date(2026, 2, 3, 9).getTime(), mon), 1)
  assert.equal(workingDaysLeft(new Date(2026, 2, 9, 9).getTime(), mon), 5) // over a weekend
  assert.equal(workingDaysLeft(new Date(2026, 1, 27, 9).getTime(), mon), -1) // Friday before
  assert.equal(workingDaysLeft(0, mon), null)
  assert.equal(slaKey('reminded'), 'due_soon')
  assert.equal(slaKey('on_time'), 'on_time')
})

check('form conditions', () => {
  const ctx = { accepted: null, supplementRequested: true, subsidyEligibility: { living: true }, outcome: '符合' }
  assert.equal(evaluate('accepted != true', ctx), true)
  assert.equal(evaluate('accepted != true and supplementRequested != true', ctx), false)
  assert.equal(evaluate('subsidyEligibility.living = true', ctx), true)
  assert.equal(evaluate('outcome = "符合"', ctx), true)
  assert.equal(evaluate('not(supplementRequested = true) or accepted = true', ctx), false)
  assert.throws(() => evaluate('accepted = ', ctx))
  assert.throws(() => evaluate('count(x) > 1', ctx))
})

check('validation lines', () => {
  const [p] = parseDiagnostics(["m.bpmn:26:5: error BS208: the expression 'a +' does not compile: the expression ends too early (accept)"])
  assert.equal(p.element, 'accept')
  assert.equal(p.line, 26)
  assert.equal(p.column, 5)
  assert.equal(p.code, 'BS208')
  assert.equal(p.text, "BS208: the expression 'a +' does not compile: the expression ends too early")
  assert.equal(parseDiagnostics(['plain text'])[0].element, '')
})

check('history', () => {
  const h = readHistory([
    { seq: 1, at: 1, records: [{ k: K.activated, key: 1, el: 'p' }, { k: K.activated, key: 2, el: 'start' }, { k: K.completed, key: 2, el: 'start' },
      { k: K.flowTaken, el: 'f1' }, { k: K.activated, key: 3, el: 'accept' }, { k: K.varCreated, n: 'applicant', p: { name: 'x' } }] },
    { seq: 2, at: 2, records: [{ k: K.varUpdated, n: 'applicant', p: { name: 'y' } }] },
  ], 'p')
  assert.deepEqual(h.active, ['accept'])
  assert.deepEqual(h.done.sort(), ['f1', 'start'])
  assert.deepEqual(h.variables, { applicant: { name: 'y' } })
  assert.equal(h.timeline.some((e) => e.element === 'p'), false)
})

console.log(`units: ${n} groups of checks passed`)
