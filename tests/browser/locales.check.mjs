// Checks the console's locale files: zh-CN and en have the same keys, and every
// key the source names literally (t('a.b'), t(`a.b`)) exists. Dynamic keys
// (t(`sla.${state}`)) are checked by their prefix existing.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../console/src')
const load = (l) => JSON.parse(readFileSync(path.join(src, 'locales', `${l}.json`), 'utf8'))
const flat = (o, p = '', out = new Map()) => {
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object') flat(v, `${p}${k}.`, out)
    else out.set(`${p}${k}`, v)
  }
  return out
}
const zh = flat(load('zh-CN'))
const en = flat(load('en'))
const problems = []
for (const k of zh.keys()) if (!en.has(k)) problems.push(`en lacks ${k}`)
for (const k of en.keys()) if (!zh.has(k)) problems.push(`zh-CN lacks ${k}`)
for (const [k, v] of [...zh, ...en]) if (typeof v !== 'string' || !v.trim()) problems.push(`${k} is empty`)

const files = []
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = path.join(d, f)
    if (statSync(p).isDirectory()) walk(p)
    else if (/\.(vue|js)$/.test(f)) files.push(p)
  }
}
walk(src)
let used = 0
for (const f of files) {
  const text = readFileSync(f, 'utf8')
  for (const m of text.matchAll(/\bt\(\s*(['`])([a-zA-Z][\w.]*)(\$\{)?/g)) {
    const key = m[2]
    used += 1
    if (m[3]) {
      const prefix = key.endsWith('.') ? key : `${key}`
      if (![...zh.keys()].some((k) => k.startsWith(prefix))) problems.push(`${path.relative(src, f)}: no key starts with ${prefix}`)
    } else if (!zh.has(key)) {
      problems.push(`${path.relative(src, f)}: ${key} is not in the locales`)
    }
  }
  // Message keys handed around as strings ('form.required' and the like).
  for (const m of text.matchAll(/'((?:form|common|task|designer)\.[a-zA-Z]+)'/g)) {
    if (!zh.has(m[1])) problems.push(`${path.relative(src, f)}: ${m[1]} is not in the locales`)
  }
}
if (problems.length) {
  console.log(`locales: ${problems.length} problems\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`locales: ${zh.size} keys in zh-CN and en, ${used} uses in ${files.length} files, all present`)
