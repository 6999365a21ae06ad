"""The LLM reply guard (issue 13) and the reasoning filters: what a model wrote is checked before it is spoken.

A sentence is refused when it is in the wrong language, in a language the backend cannot
write intelligibly, without meaning, repetitive or too long for speech; a normal reply in
the right language passes. Reasoning (``<think>`` blocks) is removed before anything is
spoken (``carebot.brain.sentences``, used by ``llm_client``).
"""
from types import SimpleNamespace

import pytest

from carebot.brain.llm_client import Backend, LLMConfig, parse_decision_message, parse_tool_message
from carebot.brain.reply_guard import MAX_CHARS, MAX_SENTENCES, Refusal, ReplyGuard
from carebot.brain.sentences import SentenceSplitter, ThinkFilter, split_sentences, strip_think
from carebot.brain.utterance import known_words

# What the bundled 135M model wrote when asked in Mandarin (quoted in reply_guard's docstring).
EMBEDDED_NONSENSE_ZH = "没有什么可能的话,我是老师. 家里看到你"


def judge(language: str, sentence: str, **kw):
    return ReplyGuard(language, **kw).check(sentence)


# ------------------------------------------------------------------ a normal reply passes
@pytest.mark.parametrize("language, sentences", [
    ("en", ["Lunch is served in the dining room from twelve.", "Would you like me to take you there?"]),
    ("zh", ["午饭在餐厅吃，十二点开始。", "要我带您过去吗？"]),
])
def test_a_normal_reply_in_the_right_language_passes(language, sentences):
    guard = ReplyGuard(language, request="I'm hungry, is there food?" if language == "en" else "我饿了，有吃的吗？")
    verdicts = [guard.check(s) for s in sentences]
    assert all(v.ok and v.refusal is None for v in verdicts)
    assert guard.accepted == sentences and guard.refused is None
    assert guard.text == ("" if language == "zh" else " ").join(sentences)


# ------------------------------------------------------------------ wrong language
@pytest.mark.parametrize("language, sentence", [
    ("zh", "Lunch is served at noon."),                 # a Mandarin request answered in English
    ("zh", "OK, lunch is at 12 午饭."),                 # mostly Latin letters
    ("en", "午饭十二点开始。"),                          # an English request answered in Mandarin
    ("en", "Lunch is at noon, 谢谢."),                  # Chinese characters slipped into English
])
def test_a_reply_in_the_wrong_language_is_refused(language, sentence):
    verdict = judge(language, sentence)
    assert not verdict.ok and verdict.refusal is Refusal.WRONG_LANGUAGE


def test_the_embedded_models_mandarin_is_never_spoken():
    """The 135M model's Mandarin was measured to be nonsense: its backend trusts English only."""
    embedded = LLMConfig(backend=Backend.EMBEDDED).trusted_languages
    assert embedded == ("en",)
    assert set(LLMConfig(backend=Backend.DEEPSEEK).trusted_languages) == {"en", "zh"}
    for sentence in (EMBEDDED_NONSENSE_ZH, "午饭在餐厅吃，十二点开始。"):
        verdict = judge("zh", sentence, trusted_languages=embedded)
        assert not verdict.ok and verdict.refusal is Refusal.UNTRUSTED_LANGUAGE
    # Its English is still spoken.
    assert judge("en", "Lunch is served in the dining room.", trusted_languages=embedded).ok


# ------------------------------------------------------------------ without meaning
@pytest.mark.parametrize("language, sentence", [
    ("zh", "哈哈哈哈哈哈哈哈"),          # one character looping
    ("zh", "我我我我我我"),
    ("zh", "好的好的好的好的"),          # a word looping
    ("zh", "您好您好您好您好呀"),
    ("en", "the the the the"),
    ("en", "I like tea and I like tea and I like tea and I like tea."),
])
def test_repeated_characters_and_looping_phrases_are_refused(language, sentence):
    verdict = judge(language, sentence)
    assert not verdict.ok and verdict.refusal is Refusal.REPETITIVE


@pytest.mark.parametrize("sentence", ["谢谢谢。", "谢谢您，我很好。", "妈妈明天来看我。"])
def test_short_reduplication_is_not_a_loop(sentence):
    """谢谢谢 is three characters, 妈妈 a word: not loops (a real loop is longer)."""
    assert judge("zh", sentence).ok


