"""runpod.serverless.utils.rp_validator: checks a job's input against a schema, as the official SDK does.

A schema maps each input name to its rules: "type" (a Python type), "required" (bool), "default" (for
an input that is not required) and "constraints" (a function of the value that returns True when it
is acceptable). A rule set may also be given as JSON text.
"""
import json


def validate(raw_input, schema):
    """Returns {"validated_input": input with defaults filled in} or {"errors": [sentences]}."""
    errors = []
    validated = dict(raw_input)

    for name in raw_input:
        if name not in schema:
            errors.append("Unexpected input. {} is not a valid input option.".format(name))

    for name, rules in list(schema.items()):
        if not isinstance(rules, dict):
            try:
                schema[name] = json.loads(rules)
            except (TypeError, ValueError):
                errors.append("Schema error, {} is not a dictionary.".format(name))

    rule_sets = [(name, rules) for name, rules in schema.items() if isinstance(rules, dict)]
    for name, rules in rule_sets:
        if "type" not in rules:
            errors.append("Schema error, missing type for {}.".format(name))
        if "required" not in rules or (rules["required"] and name not in raw_input):
            errors.append("{} is a required input.".format(name))
        elif not rules["required"] and name not in raw_input:
            if "default" in rules:
                validated[name] = rules["default"]
            else:
                errors.append("Schema error, missing default value for {}.".format(name))

    for name, rules in rule_sets:
        if name in validated and "type" in rules:
            value = validated[name]
            if rules["type"] is float and type(value) in (int, float):
                value = validated[name] = float(value)
            # As in the SDK, a value of its default's type passes without further checks, constraints included.
            if "default" in rules and isinstance(value, type(rules["default"])):
                continue
            if not isinstance(value, rules["type"]):
                errors.append("{} should be {} type, not {}.".format(name, rules["type"], type(value)))
        if "constraints" in rules and not rules["constraints"](validated.get(name)):
            errors.append("{} does not meet the constraints.".format(name))

    return {"errors": errors} if errors else {"validated_input": validated}
