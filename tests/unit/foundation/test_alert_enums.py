"""The Python alert enums carry exactly the values of the generated Alert message."""
from carebot_interfaces.msg import Alert

from carebot.alert_enums import AlertKind, AlertState, Severity


def test_enums_match_the_message_constants():
    for enum, prefix in ((AlertKind, "KIND_"), (Severity, "SEVERITY_"), (AlertState, "STATE_")):
        constants = {name[len(prefix):]: getattr(Alert, name) for name in dir(Alert) if name.startswith(prefix)}
        assert constants == {member.name: member.value for member in enum}, prefix
