"""Perception reports a fallen person up again but never closes the incident."""
from carebot.alert_enums import AlertState
from carebot.perception.fall_alerts import IncidentStates, up_again_message


RAISED = "Fall: lounge, by the sofa, down 3 s\ntrack 3, fall score 0.81"


def test_up_again_is_an_update_while_the_incident_is_only_raised():
    incidents = IncidentStates()
    incidents.raised("inc-1", RAISED, raised_at=12.5)
    message, raised_at = incidents.up_again("inc-1")
    assert message == up_again_message(RAISED)
    head, details = message.split("\n", 1)
    assert head.startswith("Fall: lounge, by the sofa, down 3 s; seen up again") and "resolve" in head
    assert details == "track 3, fall score 0.81" and raised_at == 12.5     # numbers stay in the details
    incidents.heard("inc-1", int(AlertState.RAISED))          # our own alert coming back
    assert incidents.up_again("inc-1") is not None


def test_up_again_in_the_sites_language():
    incidents = IncidentStates()
    incidents.raised("inc-1", "跌倒：休息室，沙发旁，已倒地 3 秒\n跟踪编号 3，跌倒置信度 0.81", raised_at=1.0)
    message, _ = incidents.up_again("inc-1", "zh-CN")
    assert message.split("\n")[0] == "跌倒：休息室，沙发旁，已倒地 3 秒。已看到其重新站起，请工作人员查看后解除"


def test_nothing_is_sent_once_the_brain_or_staff_took_the_incident_further():
    for later in (AlertState.ESCALATED, AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
        incidents = IncidentStates()
        incidents.raised("inc-1", "fallen", raised_at=1.0)
        incidents.heard("inc-1", int(later))
        incidents.heard("inc-1", int(AlertState.RAISED))      # a late repeat does not undo it
        assert incidents.up_again("inc-1") is None
        assert incidents.get("inc-1").state is later


def test_unknown_incidents_and_bad_states_are_ignored():
    incidents = IncidentStates(limit=2)
    incidents.heard("someone-else", int(AlertState.ESCALATED))
    assert incidents.get("someone-else") is None and incidents.up_again("someone-else") is None
    incidents.raised("a", "fallen", 1.0)
    incidents.heard("a", 99)                                  # not a state: ignored, not a crash
    assert incidents.get("a").state is AlertState.RAISED
    incidents.raised("b", "fallen", 2.0)
    incidents.raised("c", "fallen", 3.0)                      # the oldest is forgotten
    assert incidents.get("a") is None and incidents.get("c") is not None