def test_english_made_of_non_words_is_refused():
    assert known_words(), "the English vocabulary (MiniLM's) must ship with the stack"
    verdict = judge("en", "Blorf snazzle quimbly tronk wib.")
    assert not verdict.ok and verdict.refusal is Refusal.MEANINGLESS and "real words" in verdict.why
    assert judge("en", "The garden is lovely this morning.").ok


@pytest.mark.parametrize("language, sentence, refusal", [
    ("en", "%%%% $$$ ### @@@ !!!", Refusal.EMPTY),
    ("en", "   ", Refusal.EMPTY),
    ("en", "...", Refusal.EMPTY),
    ("en", "Hello \ufffd\ufffd there friend", Refusal.MEANINGLESS),       # broken decoding
    ("en", "a} {b} [c] <<d>> ~~e~~ |f| ^^^ ***", Refusal.MEANINGLESS),    # symbol soup
    ("zh", "好}}}{{{###@@@!!!", Refusal.MEANINGLESS),
])
def test_symbols_and_empty_text_are_refused(language, sentence, refusal):
    verdict = judge(language, sentence)
    assert not verdict.ok and verdict.refusal is refusal


@pytest.mark.parametrize("language, asked, sentence", [
    ("en", "I feel like a change of scenery", "I feel like a change of scenery."),
    ("en", "Can you tell me a story please", "Can you tell me a story, please?"),
    ("zh", "我有点孤单，陪我聊聊天吧", "我有点孤单，陪我聊聊天吧。"),
])
def test_an_echo_of_the_request_is_refused(language, asked, sentence):
    verdict = judge(language, sentence, request=asked)
    assert not verdict.ok and verdict.refusal is Refusal.MEANINGLESS and "echo" in verdict.why


@pytest.mark.parametrize("language, asked, answer", [
    ("en", "What is the capital of Peru?", "The capital of Peru is Lima."),
    ("en", "When is lunch?", "Lunch is served in the dining room from twelve."),
    ("en", "Where is the garden?", "The garden is behind the lounge."),
    ("zh", "北京在哪里？", "北京在中国的北方。"),
])
def test_an_answer_that_restates_the_question_is_not_an_echo(language, asked, answer):
    """An answer names what was asked about ("The capital of Peru is ..."): that is meaning, not an echo."""
    verdict = judge(language, answer, request=asked)
    assert verdict.ok, verdict


# ------------------------------------------------------------------ repetitive
def test_a_sentence_said_already_in_this_reply_is_refused_and_ends_the_reply():
    guard = ReplyGuard("en")
    assert guard.check("Hello there.").ok
    assert guard.check("How are you today?").ok
    again = guard.check("Hello there!")                         # same words, other punctuation
    assert not again.ok and again.refusal is Refusal.REPETITIVE
    # After one refusal every later sentence is refused too, even a good one.
    later = guard.check("The weather is lovely.")
    assert not later.ok and later is again
    assert guard.accepted == ["Hello there.", "How are you today?"]
    assert guard.text == "Hello there. How are you today?"


def test_the_same_reply_as_last_time_is_refused():
    previous = "Of course, I'd love to chat."
    verdict = judge("en", "of course, I'd love to chat!", previous_reply=previous)
    assert not verdict.ok and verdict.refusal is Refusal.REPETITIVE and "last time" in verdict.why
    # A different opening is fine.
    assert judge("en", "What shall we talk about?", previous_reply=previous).ok
    zh = judge("zh", "好呀，我最喜欢聊天了。", previous_reply="好呀，我最喜欢聊天了！")
    assert not zh.ok and zh.refusal is Refusal.REPETITIVE


@pytest.mark.parametrize("language, previous", [
    ("en", "A change of scenery sounds lovely. Shall we go to the lounge?"),
    ("zh", "换换环境挺好的。我们去客厅坐坐好吗？"),
])
def test_the_same_reply_of_several_sentences_as_last_time_is_refused(language, previous):
    """The robot's last reply said again, sentence by sentence, is still the same reply as last time."""
    guard = ReplyGuard(language, previous_reply=previous)
    for sentence in split_sentences(previous):
        guard.check(sentence)
    assert guard.refused is not None and guard.refused.refusal is Refusal.REPETITIVE, guard.accepted


# ------------------------------------------------------------------ too long for speech
def test_more_sentences_than_speech_allows_are_refused():
    guard = ReplyGuard("en")
    sentences = ["Lunch is at noon.", "It is in the dining room.", "The menu is on the board.",
                 "Please come early.", "Enjoy your meal."]
    verdicts = [guard.check(s) for s in sentences]
    assert [v.ok for v in verdicts] == [True] * MAX_SENTENCES + [False]
    assert verdicts[-1].refusal is Refusal.TOO_LONG
    assert len(guard.accepted) == MAX_SENTENCES


