// Evaluates the small part of FEEL that form conditions use (visibleWhen,
// requiredWhen): paths (a.b), literals (true, false, null, numbers, "strings"),
// comparisons (= != < <= > >=), and, or, not(…) and parentheses. Anything else
// throws, and the caller treats the condition as unknown (the server checks
// the values again when the task is completed).

function tokenize(src) {
  const out = []
  let i = 0
  while (i < src.length) {
    const c = src[i]
    if (/\s/.test(c)) { i += 1; continue }
    if (c === '"') {
      let j = i + 1
      let s = ''
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\' && j + 1 < src.length) { s += src[j + 1]; j += 2 } else { s += src[j]; j += 1 }
      }
      if (j >= src.length) throw new Error('unterminated string')
      out.push({ t: 'str', v: s })
      i = j + 1
      continue
    }
    const two = src.slice(i, i + 2)
    if (['!=', '<=', '>='].includes(two)) { out.push({ t: 'op', v: two }); i += 2; continue }
    if ('=<>().,'.includes(c)) { out.push({ t: c === '(' || c === ')' || c === '.' || c === ',' ? c : 'op', v: c }); i += 1; continue }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i))
    if (num) { out.push({ t: 'num', v: Number(num[0]) }); i += num[0].length; continue }
    const id = /^[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*/.exec(src.slice(i))
    if (id) { out.push({ t: 'id', v: id[0] }); i += id[0].length; continue }
    throw new Error(`unexpected ${c}`)
  }
  return out
}

export function evaluate(src, ctx) {
  const toks = tokenize(String(src))
  let p = 0
  const peek = () => toks[p]
  const take = () => toks[p++]
  const isWord = (w) => peek() && peek().t === 'id' && peek().v === w

  function primary() {
    const tk = take()
    if (!tk) throw new Error('unexpected end')
    if (tk.t === 'num' || tk.t === 'str') return tk.v
    if (tk.t === '(') {
      const v = or()
      if (!peek() || take().t !== ')') throw new Error('missing )')
      return v
    }
    if (tk.t === 'id') {
      if (tk.v === 'true') return true
      if (tk.v === 'false') return false
      if (tk.v === 'null') return null
      if (tk.v === 'not' && peek() && peek().t === '(') {
        take()
        const v = or()
        if (!peek() || take().t !== ')') throw new Error('missing )')
        return v === true ? false : v === false ? true : null
      }
      let v = ctx[tk.v]
      while (peek() && peek().t === '.') {
        take()
        const name = take()
        if (!name || name.t !== 'id') throw new Error('bad path')
        v = v && typeof v === 'object' ? v[name.v] : null
      }
      return v === undefined ? null : v
    }
    throw new Error(`unexpected ${tk.v}`)
  }

  function comparison() {
    const left = primary()
    if (peek() && peek().t === 'op') {
      const op = take().v
      const right = primary()
      switch (op) {
        case '=': return left === right || (left === null && right === null)
        case '!=': return !(left === right || (left === null && right === null))
        default:
          if (left === null || right === null) return null
          if (op === '<') return left < right
          if (op === '<=') return left <= right
          if (op === '>') return left > right
          return left >= right
      }
    }
    return left
  }

  function and() {
    let v = comparison()
    while (isWord('and')) {
      take()
      const r = comparison()
      v = v === false || r === false ? false : v === true && r === true ? true : null
    }
    return v
  }

  function or() {
    let v = and()
    while (isWord('or')) {
      take()
      const r = and()
      v = v === true || r === true ? true : v === false && r === false ? false : null
    }
    return v
  }

  const v = or()
  if (p !== toks.length) throw new Error('trailing input')
  return v
}
