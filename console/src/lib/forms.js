// The form of a user task. In order:
//  1. the server's form service, GET /api/v1/forms/{formKey}, where the server has it;
//  2. the forms shipped beside the models (workflows/forms/<process>/<task>.json,
//     bundled into the console when it is built), found by the task's formKey;
//  3. fields declared on the task in the BPMN: camunda:formData/formField
//     (id, label, type, defaultValue, validation constraints) or a
//     zeebe:userTaskForm holding a form JSON ({components:[{key,label,type,validate}]});
//  4. the decisions the next gateway takes: a condition `=x = true` makes a
//     yes/no field x labelled with the gateway's name, `=x = "a"` a choice.
// A field is {key, label, type: text|textarea|number|boolean|select|multiselect|date|month,
// required, requiredWhen, visibleWhen, options, min, max, pattern, minLength, maxLength, minItems};
// a label may be a string or {"zh-CN": …, "en": …}.
import { api } from './api.js'
import { evaluate } from './feel-lite.js'

// The shipped forms by formKey.
const shipped = {}
for (const form of Object.values(import.meta.glob('../../../workflows/forms/**/*.json', { eager: true, import: 'default' }))) {
  if (form && form.formKey) shipped[form.formKey] = form
}

export function text(label, locale) {
  if (label && typeof label === 'object') return label[locale] || label['zh-CN'] || label.en || Object.values(label)[0] || ''
  return label === undefined || label === null ? '' : String(label)
}

function local(el) {
  return (el.localName || el.nodeName || '').replace(/^.*:/, '')
}

function children(el, name) {
  return [...el.getElementsByTagName('*')].filter((c) => local(c) === name)
}

function findById(doc, id) {
  return [...doc.getElementsByTagName('*')].find((e) => e.getAttribute('id') === id) || null
}

function camundaFields(task) {
  const out = []
  for (const f of children(task, 'formField')) {
    const type = (f.getAttribute('type') || 'string').toLowerCase()
    const field = {
      key: f.getAttribute('id'),
      label: f.getAttribute('label') || f.getAttribute('id'),
      type: type === 'boolean' ? 'boolean' : type === 'long' ? 'number' : type === 'date' ? 'date' : type === 'enum' ? 'select' : 'text',
      defaultValue: f.getAttribute('defaultValue') ?? undefined,
      options: children(f, 'value').map((v) => ({ value: v.getAttribute('id'), label: v.getAttribute('name') || v.getAttribute('id') })),
    }
    for (const c of children(f, 'constraint')) {
      const n = c.getAttribute('name')
      const cfg = c.getAttribute('config')
      if (n === 'required') field.required = true
      if (n === 'minlength') field.minLength = Number(cfg)
      if (n === 'maxlength') field.maxLength = Number(cfg)
      if (n === 'min') field.min = Number(cfg)
      if (n === 'max') field.max = Number(cfg)
    }
    if (field.key) out.push(field)
  }
  return out
}

export function fromFormJson(form) {
  const comps = (form && (form.components || form.fields)) || []
  const out = []
  for (const c of comps) {
    const key = c.key || c.id
    if (!key) continue
    const v = c.validate || {}
    const type = { textfield: 'text', textarea: 'textarea', number: 'number', checkbox: 'boolean', select: 'select', radio: 'select', datetime: 'date', boolean: 'boolean', text: 'text', date: 'date', month: 'month', multiselect: 'multiselect', checklist: 'multiselect', taglist: 'multiselect' }[c.type] || 'text'
    out.push({
      key,
      label: c.label || key,
      type,
      required: !!(v.required || c.required),
      options: (c.values || c.options || []).map((o) => (typeof o === 'object' ? { value: o.value, label: o.label || o.value } : { value: o, label: o })),
      min: v.min ?? c.min,
      max: v.max ?? c.max,
      minLength: v.minLength ?? c.minLength,
      maxLength: v.maxLength ?? c.maxLength,
      pattern: v.pattern ?? c.pattern,
      minItems: c.minItems,
      requiredWhen: c.requiredWhen,
      visibleWhen: c.visibleWhen,
      defaultValue: c.defaultValue,
    })
  }
  return out
}

function zeebeFields(task, doc) {
  for (const f of children(task, 'userTaskForm')) {
    try {
      return fromFormJson(JSON.parse(f.textContent))
    } catch {
      /* not JSON */
    }
  }
  const def = children(task, 'formDefinition')[0]
  const formKey = def && def.getAttribute('formKey')
  if (formKey) {
    const id = formKey.replace(/^camunda-forms:bpmn:/, '')
    const holder = children(doc.documentElement, 'userTaskForm').find((x) => x.getAttribute('id') === id)
    if (holder) {
      try {
        return fromFormJson(JSON.parse(holder.textContent))
      } catch {
        /* not JSON */
      }
    }
  }
  return []
}

