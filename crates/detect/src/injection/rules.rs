//! Phrase rules for instructions aimed at a model: each is a signal the model weighs (a rule
//! hit is a feature of the classifier, its weight learned in training) and the evidence span a
//! finding shows. Patterns run on the lowercased normalized text.
//!
//! Each rule should begin with a literal of two or more bytes (a word, `<|`, `' or`), so that it
//! is tried only where that literal occurs (see `crate::anchored`); where markup allows
//! optional blanks, ` ?` keeps the literal intact where `\s*` would not.

/// One rule: a label and a pattern over lowercase text.
pub(crate) struct Rule {
    pub label: &'static str,
    pub pattern: &'static str,
}

const fn r(label: &'static str, pattern: &'static str) -> Rule {
    Rule { label, pattern }
}

pub(crate) static RULES: &[Rule] = &[
    r(
        "instruction_override",
        r"\b(?:ignore|disregard|forget|skip|override|bypass|neglect|abandon|discard|drop)\b(?:\s+[\w']+){0,4}?\s+(?:previous|prior|above|earlier|preceding|former|original|initial|all|any|every|your|the|system|current|existing|old)\b(?:\s+[\w']+){0,3}?\s+(?:instructions?|directions?|prompts?|rules|guidelines|commands?|orders?|context|tasks?|messages?|programming|constraints|directives?|requests?)\b",
    ),
    r(
        "instruction_override",
        r"\b(?:ignore|disregard|forget)\s+(?:everything|all|what)\s+(?:you|i|that|above|before|previously)\b",
    ),
    r(
        "instruction_override",
        r"\bnevermind\b|\bnever\s+mind\b.{0,40}\b(?:instead|say|print|just)\b",
    ),
    r(
        "new_instructions",
        r"\b(?:new|updated|real|actual|true|revised|additional|secret|hidden|important|urgent)\s+(?:instructions?|task|orders?|directives?|objectives?|goal|assignment|mission)\b",
    ),
    r(
        "new_instructions",
        r"\b(?:your|the)\s+(?:new|real|actual|only)\s+(?:task|job|goal|purpose|instructions?)\s+(?:is|are)\b",
    ),
    r(
        "instead",
        r"\binstead\s*,?\s+(?:you\s+(?:must|should|will|need)|please|do|just|say|print|output|write|send|reply|respond|call|use)\b|\binstead\s*[.!]\s*$|\b(?:do|please)\s.{3,200}\binstead\s*[.!]",
    ),
    r(
        "task_hijack",
        r"\bbefore\s+(?:you\s+)?(?:can\s+|do\s+|continue|proceed|answer|solv|complet|finish|respond|reply|doing)",
    ),
    r(
        "task_hijack",
        r"\b(?:do|perform|complete|execute|carry\s+out)\s+the\s+following\s+(?:first|immediately|now|action|task|steps?|instructions?)\b",
    ),
    r(
        "task_hijack",
        r"\b(?:after|once)\s+(?:you\s+)?(?:do|did|have\s+done|finish|complete)\s+(?:that|this|it)\s*,?\s+(?:you\s+can|continue|proceed|go\s+back)",
    ),
    r(
        "addressed_to_model",
        r"\b(?:dear|attention|hey|hello|hi|note\s+to|message\s+(?:for|to)|instructions?\s+for)\s+(?:the\s+)?(?:ai|a\.i\.|assistant|model|llm|agent|chatbot|gpt[\w-]*|chatgpt|claude|gemini|llama|bot|language\s+model|ai\s+assistant)\b",
    ),
    r(
        "addressed_to_model",
        r"\b(?:if\s+you\s+are\s+an?|as\s+an?|you\s+are\s+an?)\s+(?:ai|a\.i\.|large\s+language|language\s+model|llm|assistant|ai\s+assistant|automated)\b",
    ),
    r(
        "addressed_to_model",
        r"\bthis\s+is\s+(?:an?\s+)?(?:important|urgent|critical|official|priority)\s+(?:message|notice|instruction|update|directive)\b",
    ),
    r(
        "addressed_to_model",
        r"\b(?:ai|llm|model|assistant|agent)s?\s+(?:reading|processing|summari[sz]ing|analy[sz]ing)\s+this\b",
    ),
    r(
        "role_switch",
        r"\byou\s+are\s+now\b|\bfrom\s+now\s+on\b|\bpretend\s+(?:to\s+be|you\s+are|that)\b|\broleplay\b|\brole-play\b|\bdo\s+anything\s+now\b|\bdeveloper\s+mode\b|\bjailbr(?:oken|eak)|\bdan\s+mode\b|\bunfiltered\b|\buncensored\b",
    ),
    r(
        "role_switch",
        r"\b(?:no|free\s+(?:of|from)|without\s+(?:any)?)\s*(?:ethical|moral|content)?\s*(?:restrictions|limitations|filters|censorship|guidelines|rules)\b",
    ),
    r(
        "role_switch",
        r"\b(?:stay|remain)\s+in\s+character\b|\bbroke\s+character\b|\bact\s+as\s+(?:an?\s+)?(?:unrestricted|evil|rogue|different|new)\b",
    ),
    r(
        "system_prompt",
        r"\b(?:system|initial|original|hidden|secret|internal|pre-?)\s*(?:prompt|instructions?|message)s?\b",
    ),
    r(
        "system_prompt",
        r"\b(?:reveal|repeat|print|show|output|leak|disclose|display|recite|tell\s+me)\s+(?:\w+\s+){0,4}?(?:prompt|instructions?|rules|guidelines|configuration)\b",
    ),
    r(
        "system_prompt",
        r"\b(?:repeat|print|output)\s+(?:the\s+)?(?:words|text|everything)\s+(?:above|before)\b",
    ),
    r(
        "fake_markup",
        r"< ?/? ?(?:system|instructions?|information|important|admin|im_start|im_end|assistant|user|prompt|context|s|inst) ?>|<\|[a-z_]{2,20}\|>|\[/?(?:system|inst|admin|sys)\]|#{2,}\s*(?:system|instruction|admin|new)|\( ?system_message ?\)|\bsystem\s*:\s|\bassistant\s*:\s",
    ),
    r("todo_directive", r"(?:^|[\s\x22'(\[])todo\s{0,3}:\s{0,3}\w"),
    r(
        "exfiltration",
        r"\b(?:send|forward|email|e-mail|mail|post|upload|transfer|share|leak|exfiltrate|copy)\b(?:\s+\S+){0,10}?\s+to\s+(?:\S+@\S+\.\w+|https?://|the\s+(?:following|this)\s+(?:address|email|url|account|iban|number)|(?:my|this|our)\s+(?:email|address|server|account))",
    ),
    r(
        "exfiltration",
        r"!\[[^\]]{0,40}\]\(https?://[^)]{0,200}(?:\?|&)[a-z_]{1,20}=",
    ),
    r(
        "secrecy",
        r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention|notify|alert|ask|reveal\s+(?:this\s+)?to|let)\s+(?:the\s+)?(?:user|human|anyone|them|him|her|owner)\b|\bwithout\s+(?:telling|informing|asking|notifying|alerting)\s+(?:the\s+)?(?:user|human|owner)\b|\b(?:keep\s+this|this\s+is)\s+(?:a\s+)?secret\b",
    ),
    r(
        "halt",
        r"\b(?:stop|halt|cease|abort)\s+(?:everything|all|what\s+you|working|processing|responding|immediately|now)\b|\byou\s+(?:must|should|have\s+to)\s+(?:stop|refuse|not\s+(?:continue|respond|answer|proceed))\b",
    ),
    r(
        "output_forcing",
        r"\b(?:just|only|simply)\s+(?:say|print|output|respond\s+with|reply\s+with|write|answer\s+with|return)\b|\b(?:say|print|output|respond\s+with|reply\s+with)\s*(?:[:\x22']|“)",
    ),
    r(
        "priority_claim",
        r"\b(?:highest|top|utmost|absolute)\s+priority\b|\bcritical\s*[:!]|\bmandatory\b|\bimportant\s*[!:]{1,3}|\burgent\s*[!:]|\bauthorized\s+by\b|\bpre-?(?:verified|approved|authorized)\b",
    ),
    r(
        "tool_call_directive",
        r"\b(?:call|use|invoke|run|execute)\s+(?:the\s+)?(?:function|tool|api|command)\s+[`'\x22]?\w+",
    ),
    r(
        "code_payload",
        r"<script\b|javascript:|\bonerror\s*=|\bdrop\s+table\b|; ?(?:rm\s+-rf|curl\s|wget\s|nc\s|bash\s+-[ci])|\b(?:os\.system|subprocess\.|__import__|eval\(|exec\()|\bunion\s+select\b|' ?or\s+'?1'?\s*=\s*'?1",
    ),
];
