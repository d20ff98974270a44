"""Checks a JSON value against a schema of docs/api/openapi.yaml.

Covers the part of JSON Schema the spec uses: $ref, allOf, oneOf, anyOf,
type (with nullable), enum, properties, required, additionalProperties,
items, minItems/maxItems, minLength/maxLength, minimum/maximum, pattern and
the date-time format. Examples are held to more than the spec demands of a
client: a member the schema does not name is an error unless the schema
allows other members explicitly, so an example cannot show a member the API
does not have.
"""
import datetime
import re


class Spec:
    def __init__(self, document):
        self.doc = document

    def resolve(self, schema):
        while isinstance(schema, dict) and "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref}")
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
            schema = node
        return schema

    def operation(self, method, path):
        """The operation of METHOD on a concrete path (or a path template), or None."""
        path = path.split("?", 1)[0]
        for template, ops in self.doc.get("paths", {}).items():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if template == path or re.match(pattern, path):
                op = ops.get(method.lower())
                if op is not None:
                    return template, op
        return None

    def request_schema(self, method, path):
        found = self.operation(method, path)
        if not found:
            return None
        body = self.resolve(found[1].get("requestBody", {}))
        return self.resolve(body.get("content", {}).get("application/json", {}).get("schema"))

    def response_schema(self, method, path, status):
        found = self.operation(method, path)
        if not found:
            return None
        response = self.resolve(found[1].get("responses", {}).get(str(status)))
        if not response:
            return None
        content = response.get("content", {})
        media = content.get("application/json") or content.get("application/problem+json") or {}
        return self.resolve(media.get("schema"))

    def roles(self, method, path):
        found = self.operation(method, path)
        return found[1].get("x-banshi-roles", []) if found else []


def _is_date_time(text):
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def validate(spec, value, schema, where="$"):
    """The problems of `value` against `schema`, one sentence each (empty: valid)."""
    schema = spec.resolve(schema)
    if schema is None or schema == {}:
        return []
    if value is None and schema.get("nullable"):
        return []
    if "allOf" in schema:
        # One object schema of all the parts, so a member one part names is
        # not unknown to another.
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for sub in map(spec.resolve, schema["allOf"]):
            for k, v in sub.items():
                if k == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **v}
                elif k == "required":
                    merged["required"] = merged.get("required", []) + v
                else:
                    merged.setdefault(k, v)
        return validate(spec, value, merged, where)
    errors = []
    if "oneOf" in schema:
        matching = sum(1 for sub in schema["oneOf"] if not validate(spec, value, sub, where))
        if matching != 1:
            errors.append(f"{where}: matches {matching} of the oneOf alternatives, not exactly one")
    if "anyOf" in schema and not any(not validate(spec, value, sub, where) for sub in schema["anyOf"]):
        errors.append(f"{where}: matches none of the anyOf alternatives")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            errors.append(f"{where}: {value!r} is not of type {'/'.join(types)}")
            return errors
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not _is_date_time(value):
            errors.append(f"{where}: {value!r} is not an ISO 8601 date-time")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: above {schema['maximum']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(spec, item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: the required member {name} is missing")
        extra = schema.get("additionalProperties")
        for name, member in value.items():
            if name in properties:
                errors += validate(spec, member, properties[name], f"{where}.{name}")
            elif isinstance(extra, dict):
                errors += validate(spec, member, extra, f"{where}.{name}")
            elif extra is False or (properties and extra is not True):
                errors.append(f"{where}: the member {name} is not in the schema")
    return errors
