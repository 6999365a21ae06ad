"""Distress spotting without a model: symptoms, calls for help, someone else in
trouble, fire and smoke, wrong medicine, falls (English and Mandarin).

The first half of the brain's safety net (the second is ``distress_similarity``):
patterns over the normalised forms of an ``Utterance`` (see ``utterance.py``),
grouped by what staff must do about them. Each rule carries a kind and a severity,
so a fire is not a headache. Guards keep look-alikes quiet: hypotheticals ("what
should I do if there's a fire"), the distant past ("my husband had a stroke years
ago"), negations ("I didn't fall"), drills and idioms (消防演习, 这事让我头疼). A
guard only silences its own clause: "I'm fine but my husband fell" still alerts.

The rules err on the side of calling staff: a mild symptom ("my knee hurts") is a
WARNING alert, not silence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from carebot.alert_enums import AlertKind, Severity
from carebot.brain.utterance import Utterance, has_cjk


class DistressKind(str, Enum):
    """What is wrong, as far as staff need to know before they arrive."""

    MEDICAL = "medical"              # symptoms and pain of the speaker
    CALL_FOR_HELP = "call_for_help"  # help, nurse, doctor, ambulance
    OTHER_PERSON = "other_person"    # someone else is in trouble
    FIRE = "fire"                    # fire, smoke, burning smell, gas
    MEDICATION = "medication"        # overdose, wrong medicine, swallowed something
    FALL = "fall"                    # the speaker (or someone) fell

    @property
    def alert_kind(self) -> AlertKind:
        return _ALERT_KIND[self]


_ALERT_KIND = {DistressKind.MEDICAL: AlertKind.MEDICAL, DistressKind.CALL_FOR_HELP: AlertKind.HELP_REQUEST,
               DistressKind.OTHER_PERSON: AlertKind.MEDICAL, DistressKind.FIRE: AlertKind.FIRE,
               DistressKind.MEDICATION: AlertKind.MEDICAL, DistressKind.FALL: AlertKind.FALL}

CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING


@dataclass(frozen=True)
class Distress:
    """One distress finding: what, how bad, and the evidence (for logs and staff)."""

    kind: DistressKind
    severity: Severity
    evidence: str          # the rule or the nearest labelled example
    via: str = "rule"      # "rule" or "similarity"
    topic: str = ""        # a finer topic within the kind, for the reply ("self_harm")


@dataclass(frozen=True)
class _Rule:
    kind: DistressKind
    severity: Severity
    regex: re.Pattern
    name: str
    topic: str = ""
    unless: re.Pattern | None = None   # not when the whole utterance says this (read with the rule)


def _rules(kind: DistressKind, severity: Severity, *patterns: str, topic: str = "") -> list[_Rule]:
    return [_Rule(kind, severity, re.compile(p), p[:60], topic) for p in patterns]


M, H, O, F, D, L = (DistressKind.MEDICAL, DistressKind.CALL_FOR_HELP, DistressKind.OTHER_PERSON,
                    DistressKind.FIRE, DistressKind.MEDICATION, DistressKind.FALL)

# ---------------------------------------------------------------- English building blocks
_BODY = (r"(?:head|chest|heart|stomach|tummy|belly|abdomen|gut|back|lower back|neck|arms?|legs?|knees?|hips?|"
         r"foot|feet|hands?|shoulders?|side|tooth|teeth|ears?|eyes?|throat|jaw|ribs?|wrists?|ankles?|fingers?|"
         r"toes?|bones?|joints?|body|whole body|bladder|kidneys?|groin|bottom|skin|shins?|elbows?|nose|face|forehead|"
         r"thighs?|calf|calves|heels?|spine|muscles?|bum|insides)")
_VERY = r"(?:(?:all|so|really|very|ever so|quite|terribly|awfully|rather|a bit|a little|still|badly|that) )*"
_PAIN_VERB = (r"(?:hurts?|hurting|hearts|aches?|aching|throbs|stings|(?:is|are|s|feels?|has been|have been|keeps?|"
              r"getting|gone|went) " + _VERY + r"(?:sore|killing me|throbbing|swollen|swelling|swollen up|stinging|"
              r"in (?:a lot of )?pain|agony|burning|painful|pounding|splitting|banging|bad|terrible|awful|tender|"
              r"playing up|acting up|hurting|aching|numb|stiff and sore|bleeding))")
_PAIN_NOUN = r"(?:pain|pains|ache|aches|aching|soreness|cramps?|agony|twinges?|stabbing)"
_I = r"(?:i|i m|im|i am|i ve|i have|i feel|i m feeling|i am feeling|i ve been|i been)"
_PERSON = (r"(?:he|she|him|her|someone|somebody|some one|a man|a woman|a lady|a gentleman|an old (?:man|lady|woman|"
           r"gentleman|fellow|chap)|the (?:man|woman|lady|gentleman|resident|old man|old lady)(?: \w+){0,3}?|"
           r"my (?:husband|wife|friend|mother|father|mum|mom|dad|brother|sister|son|daughter|partner|neighbou?r|"
           r"roommate|room mate|hubby|missus)|(?:mrs|mr|miss|ms|mister|missus|auntie|uncle) \w+|(?:his|her) "
           r"(?:husband|wife)|(?:a|the|another) resident|the (?:lady|man|gentleman|person) (?:next door|in room \d+)|"
           r"grandma|grandpa|granny|grandad|nana|the old (?:boy|girl)|my roomie|"
           r"\w+ in (?:room|bed) \w+)")
_NOT = r"(?:won ?t|wont|will not|can ?t|cannot|can not|is ?n t|is not|isnt|doesn t|does not|didn t|did not|not)"
_UNRESPONSIVE = (_NOT + r" (?:wake(?: up)?|waking(?: up)?|respond\w*|answer(?:ing)?(?! (?:her |his |the |my )?"
                 r"(?:phone|calls?|messages?|texts?|emails?|door|question))|move|moving|breath\w*|get up|getting up|"
                 r"stand up|open (?:his|her) eyes|talk(?:ing)?(?! to)|speak(?:ing)?(?! to)|make sense)")

_EN_RULES: list[_Rule] = [
    # ----- medical, critical: heart, breathing, stroke signs, consciousness, bleeding, ...
    *_rules(M, CRITICAL,
            r"\b(?:chest|heart)\b(?: \w+){0,3}? (?:hurts?|hurting|hearts|pains?|painful|aches?|aching|tight\w*|"
            r"pressure|squeez\w*|crush\w*|pound\w*|racing|fluttering|flutters|burn\w*|funny|strange|weird|"
            r"is killing me|on fire|jumping|skipping|pounding|banging)\b",
            r"\bchest\b(?: \w+){0,2}? (?:heavy|heaviness|feels heavy|tight)\b",
            r"\b(?:pain|pains|tightness|pressure|ache|squeezing|crushing|burning|heaviness|weight)\b(?: \w+){0,3}? "
            r"(?:in|on|across|around|through) (?:my |the |his |her )?(?:chest|heart)\b",
            r"\bchest (?:pains?|tightness|pressure)\b", r"\bheart (?:attack|pain|pains|failure)\b",
            r"\bpalpitations?\b", r"\bangina\b", r"\bcardiac\b",
            r"\bpain\b(?: \w+){0,3}? (?:down|in|up|along) (?:my |the )?left arm\b",
            # breathing and choking
            r"\b(?:can ?t|cant|cannot|can not|could ?n t|couldnt|unable to|hard to|hardly|struggling to|struggle to|"
            r"trouble|difficult\w*|problems?|fight(?:ing)? to)\b(?: \w+){0,2}? (?:breath\w*|breeth\w*|breth\w*|breav\w*|"
            r"breeve|breeze|brief|catch my breath|get (?:my )?(?:breath|air)|get any air)\b",
            r"\bshort(?:ness)? of breath\b", r"\bbreathless\w*\b", r"\b(?:not|stopped|stop|isn t|is not) breathing\b",
            r"\bgasping\b", r"\bwheez\w*\b", r"\bsuffocat\w*\b", r"\bchok(?:e|es|ed|ing)\b",
            r"\b(?:stuck|lodged) in (?:my |his |her |the )?throat\b", r"\bcan ?t swallow\b",
            r"\bno air\b", r"\bcan ?t get (?:enough )?air\b",
            # stroke signs
            r"\b(?:having|had|has|is having|think i m having|a) (?:a )?stroke\b", r"^stroke$",
            r"\b(?:face|mouth|lip|lips|smile)\b(?: \w+){0,3}? (?:droop\w*|dropp\w*|crooked|twisted|lopsided|"
            r"numb|gone funny|fallen|sagg\w*|slipp\w*)\b",
            r"\b(?:can ?t|cant|cannot|can not|couldn t) (?:feel|move|lift|raise|use) (?:my|his|her|the) "
            r"(?:\w+ )?" + _BODY + r"\b",
            r"\b(?:can ?t|cant|cannot|can not|couldn t) (?:see|see properly|see anything|see at all|see out of)\b"
            r"(?! (?:the|a|an|why|what|how|where|who|it|you|him|her|them|that|this|to|my glasses|my book)\b)",
            r"\b(?:can ?t|cant|cannot|can not) (?:speak|talk|get (?:my |the )?words out|find (?:my|the) words)"
            r"(?: properly| right| clearly)?$",
            r"\b(?:lost|losing|loss of|lose) (?:my |his |her )?(?:sight|vision|speech|voice|feeling|balance)\b",
            r"\b(?:words|speech|talking|voice) (?:are|is|come|comes|coming|keep|keeps) (?:\w+ )?(?:wrong|slurr\w*|"
            r"funny|jumbled|muddled|out wrong)\b",
            r"\bslurr\w*\b", r"\b(?:gone|went|going|suddenly|i m) blind\b", r"\bdouble vision\b",
            r"\b(?:numb|numbness)\b", r"\b(?:gone|went|going) (?:all )?dead\b",
            # consciousness
            r"\b(?:going to|gonna|about to|might|think i ll|i m|i am|im|feel|feeling|felt) (?:\w+ )?"
            r"(?:faint|pass out|black out|collapse|keel over)\b",
            r"\bfaint(?:ed|ing)\b", r"\bpass(?:ed|ing)? out\b(?! (?:the|these|those|leaflets|papers|forms|sheets))",
            r"\bblack(?:ed|ing)? out\b", r"\bunconscious\b", r"\bcollaps\w*\b", r"\bkeel(?:ed)? over\b",
            # bleeding, burns, blood sugar, seizures, allergy, severe pain
            r"\bbleed\w*\b", r"\bblood\b(?! (?:pressure|test|tests|sample|samples|donation|type|orange|sugar|"
            r"pudding|sausage|moon|group))",
            r"\b(?:cut|gashed|sliced|stabbed) (?:my|myself|open)\b", r"\bdeep cut\b",
            r"\b(?:burnt|burned|burn|scalded|scald) (?:my|myself|me)\b", r"\bscald\w*\b",
            r"\b(?:i m|im|i am|i got|i ve been|got) (?:badly )?burn(?:ed|t)\b",
            r"\b(?:blood )?sugars? (?:is |are |s |has |have )?(?:gone |going |very |really |too )?(?:low|dropp\w*|"
            r"crash\w*|falling)\b", r"\bhypo\b", r"\bhypoglyc\w*\b", r"\blow (?:blood )?sugar\b",
            r"\bseizures?\b", r"\bconvuls\w*\b", r"\bepilep\w*\b", r"\bhaving a fit\b", r"\bfitting\b",
            r"\ballergic reaction\b", r"\banaphyla\w*\b", r"\bthroat (?:is |feels )?(?:closing|swell\w*|tight)\b",
            r"\b(?:face|lips|tongue|mouth) (?:is |are )?(?:swell\w*|swollen|puff\w* up)\b",
            r"\b(?:terrible|awful|severe|really bad|unbearable|excruciating|horrible|worst|agonising|agonizing|"
            r"sudden|stabbing|crushing) (?:pain|pains|headache|head ache|stomach ache|tummy ache)\b",
            r"\bin (?:a lot of |so much |terrible |great |such )?agony\b",
            r"\bi need (?:my )?(?:inhaler|insulin|oxygen|puffer|nitro\w*|gtn|spray|epipen|epi pen)\b",
            r"\b(?:vomit\w*|throwing up|coughing up|cough up|threw up|being sick) (?:blood|black)\b",
            r"\b(?:i m|im|i am|i feel|feel) (?:like )?(?:i m |i am )?dying\b(?! (?:for|to|of laughter))",
            r"\b(?:something is |something s )?(?:really |very |seriously )?wrong with my (?:heart|chest|head)\b",
            r"\b(?:everything|it all|the room|my eyes?|my vision|my sight) (?:went|goes|is going|has gone|s gone|"
            r"turned|going) (?:all )?(?:black|dark|white|grey|gray|blurry|fuzzy|dim)\b",
            r"\bseeing (?:double|two of everything|spots|stars|flashes)\b",
            r"\b(?:lips?|face|skin|fingers?|fingertips|mouth|nails)\b(?: \w+){0,2}? (?:blue|purple|grey|gray|ashen)\b",
            r"\b(?:mouth|face|arm|leg|hand|side|foot)\b(?: \w+){0,3}? (?:won ?t|will not|wont|can ?t|cannot|doesn ?t|"
            r"does not|isn ?t) (?:move|work|working|lift|respond|do what i)\b",
            r"\b(?:clutching|holding|grabbing|gripping|clasping) (?:my|his|her|their) (?:chest|heart|throat|head)\b",
            r"\b(?:asthma|copd) (?:attack|is bad|is playing up|is terrible)\b|\binhaler (?:is not|isn t|doesn t|not) "
            r"(?:working|helping)\b",
            r"\b(?:i m|im|i am) (?:hurt|injured|wounded)\b", r"\bi (?:hurt|injured) myself\b"),
    # ----- medical, warning: feeling unwell, pain, fever, sickness
    *_rules(M, WARNING,
            _I + r"(?: \w+){0,2}? (?:do ?n t|dont|do not|not|am not|m not) (?:feel(?:ing)?|felt) (?:\w+ )?"
            r"(?:well|good|right|great|myself|too good|so good|very well|too well|so well|ok|okay|so hot|too hot)\b",
            r"\bnot (?:feeling|felt) (?:\w+ )?(?:well|good|right|great|myself|ok|okay)\b",
            r"\b(?:feel|feels|feeling|felt|i m|im|i am|i ve been|i been|been) (?:really |very |a bit |a little |a "
            r"little bit |quite |so |rather |terribly |awfully |kind of |sort of |all |bit )?"
            r"(?:ill|sick|unwell|poorly|queasy|nauseous|nauseated|faint|weak|feverish|shivery|dizzy|woozy|wobbly|"
            r"funny|strange|weird|off|rough|awful|terrible|horrible|bad|peculiar|giddy|light ?headed|hot and cold|"
            r"under the weather|not right|not myself|out of sorts|shaky|clammy|sweaty|confused|muddled)\b"
            r"(?! (?:of|about|for|that|when|to(?! my stomach)|with|at|as|in the head|news|joke|film|movie|dream|day))",
            r"\b(?:dizz\w*|light ?headed|vertigo|giddy|woozy)\b",
            r"\b(?:room|everything|world|head) (?:is |s |keeps )?spinning\b",
            r"\b(?:my |the |his |her )?" + _BODY + r"\b(?: \w+){0,2}? " + _PAIN_VERB + r"(?! (?:from|after) "
            r"(?:laughing|laughter|the (?:walk|exercise|gym|class)))",
            r"\b" + _PAIN_NOUN + r"\b(?: \w+){0,2}? (?:in|on) (?:my|the|his|her) (?:\w+ )?" + _BODY + r"\b",
            r"\b(?:i|i ve|i have|i ve got|i got|got|have|having|with) (?:a |an |such a |this |that |terrible |bad |"
            r"awful |horrible |splitting |pounding |nasty |really bad |bit of a |little )*(?:headache|head ache|"
            r"migraine|stomach ache|stomachache|tummy ache|belly ache|toothache|backache|earache|fever|temperature|"
            r"high temperature|chill|chills|rash|infection|upset stomach|pain|pains|cramps?|sore throat|"
            r"cough|the runs|diarrh\w*|funny turn|dizzy spell|nose ?bleed)\b",
            r"\b(?:i m|im|i am|it s|its|i m still|been) (?:\w+ )?in (?:\w+ )?pain\b", r"^(?:ouch|ow+|ouch ouch)\b",
            r"\bit (?:really |still |so )?hurts\b", r"\bhurts? (?:so|too|really|very) (?:much|bad|badly)\b",
            r"\b(?:vomit\w*|throwing up|threw up|been sick|being sick|keep being sick|diarrh\w*|nause\w*)\b",
            r"\b(?:fever|high temperature|burning up|shivering)\b",
            r"\b(?:banged|bumped|knocked|hit|twisted|sprained|trapped|caught|jammed|stubbed|broke|broken|fractured|"
            r"dislocated|wrenched|pulled|bashed|scraped|grazed) (?:my|his|her)\b(?: \w+)? " + _BODY + r"\b",
            r"\bbruis\w*\b", r"\bachy\b|\b(?:aching|hurting|sore|pain|pains|aches) all over\b",
            r"\b(?:eyes?|vision|sight)\b(?: \w+){0,3}? (?:blurr\w*|fuzzy|misty|cloudy|dim|gone funny|strange|weird)\b",
            r"\bblurr\w* (?:vision|eyes|sight)\b",
            r"\b" + _BODY + r" (?:is|s|feels) " + _VERY + r"(?:bad|terrible|awful|funny|strange|weird|wrong|not right|"
            r"playing up|acting up)\b",
            r"\b(?:rash|hives|lump|swelling|blister\w*|itch\w* all over|spots all over)\b",
            r"\b(?:crying out|screaming|moaning|groaning|howling) (?:in|with|from) pain\b",
            r"\bfunny turn\b", r"\bhurt (?:my|myself)\b", r"\bpins and needles\b", r"\btingl\w*\b",
            r"\bi need (?:to see )?(?:a |the )?(?:doctor|nurse)\b", r"\b(?:i m|im|i am) (?:so |very )?(?:weak|shaky)\b"),
    # ----- calls for help (critical)
    *_rules(H, CRITICAL,
            r"(?:^|\b(?:i need|i want|we need|need|somebody|someone|anyone|anybody|please|get|send|call for|shout for|"
            r"i m calling for|oh|god|urgent|quick|quickly|come|for|some)\s)"
            r"(?<!can you please )(?<!could you please )(?<!would you please )"
            r"(?:help|hlep|halp|help me)\b(?! (?:me |us |him |her )?(?:with|to|for|find|finding|fill|filling|get|"
            r"getting|understand|locate|read|reading|carry|book|booking|renew|renewing|apply|applying|choose|about|"
            r"on|at|the|a|an|your|this|that|desk|counter|point|line|center|centre|information|info|out|figure|"
            r"check|look|pick|put|open|close|turn|use|set|make|write|sort|work|plan|decide|move|tidy|wash|"
            r"dress|do|cross|order|pay|sign|search|yourself|themselves|himself|herself|ourselves|each|is|s|was|will|"
            r"has|arrives|arrived|came|comes|coming)\b)",
            r"\b(?:i|we) (?:really )?need (?:some |urgent |immediate |your )?help(?: (?:now|here|quick|quickly|please|"
            r"urgently|fast))?$",
            r"^(?:please |somebody |someone |oh |god |hey )*(?:help|hlep|halp)(?: me| us)?(?: please| now| quick)?$",
            r"\bhelp me (?:get|stand|sit) up\b", r"\bsos\b", r"\bmayday\b", r"\bhelp help\b",
            r"\b(?:it s |this is |we have |there s |there is |i have )?an? emergency\b(?! (?:stop|exit|exits|number|"
            r"numbers|procedure|procedures|drill|plan|button|cord|kit|services? number))",
            r"^emergency\b(?! (?:stop|exit|exits|number|numbers|procedure|procedures|drill|plan|button))",
            r"\b(?:call|get|fetch|send for|send|bring|ring|phone|dial|shout for|page|summon) (?:me |us |him |her |them )?"
            r"(?:a |an |the |my |some |one of the |any )?(?:nurse|nurses|doctor|doc|ambulance|paramedics?|medic|"
            r"carer|carers|caregiver|staff|someone|somebody|help|999|911|112|120|emergency services)\b"
            r"(?! (?:s |station|office|appointment|room|desk|list|rota|number|tomorrow|next|later|on (?:monday|"
            r"tuesday|wednesday|thursday|friday|saturday|sunday)))",
            r"\b(?:need|needs) (?:a |an |the |my )?(?:doctor|nurse|ambulance|paramedic)s?\b(?! (?:s |station|office|"
            r"appointment|tomorrow|next|later|to (?:sign|check|look at) (?:my|the) (?:form|paper|prescription)))"
            r"(?: (?:now|right now|quick|quickly|urgently|here|please))?$",
            r"\bambulance\b(?! (?:station|driver s|drivers|service history|museum))", r"\b(?:999|911|112)\b",
            r"^(?:(?:nurse|nurses|doctor|carer|somebody|someone|anybody|anyone|staff)(?: |$))+"
            r"(?:(?:please|come|help|quick|quickly|hurry|now|here|over here|right now|i need you|we need you|"
            r"come quick|come quickly|come here)(?: |$))*$",
            r"\b(?:nurse|doctor|carer|help)\b(?: \w+)? (?:nurse|doctor|carer|help)\b(?! (?:s |station|office))",
            r"\b(?:come|get here) (?:quick|quickly|fast|now|right now)\b(?! (?:and|to) (?:see|look))",
            r"\b(?:need|want|get|send|call) (?:someone|somebody|a person|anyone|anybody) to (?:help|come|look at)"
            r"(?: me| us| him| her)?\b(?! (?:with|find|get|carry|read|fill|choose|write|move|tidy|understand|sort|lift|"
            r"open|pack|book|cross|plan|decide))",
            r"\b(?:need|want|require) (?:some |urgent |immediate )?(?:assistance|medical attention|first aid)\b",
            r"\b(?:doctor|nurse|ambulance|paramedic)\b(?: \w+){0,4}? (?:call|get|fetch|ring|phone|send for) (?:one|them|"
            r"her|him|it)\b",
            r"\bsomeone (?:please )?come\b", r"\bi need (?:someone|somebody) (?:now|quick|quickly|here|urgently)\b"),
    # ----- someone else in trouble (critical)
    *_rules(O, CRITICAL,
            r"\b" + _PERSON + r"\b(?: \w+){0,4}? " + _UNRESPONSIVE + r"\b",
            r"\b" + _PERSON + r"\b(?: \w+){0,3}? (?:has |have |s |is |just |suddenly |has just )?(?:collapsed|fainted|"
            r"passed out|blacked out|unconscious|choking|is choking|turned blue|gone blue|going blue|turning blue|"
            r"gone grey|gone gray|turned grey|is bleeding|bleeding|is fitting|fitting|shaking all over|"
            r"having (?:a )?(?:fit|seizure|heart attack|stroke)|had (?:a )?(?:fit|seizure|heart attack|stroke)|"
            r"stopped breathing|not breathing|isn t breathing|can ?t breathe|cannot breathe|struggling to breathe|"
            r"gone (?:all )?(?:limp|floppy|cold|quiet and still)|dead|died|dying|slumped|out cold)\b",
            r"\b(?:can ?t|cannot|can not|couldn t|could not) (?:wake|rouse|get (?:a |any )?(?:response|answer|word) "
            r"(?:from|out of))\b",
            r"\b" + _PERSON + r"\b(?: \w+){0,4}? (?:gone|going|turned|turning|is|s|looks?|looking) " + _VERY +
            r"(?:grey|gray|blue|purple|limp|floppy|cold and clammy|white as a sheet|deathly pale)\b",
            r"\b" + _PERSON + r"\b(?: \w+){0,3}? (?:is |s )?(?:crying out|screaming|moaning|groaning|shouting) "
            r"(?:in|with|for|from) (?:pain|help|agony)\b",
            r"\b(?:collapsed|fainted|unconscious|not breathing|stopped breathing|not responding|unresponsive|out cold)\b"),
    *_rules(O, WARNING,
            r"\b" + _PERSON + r"\b(?: \w+){0,3}? (?:is|s|looks?|looking|seems?|seeming|feels?|feeling|isn t|is not|"
            r"doesn t|does not|not|gone|going|turned) " + _VERY
            + r"(?:unwell|poorly|ill|sick|very hot|hot and sweaty|sweaty|clammy|pale|"
            r"confused|not right|not well|well|not himself|not herself|himself|herself|in pain|hurt|injured|"
            r"feeling well|look well|look right|seem right|dizzy|faint|weak|shaky|having trouble|struggling|"
            r"bad|terrible|awful|off|strange|funny|burning up|boiling)\b"
            r"(?! (?:of|about|at|with|to|for|news|joke))",
            r"\b" + _PERSON + r"\b(?: \w+){0,3}? (?:has|s got|has got|is having|got) (?:a |an |such a |terrible |bad )*"
            r"(?:fever|temperature|pain|pains|headache|chest pain|cough|rash|nosebleed|funny turn)\b",
            r"\b(?:the (?:man|woman|lady|gentleman|resident|person)|he|she|someone|somebody)\b(?: \w+){0,3}? "
            r"(?:looks?|looking|seems?) " + _VERY + r"(?:poorly|unwell|ill|grey|gray|pale|faint|terrible|awful|"
            r"not right|not well|in pain|confused|lost and upset)\b"),
    # ----- falls (critical): the speaker, or someone on the floor
    *_rules(L, CRITICAL,
            r"\b(?:i|we) (?:have |ve |just |think i |ve just |have just )?(?:fell|fallen|falled|fall down|fell down|"
            r"fell over|tripped|slipped|took a tumble|had a tumble|lost my (?:balance|footing)|went over)\b"
            r"(?! (?:asleep|for|in love|behind|apart|out with|off the (?:menu|list)|into (?:a|the) (?:habit|trap)|"
            r"over (?:laughing|myself)|about))",
            r"\b(?:can ?t|cant|cannot|can not|could ?n t|unable to|m unable to|am unable to|not able to) (?:get|stand|"
            r"sit|pick myself|push myself|lift myself|get myself) up\b(?! (?:the|those|these|that) (?:stairs|steps|"
            r"hill|ramp))",
            r"\b(?:i m|im|i am|i ve been|been|i was) (?:\w+ )?(?:on|stuck on|lying on|down on|sitting on) the "
            r"(?:floor|ground|bathroom floor|kitchen floor)\b",
            r"\b(?:had|took|have had|just had|ve had|i had) a (?:bad |nasty |little |big |bit of a |small )?"
            r"(?:fall|tumble)\b(?! (?:years|months|last year|ago))",
            r"\b" + _PERSON + r"\b(?: \w+){0,3}? (?:has |have |s |is |just |has just )?(?:fell|fallen|fallen over|fell "
            r"over|fell down|tripped|slipped|(?:is |s )?(?:lying |down )?on the (?:floor|ground))\b"
            r"(?! (?:asleep|for|in love|apart|out with|behind))",
            r"\b(?:fell|has fallen|have fallen|had fallen|is lying|lying|s lying|is down|lay) (?:down |over |flat )?"
            r"(?:on the (?:floor|ground)|in the (?:corridor|hall|hallway|bathroom|toilet|garden|lounge|dining room|"
            r"kitchen|shower|bedroom|lift))\b",
            r"\b(?:taken|took|had|have had|ve had) a (?:bit of a |nasty |bad |little |big )?(?:tumble|spill)\b",
            r"\b(?:i|mum|mom|dad|mother|father|husband|wife|grandma|grandpa|" + _PERSON[3:-1] + r")\b"
            r"(?: \w+){0,2}? (?:fell|fallen|slipped|tumbled|toppled|rolled) (?:off|out of|down|from) (?:the |my |his |her |"
            r"a )?(?:chair|bed|toilet|commode|stairs|steps|wheelchair|bench|sofa|settee|stool|step|kerb|curb|bath|"
            r"shower|hoist|walker|frame)\b",
            r"\bhelp me up\b", r"\bon the floor and (?:can ?t|cannot)\b"),
    # ----- fire and smoke (critical)
    *_rules(F, CRITICAL,
            r"\b(?:there s|there is|theres|there s a|there is a|big|catch(?:ing|es)?|caught|started|starting|"
            r"on) (?:a )?fire\b(?! (?:drill|exit|exits|door|doors|alarm test|station|escape|safety|extinguisher|"
            r"brigade|practice|place|engine|fighter|fighters|officer|training|warden|blanket))",
            r"\bfire (?:in|at|on|near|upstairs|downstairs|outside|coming|spreading|everywhere|in here)\b"
            r"(?! (?:the )?(?:fireplace|hearth|grate|stove))",
            r"^(?:fire(?: |$))+(?:help|quick|everyone|everybody|get out|fire)?$",
            r"\b(?:there s|there is|theres|lots of|so much|full of|thick|black|grey|gray|i can smell|i smell|smell|"
            r"smells? of|see|seeing|some|a lot of|filling with|filled with) smoke\b",
            r"\bsmoke (?:coming|everywhere|in (?:the|my|here|our)|from|pouring|filling|is|s coming|rising|out of)\b",
            r"\bsmoky\b", r"\b(?:smoke|fire) alarm\b(?: \w+){0,2}? (?:going off|ringing|sounding|beeping|went off)\b",
            r"\b(?:smell(?:s|ing)?|smelled|smelt) (?:of )?(?:burning|smoke|gas|something burning|fire)\b",
            r"\bburning smell\b", r"\b(?:something|it|the \w+) (?:is |s )?(?:burning|on fire|smoking)\b(?! (?:hot|up))",
            r"\bflames?\b(?! (?:grilled|grill))", r"\bon fire\b", r"\bgas leak\w*\b", r"\bsmell (?:of )?gas\b",
            r"^fire (?:fire|everybody|everyone|get out|run|help)\b", r"\bfire\b(?: \w+){0,2}? (?:everybody|everyone) out\b",
            r"\b(?:something|it|the \w+) (?:\w+ )?(?:is |s )?(?:burning|on fire|smoking|sparking|melting)\b"
            r"(?! (?:hot|up|my (?:tongue|mouth)))",
            r"\b(?:sparks?|sparking)\b(?: \w+){0,3}? (?:from|coming|out of|in)\b",
            r"\bexplo(?:sion|ded)\b"),
    # ----- medicines (critical)
    *_rules(D, CRITICAL,
            r"\bover ?dos\w*\b", r"\bwrong (?:pills?|tablets?|medicines?|medications?|meds|dose|doses|drugs?|"
            r"injection|insulin)\b",
            r"\b(?:too many|too much|double|extra|someone else s|somebody else s|another (?:person s|resident s)|"
            r"all (?:of )?(?:my|the|his|her)|the whole (?:box|bottle|packet) of(?: my)?) (?:of (?:my |the |his |"
            r"her )?)?(?:pills?|tablets?|medicines?|medications?|meds|dose|doses|insulin|sleeping (?:pills?|tablets?)|"
            r"painkillers?|morphine|drops)\b",
            r"\b(?:took|taken|swallowed|had|given|gave me|gave him|gave her) (?:my |his |her |the )?(?:pills?|tablets?|"
            r"medicines?|medications?|meds|dose|insulin)(?: \w+){0,2}? (?:twice|two times|again|double|two lots)\b"
            r"(?! (?:a day|daily|a week|every))",
            r"\b(?:swallowed|drank|drunk|ate) (?:some |the |a |an )?(?:bleach|cleaning \w+|cleaner|detergent|"
            r"washing \w+|battery|batteries|poison\w*|disinfectant|white spirit|something (?:bad|wrong|strange))\b",
            r"\b(?:took|taken|swallowed|had|given|gave me|gave him|gave her|done|injected|did|used) (?:my |his |her |the )?"
            r"(?:\w+ )?(?:pills?|tablets?|medicines?|medications?|meds|dose|insulin|injection|jab|paracetamol|"
            r"painkillers?|aspirin|ibuprofen|warfarin|morphine|patch)(?: \w+){0,2}? (?:twice|two times|again|double|"
            r"two lots|three times|four times|five times|several times|too many times)\b(?! (?:a day|daily|a week|every))",
            r"\b(?:aren ?t|are not|arent|isn ?t|is not|not) my (?:pills?|tablets?|medicines?|medication|meds)\b",
            r"\b(?:whole|entire|full) (?:bottle|box|packet|strip|tub|pack|blister pack) of\b",
            r"\b(?:paracetamol|painkillers?|aspirin|ibuprofen|sleeping (?:pills?|tablets?)|pills?|tablets?)\b(?: \w+){0,3}? "
            r"(?:three|four|five|six|several|many|lots of|too many) times\b(?! (?:a day|daily|a week))",
            r"\bpoison(?:ed|ing)\b"),
]

# "Something's wrong with me" is an emergency (critical: nobody knows what it is yet) unless
# the speaker goes on to name a mood and nothing else: "I don't know what's wrong with me, I
# just feel a bit down in the dumps" is low mood, for company (and any symptom named beside it
# is found by its own rule).
_EN_LOW_MOOD = re.compile(
    r"\b(?:feel(?:ing)?|felt|am|i m|im|been|so|a bit|bit|rather|very|really|just) (?:a bit |so |very |really |rather |"
    r"quite |a little |pretty )?(?:down|blue|sad|fed up|miserable|gloomy|glum|lonely|depressed|tearful|weepy|"
    r"unhappy|grumpy|moody|mopey|down in the dumps|in the dumps)\b")    # not "low": a diabetic's word for a hypo
_EN_RULES.append(_Rule(M, CRITICAL, re.compile(r"\b(?:something is |something s )?(?:really |very |seriously )?"
                                               r"wrong with me\b"), "wrong with me", unless=_EN_LOW_MOOD))

# Guards: a clause that matches one of these is not read for distress.
_EN_GUARDS = (
    # offers of help and words about the listener (the robot's own questions, heard back)
    r"\b(?:do|does|did|would) (?:you|anyone|he|she|they) (?:need|want|like) (?:any |some )?help\b",
    r"\b(?:can|may|shall|could) i (?:help|get you)\b", r"\bhow can i help\b", r"\bsorry (?:that )?you\b",
    r"\b(?:are you|you are|you re) (?:not )?(?:feeling|all right|alright|ok|okay)\b", r"\bhelp is (?:on (?:its|the) "
    r"way|coming)\b", r"\bas an emergency\b",
    r"\b(?:did ?n t|didnt|did not|have not|haven ?t|havent|never) (?:fall|fallen|fell|faint|collapse)\b",
    r"\b(?:no need to|do ?n t|dont|do not|no need for|not necessary to) (?:call|get|fetch|bother)\b",
    r"\bnot an emergency\b", r"\bno emergency\b", r"\b(?:don ?t|dont|do not) need (?:any |a |the )?(?:help|nurse|doctor)\b",
    r"^(?:i m|i am|im) (?:fine|ok|okay|alright|all right)$",
    # hypotheticals and questions about procedure
    r"^(?:what|where) (?:should|do|would|shall|must|can) (?:i|we|you|one|people) (?:do|go|call|press)\b",
    r"\bwhat (?:happens|do (?:i|we|you) do|should (?:i|we) do) (?:if|when|in case)\b", r"\bwhat if\b",
    r"\bin case of\b", r"\bin the event of\b", r"^if\b", r"\bhow do (?:i|you|we) (?:know|tell|recognise|recognize)\b",
    r"\b(?:drill|drills|practice|training|test of the|talk about|lecture|course|first aid|leaflet|poster)\b",
    # the distant past and stories
    r"\b(?:years|decades|months) ago\b", r"\blast (?:year|month|christmas|summer|winter|spring|autumn)\b",
    r"\bwhen i was (?:young|younger|a (?:child|kid|boy|girl|lad|lass)|little|small|at school|working)\b",
    r"\bused to\b", r"\bin the war\b",
    # "died in the summer", "in 1998": a memory ("the summer house" is a place)
    r"\b(?:in|during|over) the (?:summer|winter|spring|autumn)\b(?! ?(?:house|room|garden))", r"\bin (?:19|20)\d\d\b",
    r"\bwhen i was (?:\d+|a |an )?(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|teen\w*|"
    r"\w+teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|baby|toddler|teenager|student|nurse|soldier)\b",
    r"\b(?:has|have|is|s|had) (?:all )?(?:gone(?: away)?|better|eased|healed|cleared up|settled)"
    r"(?= since| now| completely| totally| thank| after| and i|$)",
    r"\bno longer\b|\banymore\b|\bany more\b|\bsince the operation\b|\ball better\b", r"\bonce upon\b",
    r"\b(?:film|movie|book|novel|programme|program|show|"
    r"series|news|story|play|song|game|crossword|quiz)\b",
    # idioms
    r"\bsick (?:and tired )?of\b", r"\bdying (?:for|to)\b", r"\bheart (?:belongs|is set|goes out|of gold|"
    r"is in the right place)\b", r"\bbroken heart\b|\bheart ?broken\b|\bheart is broken\b",
    r"\b(?:stroke|stroking) (?:the|a|my|your|his|her|its|this|that)\b", r"\bcatch (?:a |the )?(?:bus|train|cold)\b",
)

# ---------------------------------------------------------------- Mandarin building blocks
_ZH_BODY = (r"(?:头|脑袋|肚子|胃|腰|背|后背|腿|脚|手|胳膊|膝盖|关节|牙|牙齿|嗓子|喉咙|眼睛|耳朵|脖子|肩膀|屁股|骨头|全身|"
            r"浑身|身上|肋骨|手腕|脚踝|肚|小肚子|胸|大腿|小腿|脚脖子|手指|脚趾|嘴|舌头|腰椎|颈椎|伤口)")
_ZH_PERSON = (r"(?:老伴|老公|老婆|丈夫|妻子|爱人|老头子|老太婆|她|他|有人|有个人|有位|一个人|一位|老人|阿姨|大爷|大妈|奶奶|"
              r"爷爷|婆婆|伯伯|叔叔|阿婆|阿公|阿叔|阿伯|阿嫲|阿爷|阿姐|阿嫂|婆婆|公公|老[\u4e00-\u9fff]|"
              r"小(?!心|时|便|区|卖|吃|说|事|点|声)[\u4e00-\u9fff]|[\u4e00-\u9fff]{1,2}(?:先生|太太|阿姨|奶奶|爷爷|"
              r"大爷|老师|伯)|室友|隔壁|邻居|同屋|病友|对面|[0-9一二三四五六七八九零]+(?:号|床|房)(?:的)?"
              r"(?:老人|老太太|老先生|阿姨|大爷|奶奶|爷爷)?|妈|爸|妈妈|爸爸|女儿|儿子|朋友)")
_ZH_RULES: list[_Rule] = [
    *_rules(M, CRITICAL,
            r"(?:胸口|胸部|心口|心脏|胸膛|胸前|心窝)(?:好|很|特别|有点|有些|一阵阵|一阵一阵的?|突然|老是|又|一直|这里|"
            r"那里|那儿|这儿)*(?:疼|痛|闷|憋|压|绞|紧|难受|不舒服|发紧|揪|刺|堵|慌|像压了|被压)",
            r"胸闷|胸痛|心绞痛|心梗|心肌梗|心脏病|心慌|心跳(?:得)?(?:好|很|特别|太)?(?:快|乱|厉害|不齐|不规律|停)|心悸|"
            r"心脏(?:病)?(?:犯|发作)",
            r"(?:喘不过|喘不上|透不过|透不上|上不来|吸不上|吸不进|接不上|提不上)(?:来)?气|气(?:喘不上|上不来|透不过来)|"
            r"呼吸(?:困难|不过来|不了|不畅|急促|不上来|不顺|很难)|(?:不能|没法|没办法|无法|没有办法)呼吸|憋(?:得|死|气|闷)|"
            r"气(?:短|不够用|喘吁吁)|喘(?:得)?(?:厉害|不上|不动)|窒息|噎(?:住|着|到)|卡(?:住|在)(?:了)?(?:喉咙|嗓子)|"
            r"(?:喉咙|嗓子)(?:里)?卡(?:住|了)|呛(?:着|到|住)|喘不上",
            r"中风|脑梗|脑出血|脑溢血|嘴(?:巴)?(?:歪|角歪|斜)|脸(?:歪|麻|斜)|半边(?:身子|脸|身体|手|脚)|"
            r"说不(?:出|清楚?|了)话|话(?:也)?说不(?:清|出|利索)|口齿不清|舌头(?:发)?(?:麻|硬|大|不听使唤)|"
            r"(?:看不见|看不清|瞧不见)(?:了|东西)|眼前(?:一)?(?:黑|发黑|一片黑)|突然(?:看不见|瞎|看不清)|"
            r"(?:手|脚|腿|胳膊|半边|一边|身子|手脚|右边|左边)(?:突然|一下子|全)?(?:发)?麻(?:了|木|掉)|没(?:有)?知觉|"
            r"不听使唤|抬不起来|动不了(?:了)?$",
            r"晕倒|昏倒|昏迷|晕过去|昏过去|要晕|快晕|晕死|眼冒金星|虚脱|不省人事|失去知觉|人事不省",
            r"流血|出血|血流|止不住血|血止不住|吐血|咳血|便血|尿血|大出血|(?:满|一)(?:手|地|身|脸)(?:都)?(?:是)?血|"
            r"割(?:破|伤|到)|划(?:破|伤|了个口子)|伤口(?:很深|裂开)|见血",
            r"烫(?:伤|到|着|破)|烧伤|被开水|被火烧|灼伤",
            r"低血糖|血糖(?:低|太低|很低|掉|降|往下掉|下来了)|手抖(?:得厉害)?(?:还)?(?:出)?(?:冷)?汗|出冷汗|冒冷汗|一身冷汗",
            r"抽搐|抽风|癫痫|羊癫疯|羊角风|口吐白沫|浑身发抖停不下来",
            r"过敏(?:了|反应)|(?:喉咙|嗓子)(?:肿|发紧|紧)|嘴唇(?:肿|发紫|发青)|脸(?:都)?肿(?:了|起来)",
            r"(?:疼|痛)(?:死|得受不了|得厉害|得要命|得不行|得要死)|(?:疼|痛)死我了|受不了了|要命(?:了|啊)|"
            r"(?:好|太|很|特别|非常)(?:疼|痛)(?:啊|了)?$",
            r"(?:我|人)(?:要|快|就要)?不行了|(?:我|人)?(?:快|要)死了|救救",
            r"(?:我|人)(?:受伤|受了伤)|摔伤|跌伤|骨折|(?:腿|手|胳膊|腰|髋)(?:好像)?断了",
            r"(?:胸口|心口|胸|心脏)[^，。]{0,8}(?:压|堵|闷|疼|痛|绞|憋)(?!力)",
            r"(?:手|脚|腿|胳膊|半边|一边|身子|手脚|右边|左边|嘴|脸|舌头)[^，。]{0,3}麻(?!烦|将|辣|婆|雀|布|油|绳)",
            r"(?:看不见|看不清|看不到|瞧不见)(?:了|东西|啦|任何)|(?:突然|一下子)(?:就)?(?:看不见|看不清|看不到)|"
            r"(?:眼睛|眼前|一只眼)[^，。]{0,4}(?:黑了|发黑|模糊|看不)",
            r"(?:举|抬|拿|握)不(?:起来|住|动)|(?:手|腿|胳膊|脚)[^，。]{0,3}(?:没力|使不上劲|没劲|不听使唤)",
            r"血[^，。]{0,3}(?:流|止不住)|流[^，。]{0,2}血|(?:好多|很多|一地|满地|一摊|一滩)(?:的)?血",
            r"哮喘(?:发作|犯了|又犯)|喷雾(?:不管用|没用)|(?:脸|嘴唇|嘴|手指|嘴巴)(?:色)?(?:都|有点|发|变|变得)*(?:发)?"
            r"(?:紫|青|乌|发白)(?!色的)",
            r"(?:脸|嘴唇|喉咙|舌头|眼睛)[^，。]{0,2}肿",
            r"(?:要|需要|拿)(?:我的)?(?:硝酸甘油|速效救心|胰岛素|喷雾|氧气)"),
    *_rules(M, WARNING,
            r"(?:我|身体|浑身|全身|人|身上|自己)(?:有点|有些|有一点|很|好|特别|非常|不太|太|真|怪|挺|总|老|老是|总是|"
            r"感觉|觉得|一直|今天|突然|又|还是|就是)*(?:不舒服|不太舒服|难受|不得劲|不对劲|不行|没力气|没劲|发冷|"
            r"发抖|发烧|发热|发虚|虚|乏力|头晕|头昏|晕|恶心|想吐|不太好|不好受|不对|怪怪的|怪)",
            r"^(?:不舒服|难受|好难受|不太舒服|头晕|好晕|晕|疼|好疼|痛|好痛)",
            _ZH_BODY + r"(?:好|很|有点|有些|特别|非常|一直|老是|总是|突然|又|还在|一阵一阵的?|一抽一抽的?|火辣辣的?|"
            r"钻心的?|有一点|也)*(?:疼|痛|酸|肿|胀|难受|不舒服|抽筋|发麻|麻|发软|软|没劲|晕|昏|发烫|烫|痒得厉害)",
            r"头(?:晕|昏|重脚轻|疼|痛)|天旋地转|站不稳|腿(?:发)?软|没力气|浑身(?:发)?(?:冷|抖|没劲|疼|痛)",
            r"发烧|发热|高烧|低烧|烧得|拉肚子|腹泻|呕吐|吐了|想吐|老吐|恶心|反胃|咳嗽(?:得)?(?:厉害|不停|停不下来)|"
            r"不停(?:地)?咳|咳得",
            r"(?:我|身体|浑身|全身|人|自己)(?:(?!天气|椅子|床|鞋|衣服|房间|这|那|个)[^，。坐穿戴用住]){0,5}"
            r"(?:不舒服|难受|不对劲|不得劲|不太对|不好受)",
            r"(?:好|很|真|太)辛苦(?:啊|呀)?$|我(?:好|很)辛苦(?!工作)",
            _ZH_BODY + r"[^，。]{0,4}(?:疼|痛)(?!快|苦|心|恨)",
            r"痒(?:得)?(?:厉害|受不了|死)|红点|红疹|疹子|起疹|风团|一块一块",
            r"呕|吐了(?:几|好几|两|三)次|吐得",
            r"(?:撞|碰|扭|磕|砸|夹|烫|割|划|戳)(?:到|伤|了|破)(?:了)?(?:我的)?" + _ZH_BODY + r"|" + _ZH_BODY +
            r"(?:被|给)?(?:撞|碰|扭|磕|砸|夹|烫|割|划)(?:到|伤|破)|青了一(?:大)?块|淤青|肿了一(?:大)?块|起了个包",
            r"模糊|看东西(?:重影|有重影|花)|重影",
            r"(?:我|人)?(?:病了|生病了|不舒服了)", r"(?:叫|找|看)(?:一下|个)?(?:医生|大夫)(?:看看|瞧瞧)?"),
    *_rules(H, CRITICAL,
            r"救命|救救我|救救|快来人|来人(?:啊|呀|哪)?|來人|有没有人(?:啊|呀)?(?!(?:能|可以|愿意|想|会)?(?:陪|跟|和|一起|会|懂|知道|在用|要))|谁来(?:帮帮|救救)?(?:我|一下)?|"
            r"快来帮|快帮帮|救我",
            r"帮帮(?:我|忙)(?!(?:找|拿|看|查|开|弄|问|倒|把|搬|写|填|选|关|调|买|取|挑))(?:吧|啊|呀)?",
            r"(?:叫|喊|快叫|快去叫|快喊|帮我叫|帮我喊|给我叫|赶紧叫|马上叫|快找|去叫|快去找)(?:一下|个|一个|下|一声)?"
            r"(?:护士|医生|大夫|救护车|急救)",
            r"(?:护士|医生|大夫|护工)(?:快|赶紧|马上)?(?:来|过来|快来|救|啊|呀)(?!了吗|了没|吗|没有)|快(?:来|过来)(?:人|啊)|"
            r"^(?:护士|医生|大夫|来人|护工)+(?:啊|呀|快来|救命|在哪)?$",
            r"(?:叫|喊|找|快叫|帮我叫|帮我喊|给我叫|麻烦叫|麻烦你叫)(?:一下|个|一个|下)?(?:护士|医生|大夫|姑娘)"
            r"(?:过来|来|快来)",
            r"白车|(?:要|需要|找)(?:个|一个)?人(?:来)?帮(?:忙|我|一下)(?!(?:找|拿|看|查|开|弄|问|倒|把|搬|写|填|选))",
            r"(?:快|快点|赶紧|马上)叫(?:个|一个)?(?:人|护工|工作人员)|叫(?:个|一个)?(?:人|护工|工作人员)(?:来|过来)(?!了)|"
            r"帮我叫(?:个|一个)?(?:护工|护士|人)",
            r"打(?:个)?(?:120|一二零|幺二零|急救电话)|救护车|(?:叫|打|要|找|喊)急救|急救车|紧急情况"),
    *_rules(O, CRITICAL,
            _ZH_PERSON + r".{0,6}?(?<!别)(?<!不要)(?<!小心)(?<!防止)(?<!以免)(?<!当心)(?<!怕)"
            r"(?:叫不醒|喊不醒|醒不过来|醒不了|没(?:有)?反应|不动了|一动不动|动不了|倒在地上|倒地|"
            r"躺在地上|躺地上|摔倒|摔了(?!(?:一个|个|一只|只|一块|块|一下午|杯|碗|盘|瓶|手机|东西))|跌倒|跌了|滑倒|"
            r"昏倒|晕倒|晕过去|昏过去|昏迷|不说话了|没气了|没(?:有)?呼吸|不呼吸|不喘气|喘不过气|喘不上气|抽搐|口吐白沫|"
            r"脸色(?:发青|发紫|发白|很差|不对|铁青)|嘴唇(?:发紫|发青)|噎住|呛住|卡住|流血|出血|叫(?:他|她)?不答应|"
            r"不答应|没声音了|不省人事|不认人|起不来|站不起来|爬不起来|不行了|倒下|栽倒|晕了|昏了|倒了|瘫(?:在|了)|"
            r"叫[^，。]{0,3}不醒|喊[^，。]{0,3}不醒|捂着(?:心口|胸口|胸|肚子|头|喉咙)|(?:喊|叫)(?:痛|疼|救命)|"
            r"不舒服|不太舒服|不大舒服|不对劲|难受|发烧|发高烧|好辛苦)",
            r"(?:有人|一个人|一个老人|老人家)(?:在)?.{0,6}(?:倒|躺)(?:在)?(?:地上|地下|门口|走廊|厕所|卫生间)"),
    *_rules(L, CRITICAL,
            r"(?<!别)(?<!不要)(?<!小心)(?<!防止)(?<!以免)(?<!怕)(?<!当心)(?<!别再)(?:摔|跌|滑|绊)(?:倒|了一跤|了一下|"
            r"了个跟头|跤|在地上|下去了|倒在地)(?!.{0,3}(?:怎么办|的话|吗))",
            r"起不来|站不起来|爬不起来|坐不起来|起不了身|起不了床",
            r"从[^，。]{1,5}(?:上|下)?(?:掉|摔|跌|滚|滑|栽)(?:下来|下去|了下来|倒|到地)",
            r"(?:我|人)(?:躺|坐|倒|趴)在地(?:上|下)", r"(?:我|人)?(?:刚才|刚刚)?摔了(?:一下|下)?(?:了)?$"),
    *_rules(F, CRITICAL,
            r"着火|失火|起火|火灾|烧起来|冒烟|有烟|好多烟|很多烟|浓烟|烟雾|烟很大|烧焦|焦味|糊味|烧糊|煤气味|燃气味|"
            r"燃气泄漏|煤气泄漏|漏气|火警|火(?:很大|好大|烧|苗)|烟(?:雾)?报警(?:器)?(?:响|叫)|火光|爆炸",
            r"冒(?:出)?火|喷火|火花|闻到[^，。]{0,4}(?:烟|焦|糊|煤气|燃气|烧)|(?:房|里|间|厅|屋|楼)(?:有|起|着)火|有火(?!锅|车|腿|柴|龙)"),
    *_rules(D, CRITICAL,
            r"吃错(?:了)?药|药(?:吃|喝|拿)(?:多|错|重)了|多吃了(?:药|几片|好几片)|药吃了两(?:次|遍|回)|"
            r"吃了(?:两|二|三|好几)(?:次|遍|回)(?:药)|(?:吃|拿|喝)了(?:别人|人家|隔壁|他|她)的药|误(?:服|吃|喝)|"
            r"(?:吞|喝|吃)了(?:洗洁精|消毒水|消毒液|漂白|洗衣液|电池|农药|老鼠药|杀虫剂)|过量|(?:药)?吃了太多|"
            r"一(?:下|次)(?:吃|吞)了(?:好多|很多|一把|一整瓶|一瓶)|中毒|药(?:吃|喝)重了",
            r"吃多了(?:[^，。]{0,3}药)|多吃了|(?:吃|打|用|注射|喷|贴)了(?:两|二|三|四|好几|几)(?:次|遍|回|针)(?:的)?"
            r"(?:药|胰岛素|针)?|(?:一整|整|一)(?:瓶|盒|板|把)(?:的)?[^，。]{0,5}药[^，。]{0,3}(?:都)?(?:吃|吞|喝)|"
            r"吃了(?:好多|很多|太多|几|好几)次|所有(?:的)?药(?:都)?(?:吃|吞|喝)|药[^，。]{0,2}重复|重复(?:吃|用)|"
            r"不是我的药"),
]
_ZH_GUARDS = (
    r"没摔|没有摔|沒摔|没跌|不用叫|不需要叫|别叫|不要叫|不用麻烦|不是紧急|不紧急|没什么事|^(?:我)?没事(?:了|的)?$|^(?:我)?很好$|^还好$",
    r"如果|万一|假如|要是|假设|的话|怎么办|该怎么|应该怎么|怎么处理|演习|演练|培训|讲座|知识|逃生路线|消防通道|"
    r"灭火器在哪|安全出口|须知|注意事项|预防",
    r"(?<!比)以前|年前|那年|那时候|小时候|年轻的时候|年轻时|当年|去年|上个月|电视(?:里|上|剧)|电影|新闻|故事|小说|书上|节目|剧里",   # 比以前: worse than before
    r"让我头疼|真让人头疼|头疼的(?:事|问题)|真头疼|心疼|笑得|笑死|热死了|累死了|饿死了|困死了|烦死了|急死了|气死了|"
    r"开心死了|高兴死了|冷死了|吓死|美死|乐死|香死|好吃死",
    r"火锅|火车|火腿|火柴|点火|生火|炉火|烟花|抽烟|吸烟|烟灰|香烟|烟斗|烟酒|火龙果|发火|上火|火气|火爆|红火",
    r"停电|摔跤比赛|摔跤运动|学走路|学步|课|学了|学习|出口|通道|(?:按钮|按键)在哪",
    r"没(?:有)?[^，。]{0,2}(?:疼|痛|不舒服)|不(?:疼|痛)了|不再(?:疼|痛)|好(?:多)?了$|已经好了|好些了",
)

# ---------------------------------------------------------------- thoughts of ending one's life
# Said in passing to a robot as often as to a nurse; staff must hear it at once. Medical,
# critical (no kind of its own: staff read the words in the alert). Scanned apart from the
# rules above, with only the guards for stories and hypotheticals: the everyday guards ("any
# more", "sick of", "years ago") are the very words these sentences are made of. "I don't
# want to be here" alone is not among them (in a care home it is mostly about the home).
_EN_SELF_HARM = _rules(
    M, CRITICAL,
    r"\b(?:kill|hurt|harm|cut) myself\b|\bsuicid\w*\b|\bbetter off dead\b|\bnot worth living\b",
    r"\b(?:i|i m|im|i am|i ll|i will|i d|i would|i wanna|i want to|i m going to)\b(?: \w+){0,3}? "
    r"(?:end it all|end it|end my (?:own )?life|take my (?:own )?life)$",
    r"\b(?:end it all|end my (?:own )?life|take my (?:own )?life)\b",
    r"\b(?:do ?n t|dont|do not) (?:want|wish) to (?:live(?! (?:in|at|here|there|with|near|on|like|somewhere|"
    r"anywhere|alone|by|upstairs|downstairs|next))|be alive|go on(?: living)?|carry on|wake up)\b",
    r"\b(?:i )?(?:want|wish|wanna|would like|d like) (?:to die|i (?:was|were) dead|to be dead)\b",
    r"\b(?:no|not any|is no) (?:point|reason|use) (?:in )?(?:living|going on|carrying on|to live|to go on|being alive)\b",
    r"\b(?:tired|sick) of (?:living|life|being alive)\b",
    r"\blife (?:is ?n t|isnt|is not|s not|ain t) worth (?:it|living)\b",
    topic="self_harm")
_EN_SELF_HARM_GUARDS = tuple(re.compile(g) for g in (
    r"\b(?:film|movie|book|novel|programme|program|show|series|news|story|play|song|character)\b",
    r"\bwhat if\b|^if\b|\bin case\b|\b(?:he|she|they) (?:said|says|wanted)\b", r"\b(?:end|kill|take) (?:it|the) "
    r"(?:call|conversation|game|programme|show)\b", r"\bdying (?:for|to)\b"))

_ZH_SELF_HARM = _rules(
    M, CRITICAL,
    r"不想活|活不下去|活够了|活着(?:还)?(?:有什么|没(?:有)?|没啥)(?:意思|意义|用)|自杀|寻死|轻生|一死了之|"
    r"(?:死了|走了)算了|不如死了|了结(?:自己|生命|这一生|此生)|结束(?:自己的?|我的)?生命",
    r"我(?:真|好|是真的|真的)?想死(?:了|掉)?(?:算了)?$",
    r"一了百了|活着(?:就是|真是|简直是|简直就是)?(?:受罪|遭罪|多余|是个累赘)",
    topic="self_harm")
_ZH_SELF_HARM_GUARDS = tuple(re.compile(g) for g in (
    r"电视(?:里|上|剧)|电影|新闻|故事|小说|书上|节目|剧里|如果|要是|万一|假如",
    r"想死(?:你|您|他|她|我)了|想死你|笑死|热死|累死|饿死|困死|烦死|急死|气死|吓死"))

_EN_COMPILED_GUARDS = tuple(re.compile(g) for g in _EN_GUARDS)
_ZH_COMPILED_GUARDS = tuple(re.compile(g) for g in _ZH_GUARDS)


def _guarded(clause: str, guards) -> bool:
    return any(g.search(clause) for g in guards)


# Among findings of equal severity, the kind that tells staff most ("someone collapsed" is
# about someone else, not the speaker's symptom; a bare call for help says least).
_SPECIFICITY = (DistressKind.CALL_FOR_HELP, DistressKind.MEDICAL, DistressKind.FALL, DistressKind.OTHER_PERSON,
                DistressKind.MEDICATION, DistressKind.FIRE)


def _best(found: list[Distress]) -> Distress | None:
    """The most severe finding; among equals the most specific kind."""
    if not found:
        return None
    return max(found, key=lambda d: (int(d.severity), _SPECIFICITY.index(d.kind)))


def _scan(clause: str, rules: list[_Rule], whole: str = "") -> list[Distress]:
    return [Distress(r.kind, r.severity, r.name, topic=r.topic) for r in rules
            if r.regex.search(clause) and not (r.unless is not None and r.unless.search(whole or clause))]


def detect(utterance: Utterance | str) -> Distress | None:
    """Distress in an utterance by rule, or None. Every clause of both languages'
    forms is read (a mixed-language sentence is read both ways)."""
    u = utterance if isinstance(utterance, Utterance) else Utterance.of(utterance)
    if u.empty:
        return None
    found: list[Distress] = []
    for clause in u.clauses or (u.words,):
        if not _guarded(clause, _EN_COMPILED_GUARDS):
            found += _scan(clause, _EN_RULES, u.words)
        if not _guarded(clause, _EN_SELF_HARM_GUARDS):
            found += _scan(clause, _EN_SELF_HARM)
    # The whole utterance too: a rule may span a comma Whisper put in ("nurse, nurse").
    if not found and not any(_guarded(c, _EN_COMPILED_GUARDS) for c in u.clauses):
        found += _scan(u.words, _EN_RULES)
    if u.compact and re.search(r"[\u3400-\u9fff]", u.compact):
        for clause in u.compact_clauses or (u.compact,):
            if not _guarded(clause, _ZH_COMPILED_GUARDS):
                found += _scan(clause, _ZH_RULES)
            if not _guarded(clause, _ZH_SELF_HARM_GUARDS):
                found += _scan(clause, _ZH_SELF_HARM)
        if not found and not any(_guarded(c, _ZH_COMPILED_GUARDS) for c in u.compact_clauses):
            found += _scan(u.compact, _ZH_RULES)
    return _best(found)


def is_distress(text: str) -> bool:
    """True when the rules find distress in the text (no model)."""
    return detect(text) is not None


# ---------------------------------------------------------------- low mood, not an emergency
# The similarity check reads "I just feel a bit down in the dumps" as near "I'm not feeling
# myself today" (e5's cosines bunch). Words of mood with no word of the body are company, not
# a nurse: a similarity finding below critical on them is dropped (safety_rules.SafetyNet).
# The rules are not touched by this (self-harm is theirs, at critical).
_EN_BODY_WORDS = re.compile(
    r"\b(?:pain\w*|hurt\w*|ache\w*|aching|sore|dizzy|faint\w*|sick|ill|unwell|poorly|breath\w*|chest|heart|"
    r"bleed\w*|blood|fall|fell|fallen|shak\w*|sweat\w*|numb|weak|fever\w*|hot|cold|vomit\w*|throw\w* up|head|"
    r"stomach|tummy|belly|pills?|tablets?|medicine|tired|sleep\w*|eat\w*|food|swallow\w*|legs?|arms?|floor|"
    r"ground|stairs|get up|getting up|stand up|sugar)\b")
_ZH_MOOD_WORDS = re.compile(r"心情(?:不好|差|低落|不太好)|闷闷不乐|不开心|不高兴|难过|伤心|孤单|孤独|寂寞|没意思|没劲|"
                            r"无聊|提不起(?:劲|精神|兴趣)|空落落|不是滋味|郁闷|烦闷|想哭|心里(?:堵|闷|难受|发慌)?得慌")
# Grief over a death long past ("老头子走了三年了", "my wife passed away two years ago"): memory
# and company, not a nurse, like low mood.
_ZH_LONG_AGO_DEATH = re.compile(
    r"(?:老伴|老头子?|老太婆|老公|老婆|丈夫|妻子|爱人|爸|妈|父亲|母亲|儿子|女儿|哥|姐|弟|妹|朋友|同学|战友|他|她)"
    r".{0,3}(?:走了|去世|过世|不在了|没了|离开)(?:了)?(?:有|快|都|已经)?"
    r"(?:[一二三四五六七八九十两几半\d]+|好几|多)(?:个)?(?:年|个月)")
_EN_LONG_AGO_DEATH = re.compile(
    r"\b(?:passed away|passed on|died|lost (?:him|her|my \w+))\b.{0,30}\b(?:years?|months?) ago\b"
    r"|\b(?:years?|months?) (?:since|after) (?:he|she|my \w+) (?:died|passed|went)\b")
_ZH_BODY_WORDS = re.compile(r"疼|痛|晕|喘|吐|烧|摔|跌|血|胸|心口|心脏|(?<!老)头|肚|药|不舒服|没力气|冒汗|麻|抽筋|呼吸|吃不下|睡不着")


# A medicine named: a medication problem found only by likeness ("I've read every book on that
# shelf twice" is near "pills twice, I think I took them twice") needs one to be about medicine.
_EN_MEDICINE_WORDS = re.compile(
    r"\b(?:pills?|tablets?|medicines?|medications?|meds|doses?|insulin|inhalers?|puffers?|drops|patch(?:es)?|"
    r"prescriptions?|capsules?|paracetamol|painkillers?|aspirin|ibuprofen|warfarin|morphine|antibiotics?|"
    r"injections?|jabs?|syringe|blister|dosette|pill ?box|chemist|pharmacy)\b")
_ZH_MEDICINE_WORDS = re.compile(r"药|片|胶囊|针|胰岛素|剂量|吊瓶|输液|贴剂|膏药")


def names_a_medicine(utterance: Utterance | str) -> bool:
    """A word for a medicine, a dose or the means of taking one."""
    u = utterance if isinstance(utterance, Utterance) else Utterance.of(utterance)
    if has_cjk(u.compact):
        return bool(_ZH_MEDICINE_WORDS.search(u.compact))
    return bool(_EN_MEDICINE_WORDS.search(u.words))


def speaks_only_of_mood(utterance: Utterance | str) -> bool:
    """Words of low mood ("a bit down", "心情不好") or of a death long past ("走了三年了"), and
    none of the body, pain, falls or pills."""
    u = utterance if isinstance(utterance, Utterance) else Utterance.of(utterance)
    if u.empty:
        return False
    if has_cjk(u.compact):
        return bool(_ZH_MOOD_WORDS.search(u.compact) or _ZH_LONG_AGO_DEATH.search(u.compact)) \
            and not _ZH_BODY_WORDS.search(u.compact)
    return bool(_EN_LOW_MOOD.search(u.words) or _EN_LONG_AGO_DEATH.search(u.words)) \
        and not _EN_BODY_WORDS.search(u.words)
