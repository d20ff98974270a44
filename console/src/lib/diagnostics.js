// Turns the server's validation lines ("file:line:col: error BS202: sentence (element id)")
// into {element, text, line, column, code}.
export function parseDiagnostics(lines) {
  return (lines || []).map((raw) => {
    const line = String(raw)
    const m = /^(.*?):(\d+):(\d+):\s*(error|warning)\s+(BS\d+):\s*(.*)$/.exec(line)
    let text = m ? `${m[5]}: ${m[6]}` : line
    let element = ''
    const tail = /\(([^()]+)\)\s*$/.exec(m ? m[6] : line)
    if (tail) {
      element = tail[1].trim()
      text = text.replace(/\s*\([^()]+\)\s*$/, '')
    }
    return { element, text, line: m ? Number(m[2]) : 0, column: m ? Number(m[3]) : 0, code: m ? m[5] : '', severity: m ? m[4] : 'error', raw: line }
  })
}