LONG = {
    "en": ("The morning exercise class meets in the lounge at ten, and everyone is welcome to join, whatever their "
           "fitness. Afterwards there is tea with biscuits by the window, while the gardener usually waters the roses "
           "outside. On Fridays a film is shown after dinner; last week they watched an old musical that many "
           "residents remembered fondly from their own youth, singing along quietly."),
    "zh": ("每天早上十点，大家在客厅做早操，不管身体怎么样都可以参加。做完操以后，窗边有茶和饼干，园丁一般会在外面给月季浇水。"
           "每周五晚饭后放电影，上个星期放的是一部老歌舞片，很多老人年轻时就看过，边看边轻轻地跟着唱，气氛特别温馨热闹。"
           "下午三点还有音乐和棋牌活动，欢迎您来。护士站就在走廊的尽头，洗手间旁边，白天和夜里都有护士值班，有事随时可以去找她们。"),
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_reply_longer_than_speech_allows_is_refused(language):
    assert len(LONG[language]) > MAX_CHARS[language]
    verdict = judge(language, LONG[language])
    assert not verdict.ok and verdict.refusal is Refusal.TOO_LONG
    # The limit counts the whole reply, not one sentence.
    guard = ReplyGuard(language, max_chars=40 if language == "en" else 30)
    first = "Lunch is served in the dining room." if language == "en" else "午饭在餐厅供应，十二点开始，一点结束。"
    second = "The menu is on the board by the door." if language == "en" else "今天的菜单贴在餐厅门旁边的告示板上。"
    assert guard.check(first).ok
    verdict = guard.check(second)
    assert not verdict.ok and verdict.refusal is Refusal.TOO_LONG and guard.text == first


# ------------------------------------------------------------------ reasoning is never spoken
def test_think_blocks_are_removed_from_a_whole_text():
    assert strip_think("<think>The user is sad. I should be kind.</think>I'm here for you.") == "I'm here for you."
    assert strip_think("Hello.<think>secret</think> How are you?") == "Hello. How are you?"
    # An unclosed block runs to the end: nothing after <think> is spoken.
    assert strip_think("Sure.<think>and now my hidden plan") == "Sure."


def test_think_blocks_split_across_stream_fragments_never_leak():
    text = ("<think>I should suggest the garden; secret reasoning.</think>A walk in the garden? "
            "<think>more</think>It's sunny.")
    for size in (1, 2, 3, 5, 7, 11):
        think = ThinkFilter()
        out = "".join(think.feed(text[i:i + size]) for i in range(0, len(text), size)) + think.flush()
        assert out == "A walk in the garden? It's sunny.", size
        assert "secret" not in out and "<" not in out
        assert think.dropped == len("I should suggest the garden; secret reasoning.") + len("more")


def test_a_held_back_partial_tag_outside_a_block_is_text_after_all():
    think = ThinkFilter()
    assert think.feed("Use the <th") == "Use the "       # may be the start of <think>: held back
    assert think.flush() == "<th"


def test_reasoning_in_a_reply_is_not_spoken_sentence_by_sentence():
    """The stream path: think filter -> sentence splitter; no sentence carries the reasoning."""
    think, splitter, sentences = ThinkFilter(), SentenceSplitter(), []
    stream = "<think>They asked about lunch. Lunch is at 12.</think>Lunch is at noon. It is in the dining room."
    for i in range(0, len(stream), 4):
        sentences += splitter.feed(think.feed(stream[i:i + 4]))
    sentences += splitter.feed(think.flush()) + splitter.flush()
    assert sentences == ["Lunch is at noon.", "It is in the dining room."]
    assert split_sentences(strip_think(stream)) == sentences


def test_parsed_llm_messages_drop_think_blocks():
    message = SimpleNamespace(content="<think>plan: be brief</think>Hello there.", tool_calls=None)
    calls, text = parse_tool_message(message)
    assert calls == [] and text == "Hello there."
    decision = SimpleNamespace(content='<think>{"reply": "secret"}</think>{"reply": "Good morning.", "action": "none"}',
                               tool_calls=None)
    calls, text = parse_decision_message(decision)
    assert text == "Good morning." and [c.args["text"] for c in calls] == ["Good morning."]
