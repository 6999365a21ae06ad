"""Perception reports a fallen person up again but never closes the incident."""
from carebot.alert_enums import AlertState
from carebot.perception.fall_alerts import IncidentStates, up_again_message


def test_up_again_is_an_update_while_the_incident_is_only_raised():
    incidents = IncidentStates()
    incidents.raised("inc-1", "Person (track 3) appears to have fallen", raised_at=12.5)
    message, raised_at = incidents.up_again("inc-1", 7)
    assert message == up_again_message("Person (track 3) appears to have fallen", 7)
    assert message.startswith("Person (track 3) appears to have fallen | ") and "track 7" in message
    assert "resolve" in message and raised_at == 12.5
    incidents.heard("inc-1", int(AlertState.RAISED))          # our own alert coming back
    assert incidents.up_again("inc-1", 7) is not None


def test_nothing_is_sent_once_the_brain_or_staff_took_the_incident_further():
    for later in (AlertState.ESCALATED, AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
        incidents = IncidentStates()
        incidents.raised("inc-1", "fallen", raised_at=1.0)
        incidents.heard("inc-1", int(later))
        incidents.heard("inc-1", int(AlertState.RAISED))      # a late repeat does not undo it
        assert incidents.up_again("inc-1", 3) is None
        assert incidents.get("inc-1").state is later


def test_unknown_incidents_and_bad_states_are_ignored():
    incidents = IncidentStates(limit=2)
    incidents.heard("someone-else", int(AlertState.ESCALATED))
    assert incidents.get("someone-else") is None and incidents.up_again("someone-else", 1) is None
    incidents.raised("a", "fallen", 1.0)
    incidents.heard("a", 99)                                  # not a state: ignored, not a crash
    assert incidents.get("a").state is AlertState.RAISED
    incidents.raised("b", "fallen", 2.0)
    incidents.raised("c", "fallen", 3.0)                      # the oldest is forgotten
    assert incidents.get("a") is None and incidents.get("c") is not None