function gatewayFields(doc, task) {
  const out = []
  const seen = new Set()
  const flows = children(doc.documentElement, 'sequenceFlow')
  for (const f of flows.filter((x) => x.getAttribute('sourceRef') === task.getAttribute('id'))) {
    const target = findById(doc, f.getAttribute('targetRef'))
    if (!target || !/Gateway$/.test(local(target))) continue
    for (const g of flows.filter((x) => x.getAttribute('sourceRef') === target.getAttribute('id'))) {
      const cond = children(g, 'conditionExpression')[0]
      if (!cond) continue
      const text = cond.textContent.trim().replace(/^=/, '')
      let m = /^([A-Za-z_][\w]*)\s*=\s*(true|false)$/.exec(text)
      if (m && !seen.has(m[1])) {
        seen.add(m[1])
        out.push({ key: m[1], label: target.getAttribute('name') || m[1], type: 'boolean', required: true, derived: true,
          trueLabel: m[2] === 'true' ? g.getAttribute('name') : '', })
        continue
      }
      m = /^([A-Za-z_][\w]*)\s*=\s*"([^"]*)"$/.exec(text)
      if (m) {
        let field = out.find((x) => x.key === m[1])
        if (!field) {
          field = { key: m[1], label: target.getAttribute('name') || m[1], type: 'select', required: true, options: [], derived: true }
          out.push(field)
          seen.add(m[1])
        }
        field.options.push({ value: m[2], label: g.getAttribute('name') || m[2] })
      }
    }
  }
  return out
}

export async function formFor(task, xml) {
  if (task.formKey) {
    try {
      const form = await api.get(`/forms/${task.formKey.split('/').map(encodeURIComponent).join('/')}`, undefined, { quietAuth: true })
      const fields = fromFormJson(form)
      if (fields.length) return { source: 'server', title: form.title, fields }
    } catch {
      /* no form service on this server, or no such form */
    }
    const form = shipped[task.formKey]
    if (form) return { source: 'shipped', title: form.title, description: form.description, fields: fromFormJson(form) }
  }
  if (!xml) return { source: 'none', fields: [] }
  const doc = new DOMParser().parseFromString(xml, 'application/xml')
  const el = findById(doc, task.elementId)
  if (!el) return { source: 'none', fields: [] }
  let fields = camundaFields(el)
  if (fields.length) return { source: 'model', fields }
  fields = zeebeFields(el, doc)
  if (fields.length) return { source: 'model', fields }
  fields = gatewayFields(doc, el)
  return { source: fields.length ? 'gateway' : 'none', fields }
}

// The values as the process will see them: a dotted key sets a member of an object.
export function nest(values) {
  const out = {}
  for (const [k, v] of Object.entries(values)) {
    const parts = k.split('.')
    let o = out
    for (const part of parts.slice(0, -1)) o = o[part] && typeof o[part] === 'object' ? o[part] : (o[part] = {})
    o[parts[parts.length - 1]] = v
  }
  return out
}

function condition(expr, ctx, fallback) {
  if (!expr) return fallback
  try {
    const v = evaluate(expr, ctx)
    return v === null ? false : v
  } catch {
    return fallback
  }
}

export function visible(f, ctx) {
  return condition(f.visibleWhen, ctx, true) === true
}

export function required(f, ctx) {
  return !!f.required || (f.requiredWhen ? condition(f.requiredWhen, ctx, false) === true : false)
}

function blank(v) {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)
}

// Checks the visible fields; returns {key: message-key}. ctx: the task's variables.
export function validate(fields, values, taskVars = {}) {
  const ctx = { ...taskVars, ...nest(values) }
  const errors = {}
  for (const f of fields) {
    if (!visible(f, ctx)) continue
    const v = values[f.key]
    const empty = blank(v)
    if (required(f, ctx) && empty) errors[f.key] = 'form.required'
    else if (!empty && f.type === 'number' && Number.isNaN(Number(v))) errors[f.key] = 'form.number'
    else if (!empty && f.min !== undefined && f.type === 'number' && Number(v) < f.min) errors[f.key] = 'form.min'
    else if (!empty && f.max !== undefined && f.type === 'number' && Number(v) > f.max) errors[f.key] = 'form.max'
    else if (!empty && f.minItems && Array.isArray(v) && v.length < f.minItems) errors[f.key] = 'form.minItems'
    else if (!empty && f.minLength && String(v).length < f.minLength) errors[f.key] = 'form.minLength'
    else if (!empty && f.maxLength && String(v).length > f.maxLength) errors[f.key] = 'form.maxLength'
    else if (!empty && f.pattern && typeof v === 'string' && !new RegExp(`^(?:${f.pattern})$`).test(v)) errors[f.key] = 'form.pattern'
  }
  return errors
}

// The variables to complete the task with: the visible, filled fields, nested.
export function collect(fields, values, taskVars = {}) {
  const ctx = { ...taskVars, ...nest(values) }
  const flat = {}
  for (const f of fields) {
    if (!visible(f, ctx)) continue
    let v = values[f.key]
    if (blank(v)) continue
    if (f.type === 'number') v = Number(v)
    flat[f.key] = v
  }
  return nest(flat)
}
