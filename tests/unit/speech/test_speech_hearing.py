"""speech/hearing: true while a person's words are heard or recognised, edges only."""
from carebot.speech.hearing import HearingSignal


def test_hearing_spans_listening_and_recognition_and_reports_edges_only():
    edges: list[bool] = []
    signal = HearingSignal(edges.append)
    signal.listening(False)
    assert edges == []                      # no change, nothing said
    signal.listening(True)
    signal.listening(True)
    signal.recognising(True)                # the utterance is queued before the detector's end
    signal.listening(False)                 # still recognising: no gap
    assert edges == [True]
    signal.recognising(False)
    assert edges == [True, False] and not signal.hearing
    signal.recognising(True)                # a held utterance recognised without new words
    signal.recognising(False)
    assert edges == [True, False, True, False]
