"""
Validates Home Assistant MQTT discovery messages with Home Assistant's own schemas (the
`homeassistant` package from PyPI): reads a JSON list of {topic, payload} on stdin and prints a
JSON list of problems (empty: all valid). A message is invalid when its platform's DISCOVERY_SCHEMA
refuses it (types, required options, template syntax), or when the schema drops one of its keys
(Home Assistant would ignore an option it does not know: a typo). Run by test/unit/homeAssistant.test.ts.
"""
import json
import sys

# Home Assistant's own import order: importing an MQTT platform first is a circular import.
import homeassistant.components.persistent_notification  # noqa: F401
from homeassistant.components.mqtt import button, number, select, sensor, switch
from homeassistant.components.mqtt.abbreviations import ABBREVIATIONS, DEVICE_ABBREVIATIONS
from homeassistant.const import __version__ as HA_VERSION

SCHEMAS = {
    "switch": switch.DISCOVERY_SCHEMA,
    "button": button.DISCOVERY_SCHEMA,
    "number": number.DISCOVERY_SCHEMA,
    "select": select.DISCOVERY_SCHEMA,
    "sensor": sensor.DISCOVERY_SCHEMA,
}


def expand(payload):
    """Home Assistant's discovery expands abbreviated keys first (cmd_t → command_topic…)."""
    payload = {ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    if isinstance(payload.get("device"), dict):
        payload["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in payload["device"].items()}
    return payload


problems = []
messages = json.load(sys.stdin)
for message in messages:
    topic = message["topic"]
    parts = topic.split("/")
    component = parts[1] if len(parts) == 5 and parts[4] == "config" else None
    if component not in SCHEMAS:
        problems.append({"topic": topic, "problem": "not a <prefix>/<component>/<node>/<object>/config topic of a known component"})
        continue
    payload = expand(json.loads(message["payload"]))
    try:
        valid = SCHEMAS[component](payload)
    except Exception as err:  # voluptuous.Invalid and its kin
        problems.append({"topic": topic, "problem": str(err)})
        continue
    dropped = sorted(set(payload) - set(valid))
    if dropped:
        problems.append({"topic": topic, "problem": f"options Home Assistant does not know: {dropped}"})

print(json.dumps({"homeassistant": HA_VERSION, "checked": len(messages), "problems": problems}))
