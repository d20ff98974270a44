#!/usr/bin/env python3
"""Draws each shipped workflow's diagram (its BPMN DI) as an SVG picture for
docs/workflows.md: pools and lanes, tasks, events, gateways, sequence flows and
their labels, at the positions the model gives them.

Usage: workflow_pictures.py [--check] WORKFLOWS_DIR PICTURES_DIR
  writes PICTURES_DIR/<model>.svg for every WORKFLOWS_DIR/*.bpmn; with --check
  writes nothing and exits 1 when a picture is missing or differs from its
  model (a model was changed without drawing it again).
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
WP = "{http://www.omg.org/spec/DD/20100524/DI}"

TASKS = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
         "manualTask", "callActivity", "subProcess", "transaction"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
TASK_MARK = {"userTask": "人", "serviceTask": "⚙", "scriptTask": "≡", "businessRuleTask": "▦", "receiveTask": "✉",
             "sendTask": "✉", "callActivity": "⊞"}
EVENT_MARK = {"timerEventDefinition": "◷", "messageEventDefinition": "✉", "escalationEventDefinition": "▲",
              "errorEventDefinition": "ϟ", "signalEventDefinition": "△", "terminateEventDefinition": "●",
              "conditionalEventDefinition": "≣", "linkEventDefinition": "→", "compensateEventDefinition": "◀◀"}
GATEWAY_MARK = {"exclusiveGateway": "✕", "parallelGateway": "+", "inclusiveGateway": "○", "eventBasedGateway": "⬠",
                "complexGateway": "✱"}


def bounds(el):
    b = el.find(DC + "Bounds")
    return None if b is None else tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def num(v):
    return ("%.1f" % v).rstrip("0").rstrip(".")


def wrap(text, width_px, size):
    """Lines of at most width_px, counting a CJK character as one em and
    others as half an em; breaks at spaces where it can."""
    lines, line, w = [], "", 0.0
    for ch in text:
        cw = size if ord(ch) > 0x2E80 else size * 0.55
        if w + cw > width_px and line:
            cut = line.rfind(" ")
            if cut > 0 and ord(ch) <= 0x2E80:
                lines.append(line[:cut])
                line = line[cut + 1:]
                w = sum(size if ord(c) > 0x2E80 else size * 0.55 for c in line)
            else:
                lines.append(line)
                line, w = "", 0.0
        line += ch
        w += cw
    if line:
        lines.append(line)
    return lines


def text_block(x, y, w, h, text, size=12, anchor_middle=True, valign="middle"):
    lines = wrap(text, max(w - 6, size), size)
    step = size * 1.25
    if valign == "middle":
        top = y + h / 2 - step * len(lines) / 2 + size * 0.95
    else:
        top = y + size
    out = []
    for i, line in enumerate(lines):
        tx = x + w / 2 if anchor_middle else x
        out.append('<text x="%s" y="%s" font-size="%d"%s>%s</text>' % (
            num(tx), num(top + i * step), size, ' text-anchor="middle"' if anchor_middle else "", escape(line)))
    return out


def draw(path):
    root = ET.parse(path).getroot()
    kinds, names, markers, attached, noninterrupting = {}, {}, {}, set(), set()
    for el in root.iter():
        i = el.get("id")
        if not i or not el.tag.startswith(BPMN):
            continue
        kind = el.tag[len(BPMN):]
        kinds[i] = kind
        names[i] = el.get("name") or ""
        for child in el:
            ck = child.tag[len(BPMN):] if child.tag.startswith(BPMN) else ""
            if ck in EVENT_MARK:
                markers[i] = EVENT_MARK[ck]
        if kind == "boundaryEvent":
            attached.add(i)
            if el.get("cancelActivity") == "false":
                noninterrupting.add(i)
    shapes, edges = [], []
    for plane in root.iter(DI + "BPMNPlane"):
        for el in plane:
            if el.tag == DI + "BPMNShape":
                shapes.append(el)
            elif el.tag == DI + "BPMNEdge":
                edges.append(el)
    xs, ys = [], []
    for s in shapes:
        b = bounds(s)
        if b:
            xs += [b[0], b[0] + b[2]]
            ys += [b[1], b[1] + b[3]]
        lb = s.find(DI + "BPMNLabel")
        if lb is not None and bounds(lb):
            lb = bounds(lb)
            xs += [lb[0], lb[0] + lb[2]]
            ys += [lb[1], lb[1] + lb[3]]
    for e in edges:
        for w in e.findall(WP + "waypoint"):
            xs.append(float(w.get("x")))
            ys.append(float(w.get("y")))
    x0, y0 = min(xs) - 10, min(ys) - 10
    width, height = max(xs) - x0 + 10, max(ys) - y0 + 10
    out = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="%s %s %s %s" width="%s" height="%s" '
           'font-family="Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif">' % (
               num(x0), num(y0), num(width), num(height), num(width), num(height)),
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>',
           '<rect x="%s" y="%s" width="%s" height="%s" fill="#fff"/>' % (num(x0), num(y0), num(width), num(height))]
    # Containers first (pools, lanes, sub-processes), then the rest on top.
    order = sorted(shapes, key=lambda s: 0 if kinds.get(s.get("bpmnElement")) in ("participant", "lane") else
                   1 if kinds.get(s.get("bpmnElement")) in ("subProcess", "transaction") else 2)
    boundary_later = []
    for s in order:
        el = s.get("bpmnElement")
        kind = kinds.get(el, "")
        b = bounds(s)
        if not b:
            continue
        x, y, w, h = b
        name = names.get(el, "")
        if kind in ("participant", "lane"):
            out.append('<rect x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#555" stroke-width="1.5"/>' % (
                num(x), num(y), num(w), num(h)))
            out.append('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#555"/>' % (num(x + 30), num(y), num(x + 30), num(y + h)))
            cx, cy = x + 15, y + h / 2
            out.append('<text x="%s" y="%s" font-size="13" text-anchor="middle" transform="rotate(-90 %s %s)">%s</text>' % (
                num(cx), num(cy + 4), num(cx), num(cy), escape(name)))
            continue
        if kind in TASKS:
            fill = "none" if kind in ("subProcess", "transaction") else "#fff"
            out.append('<rect x="%s" y="%s" width="%s" height="%s" rx="10" fill="%s" stroke="#222" stroke-width="%s"/>' % (
                num(x), num(y), num(w), num(h), fill, "3" if kind == "callActivity" else "1.5"))
            if kind in TASK_MARK:
                out.append('<text x="%s" y="%s" font-size="12" fill="#666">%s</text>' % (num(x + 5), num(y + 14), TASK_MARK[kind]))
            if kind in ("subProcess", "transaction"):
                out += text_block(x + 4, y + 2, w - 8, 20, name, 12, valign="top")
            else:
                out += text_block(x, y, w, h, name, 12)
        elif kind in EVENTS:
            if el in attached:
                boundary_later.append((s, el, kind, b))
                continue
            out += event_svg(el, kind, b, markers, noninterrupting)
        elif kind in GATEWAYS:
            cx, cy = x + w / 2, y + h / 2
            out.append('<polygon points="%s,%s %s,%s %s,%s %s,%s" fill="#fff" stroke="#222" stroke-width="1.5"/>' % (
                num(cx), num(y), num(x + w), num(cy), num(cx), num(y + h), num(x), num(cy)))
            out.append('<text x="%s" y="%s" font-size="20" text-anchor="middle">%s</text>' % (
                num(cx), num(cy + 7), GATEWAY_MARK.get(kind, "")))
        else:
            continue
        lb = s.find(DI + "BPMNLabel")
        if kind in EVENTS or kind in GATEWAYS:
            if lb is not None and bounds(lb) and name:
                out += text_block(*bounds(lb), name, 11)
    for s, el, kind, b in boundary_later:
        out += event_svg(el, kind, b, markers, noninterrupting)
        lb = s.find(DI + "BPMNLabel")
        if lb is not None and bounds(lb) and names.get(el):
            out += text_block(*bounds(lb), names[el], 11)
    for e in edges:
        el = e.get("bpmnElement")
        pts = [(float(w.get("x")), float(w.get("y"))) for w in e.findall(WP + "waypoint")]
        if len(pts) < 2:
            continue
        arrow = ' marker-end="url(#arrow)"' if kinds.get(el) == "sequenceFlow" else ""
        out.append('<polyline points="%s" fill="none" stroke="#333" stroke-width="1.3"%s/>' % (
            " ".join("%s,%s" % (num(px), num(py)) for px, py in pts), arrow))
        lb = e.find(DI + "BPMNLabel")
        if lb is not None and bounds(lb) and names.get(el):
            lx, ly, lw, lh = bounds(lb)  # one line, however narrow the label's box
            out.append('<text x="%s" y="%s" font-size="11">%s</text>' % (num(lx), num(ly + 11), escape(names[el])))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def event_svg(el, kind, b, markers, noninterrupting):
    x, y, w, h = b
    cx, cy, r = x + w / 2, y + h / 2, w / 2
    dash = ' stroke-dasharray="4 3"' if el in noninterrupting else ""
    stroke = "3.5" if kind == "endEvent" else "1.5"
    out = ['<circle cx="%s" cy="%s" r="%s" fill="#fff" stroke="#222" stroke-width="%s"%s/>' % (
        num(cx), num(cy), num(r), stroke, dash)]
    if kind in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
        out.append('<circle cx="%s" cy="%s" r="%s" fill="none" stroke="#222" stroke-width="1"%s/>' % (
            num(cx), num(cy), num(r - 3), dash))
    if el in markers:
        out.append('<text x="%s" y="%s" font-size="15" text-anchor="middle">%s</text>' % (num(cx), num(cy + 5), markers[el]))
    return out


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    models, pictures = args
    stale = []
    for model in sorted(glob.glob(os.path.join(models, "*.bpmn"))):
        svg = draw(model)
        target = os.path.join(pictures, os.path.basename(model)[:-5] + ".svg")
        old = open(target, encoding="utf-8").read() if os.path.exists(target) else None
        if old == svg:
            continue
        if check:
            stale.append(target)
        else:
            os.makedirs(pictures, exist_ok=True)
            with open(target, "w", encoding="utf-8") as f:
                f.write(svg)
            print("drew", target)
    for t in stale:
        print("%s does not show its model; run tools/workflow_pictures.py workflows docs/pictures" % t, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
