#!/usr/bin/env python3
"""The shipped models are laid out cleanly for bpmn-js and Camunda Modeler:
every flow node has a shape and every sequence flow an edge that starts on its
source and ends on its target; no two shapes overlap (a boundary event sits on
its activity, a sub-process holds its own elements); no edge runs through a
shape or a label other than its own ends; no edge label covers a shape.

Usage: workflow_layout_test.py WORKFLOWS_DIR
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
WP = "{http://www.omg.org/spec/DD/20100524/DI}"

NODES = {"task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask", "manualTask",
         "callActivity", "subProcess", "transaction", "startEvent", "endEvent", "intermediateCatchEvent",
         "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
         "eventBasedGateway", "complexGateway"}
CONTAINERS = {"subProcess", "transaction"}


def box(el):
    b = el.find(DC + "Bounds")
    return None if b is None else tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def overlap(a, b, slack=0.5):
    return (a[0] < b[0] + b[2] - slack and b[0] < a[0] + a[2] - slack and
            a[1] < b[1] + b[3] - slack and b[1] < a[1] + a[3] - slack)


def check(path):
    problems = []
    root = ET.parse(path).getroot()
    kind, attached, flows, parent = {}, {}, {}, {}
    for el in root.iter():
        if not el.tag.startswith(BPMN) or not el.get("id"):
            continue
        k = el.tag[len(BPMN):]
        kind[el.get("id")] = k
        if el.get("attachedToRef"):
            attached[el.get("id")] = el.get("attachedToRef")
        if k == "sequenceFlow":
            flows[el.get("id")] = (el.get("sourceRef"), el.get("targetRef"))
        if k in CONTAINERS:
            for child in el:
                if child.get("id"):
                    parent[child.get("id")] = el.get("id")
    shapes, labels, edges = {}, {}, {}
    for s in root.iter(DI + "BPMNShape"):
        e = s.get("bpmnElement")
        if box(s):
            shapes[e] = box(s)
        lb = s.find(DI + "BPMNLabel")
        if lb is not None and box(lb):
            labels[e] = box(lb)
    for e in root.iter(DI + "BPMNEdge"):
        edges[e.get("bpmnElement")] = ([(float(w.get("x")), float(w.get("y"))) for w in e.findall(WP + "waypoint")],
                                       box(e.find(DI + "BPMNLabel")) if e.find(DI + "BPMNLabel") is not None else None)
    nodes = {i: shapes[i] for i in shapes if kind.get(i) in NODES}
    for i, k in kind.items():
        if k in NODES and i not in shapes:
            problems.append("%s has no shape" % i)
    for f in flows:
        if f not in edges:
            problems.append("sequence flow %s has no edge" % f)

    def inside(a, b):  # a is b's child, grandchild, ...
        while a in parent:
            a = parent[a]
            if a == b:
                return True
        return False

    def related(a, b):
        return (attached.get(a) == b or attached.get(b) == a or inside(a, b) or inside(b, a) or
                (a in attached and inside(b, attached[a])) or (b in attached and inside(a, attached[b])))

    ids = sorted(nodes)
    for n, a in enumerate(ids):
        for b in ids[n + 1:]:
            if not related(a, b) and overlap(nodes[a], nodes[b]):
                problems.append("the shapes of %s and %s overlap" % (a, b))
    for f, (src, tgt) in flows.items():
        if f not in edges:
            continue
        points, label = edges[f]
        if len(points) < 2:
            problems.append("the edge of %s has fewer than two waypoints" % f)
            continue
        for end, point in ((src, points[0]), (tgt, points[-1])):
            b = nodes.get(end)
            if b and not (b[0] - 1 <= point[0] <= b[0] + b[2] + 1 and b[1] - 1 <= point[1] <= b[1] + b[3] + 1):
                problems.append("the edge of %s does not touch %s at %s" % (f, end, point))
        ends = {src, tgt, attached.get(src), attached.get(tgt)}
        obstacles = [(i, b) for i, b in nodes.items() if i not in ends and kind.get(i) not in CONTAINERS
                     and attached.get(i) not in (src, tgt)]
        obstacles += [("the label of " + i, b) for i, b in labels.items() if i not in ends]
        for (x1, y1), (x2, y2) in zip(points, points[1:]):
            lo_x, hi_x, lo_y, hi_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
            for name, b in obstacles:
                if lo_x < b[0] + b[2] - 0.5 and hi_x > b[0] + 0.5 and lo_y < b[1] + b[3] - 0.5 and hi_y > b[1] + 0.5:
                    problems.append("the edge of %s runs through %s" % (f, name))
        if label:
            for i, b in nodes.items():
                if kind.get(i) not in CONTAINERS and overlap(label, b):
                    problems.append("the label of %s covers %s" % (f, i))
    return problems


def main():
    folder = sys.argv[1]
    failed = False
    models = sorted(glob.glob(os.path.join(folder, "*.bpmn")))
    if not models:
        print("no models in %s" % folder, file=sys.stderr)
        return 1
    for model in models:
        for p in check(model):
            failed = True
            print("%s: %s" % (os.path.basename(model), p), file=sys.stderr)
    print("%d models checked" % len(models))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
