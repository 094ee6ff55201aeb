#!/usr/bin/env python3
"""Generate the billing-support dataset (train.jsonl, dev.jsonl, eval.jsonl) reproducibly.

    python suites/data/support/generate.py            # rewrite the three files
    python suites/data/support/generate.py --check    # exit 1 if the files differ from the output
    python suites/data/support/generate.py --stats    # print counts per split and label

Standard library only; the output depends on nothing but the code in this folder (string seeds
go through random's sha512 seeding, so PYTHONHASHSEED does not matter). Train and dev are
written from ``pools_train.py``, eval from ``pools_eval.py``. Labels and replies come from the
rules below (``priority_for``, ``build_reply``) and every reply is checked against the style
guide (``style_rules.check_reply``) before it is written.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import pools_eval  # noqa: E402
import pools_train  # noqa: E402
from style_rules import CATEGORIES, SIGN_OFF, check_answer, dump_answer, greeting_for  # noqa: E402

SEED = 1729
# split -> (items per category, template pool)
SPLITS: dict[str, tuple[int, ModuleType]] = {
    "train": (130, pools_train),
    "dev": (25, pools_train),
    "eval": (40, pools_eval),
}

SYSTEM_PROMPT = (
    "Classify the billing email and draft a reply. "
    'Answer with one JSON object: {"category": ..., "priority": ..., "reply": ...}\n'
    "category: " + ", ".join(CATEGORIES) + ".\n"
    "priority: low, normal, high or urgent.\n"
    'reply: starts "Hi <first name>," (or "Hello," without a name), 2 to 4 sentences, '
    f'no exclamation marks, last line "{SIGN_OFF}".'
)

TONES = ("polite", "neutral", "angry", "confused")
TONE_WEIGHTS = (30, 30, 20, 20)
PLANS = ("short", "medium", "long")
PLAN_WEIGHTS = (30, 45, 25)
# Length tags come from the email body's word count, not from the plan that wrote it.
SHORT_MAX_WORDS = 25
MEDIUM_MAX_WORDS = 50
# Emails longer than this drop optional sentences: train sequences must stay under ~384 tokens.
MAX_BODY_CHARS = 480
THREAD_CASE_RATE = 0.07  # about 15% of items end up in a thread of 2 or 3 emails
DEADLINE_RATE = 0.12
BLOCKED_RATE = 0.4
LOWERCASE_RATE = 0.08
TYPO_RATES = (0.0, 0.03, 0.08)
TYPO_WEIGHTS = (55, 30, 15)

# ---------------------------------------------------------------- priority (STYLE_GUIDE.md)

PRIORITY_LEVELS = ("low", "normal", "high", "urgent")
MONEY_LOST = frozenset({"double_charge", "refund_request"})
LOW_CATEGORIES = frozenset({"invoice_request", "tax_vat_question", "promo_code"})


def priority_for(category: str, tone: str, *, blocked: bool, deadline: bool, followup: bool) -> str:
    """The priority rule: first match wins, then a follow-up moves one level up (capped)."""
    at_stake = category in MONEY_LOST or blocked
    if at_stake and tone == "angry":
        level = "urgent"
    elif at_stake or deadline:
        level = "high"
    elif category in LOW_CATEGORIES and tone != "angry":
        level = "low"
    else:
        level = "normal"
    if followup:
        level = PRIORITY_LEVELS[min(PRIORITY_LEVELS.index(level) + 1, len(PRIORITY_LEVELS) - 1)]
    return level


# ---------------------------------------------------------------- reply policy

ACTIONS = {
    (
        "double_charge",
        "duplicate",
    ): "I can see two charges of {amount_std} for {product}, and I have refunded the duplicate.",
    (
        "refund_request",
        "after_cancel",
    ): "I have refunded the {amount_std} charge for {product}, since it came after your cancellation.",
    (
        "refund_request",
        "renewal",
    ): "Your {product} renewal of {amount_std} is within our 14-day refund window, so I have refunded it and closed the plan.",
    (
        "failed_payment",
        "declined",
    ): "Your payment of {amount_std} for {product} failed because the bank declined the card.",
    (
        "failed_payment",
        "expired",
    ): "Your payment of {amount_std} for {product} failed because the card on file has expired.",
    (
        "plan_change",
        "upgrade",
    ): "I can move you from {from_plan} to {to_plan} today, and the difference will be prorated on your next invoice.",
    (
        "plan_change",
        "downgrade",
    ): "I can move you from {from_plan} to {to_plan} at the end of your current billing period.",
    ("invoice_request", "copy"): "I have attached the invoice for {month} to this email.",
    (
        "invoice_request",
        "company",
    ): "I have reissued the invoice for {month} with {company} as the billing name.",
    (
        "cancellation",
        "now",
    ): "I have cancelled your {product} subscription, and you keep access until the end of the current billing period.",
    (
        "cancellation",
        "end_of_term",
    ): "I have turned off renewal for {product}, so your plan ends when the current term is over.",
    (
        "tax_vat_question",
        "why_vat",
    ): "We charge VAT because your billing address is in {country}, where VAT applies to digital services.",
    (
        "tax_vat_question",
        "add_vat",
    ): "I have added the VAT number {vat_id} to your account, so future invoices will use the reverse charge.",
    (
        "promo_code",
        "rejected",
    ): "I have checked the code {code} and applied its discount to your account by hand.",
    (
        "promo_code",
        "forgot",
    ): "I have added the code {code} to your account, so the discount applies from your next invoice.",
}
NEXT_STEPS = {
    ("double_charge", "duplicate"): "You will see the refund on your statement within 5 to 7 business days.",
    (
        "refund_request",
        "after_cancel",
    ): "You will see the money back on your card within 5 to 7 business days.",
    ("refund_request", "renewal"): "You will see the money back on your card within 5 to 7 business days.",
    (
        "failed_payment",
        "declined",
    ): "Please update your card under Settings, then Billing, and we will retry within 24 hours.",
    (
        "failed_payment",
        "expired",
    ): "Please update your card under Settings, then Billing, and we will retry within 24 hours.",
    (
        "plan_change",
        "upgrade",
    ): "Please reply to confirm and we will make the change within one business day.",
    (
        "plan_change",
        "downgrade",
    ): "Please reply to confirm and we will make the change within one business day.",
    (
        "invoice_request",
        "copy",
    ): "You can also download every invoice under Settings, then Billing, then Invoices.",
    (
        "invoice_request",
        "company",
    ): "Please check the new copy and reply if any other detail needs to change.",
    ("cancellation", "now"): "You will not be charged again, and a confirmation email is on its way.",
    ("cancellation", "end_of_term"): "You will not be charged again, and a confirmation email is on its way.",
    (
        "tax_vat_question",
        "why_vat",
    ): "Please send us your VAT number if you are a registered business and we will remove VAT from future invoices.",
    ("tax_vat_question", "add_vat"): "Please reply if you also need past invoices reissued without VAT.",
    ("promo_code", "rejected"): "You will see the discount on your next invoice.",
    ("promo_code", "forgot"): "Please reply if the discount does not show on that invoice.",
}
BLOCKED_ACTION = "I have restored your access for 7 days while the payment is sorted out."
TONE_ACK = {
    "angry": "I am sorry for the trouble this has caused.",
    "confused": "Thank you for asking, and I am happy to explain.",
}
FOLLOWUP_ACK = "Thank you for following up, and I am sorry for the slow reply."

# ---------------------------------------------------------------- values: money, dates, ids

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
# code -> (minor units per major unit, multiplier on the base price, email formats).
# {v}: "1,188.00" style, {vc}: "1.188,00" style (decimal comma).
CURRENCIES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "USD": (100, 1, ("${v}", "{v} USD", "USD {v}", "US${v}")),
    "EUR": (100, 1, ("€{v}", "{vc} €", "{v} EUR", "EUR {v}", "{vc} euros")),
    "GBP": (100, 1, ("£{v}", "{v} GBP", "{v} pounds")),
    "CAD": (100, 1, ("CA${v}", "{v} CAD")),
    "AUD": (100, 1, ("A${v}", "{v} AUD")),
    "CHF": (100, 1, ("CHF {v}", "{v} CHF")),
    "INR": (100, 80, ("₹{v}", "Rs {v}", "INR {v}")),
    "JPY": (1, 150, ("¥{v}", "{v} yen", "JPY {v}")),
    "BRL": (100, 5, ("R${vc}", "{vc} BRL")),
    "SEK": (100, 10, ("{v} kr", "{v} SEK")),
}
CURRENCY_WEIGHTS = (25, 20, 12, 6, 6, 4, 8, 6, 6, 7)
BASE_PRICES_CENTS = (
    999,
    1200,
    1500,
    1999,
    2400,
    2900,
    3999,
    4900,
    5900,
    7900,
    9900,
    11900,
    14900,
    19900,
    24900,
    48000,
    118800,
)
VAT_COUNTRIES = (
    ("Germany", "DE", 9, ""),
    ("France", "FR", 11, ""),
    ("Spain", "ESB", 8, ""),
    ("Italy", "IT", 11, ""),
    ("the Netherlands", "NL", 9, "B01"),
    ("Ireland", "IE", 7, "W"),
    ("Belgium", "BE0", 9, ""),
    ("Austria", "ATU", 8, ""),
    ("Poland", "PL", 10, ""),
    ("Sweden", "SE", 10, "01"),
    ("Portugal", "PT", 9, ""),
    ("Denmark", "DK", 8, ""),
    ("Finland", "FI", 8, ""),
)


def money(rng: random.Random) -> tuple[str, str]:
    """(the amount as one customer would write it, the amount in the style guide's form)."""
    code = rng.choices(list(CURRENCIES), CURRENCY_WEIGHTS)[0]
    minor, mult, formats = CURRENCIES[code]
    base = rng.choice(BASE_PRICES_CENTS)
    if minor == 1:  # zero-decimal currency: whole hundreds of yen
        units, cents = round(base * mult / 10000) * 100, 0
        std = f"{code} {units:,}"
    else:
        total = base if mult == 1 else round(base * mult / 100) * 100
        units, cents = divmod(total, 100)
        std = f"{code} {units:,}.{cents:02d}"
    whole = f"{units:,}" if units >= 1000 and rng.random() < 0.5 else str(units)
    show_cents = minor > 1 and (cents > 0 or rng.random() < 0.5)
    dot = whole + (f".{cents:02d}" if show_cents else "")
    comma = whole.replace(",", ".") + (f",{cents:02d}" if show_cents else "")
    return rng.choice(formats).format(v=dot, vc=comma), std


def date_text(rng: random.Random) -> str:
    month, day = rng.randrange(12), rng.randint(1, 28)
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return rng.choice(
        (
            f"{MONTHS[month]} {day}",
            f"{day} {MONTHS[month]}",
            f"{MONTHS[month][:3]} {day}",
            f"2025-{month + 1:02d}-{day:02d}",
            f"{MONTHS[month]} {day}{suffix}",
        )
    )


def vat_fact(rng: random.Random) -> tuple[str, str]:
    country, prefix, digits, suffix = rng.choice(VAT_COUNTRIES)
    number = "".join(str(rng.randrange(10)) for _ in range(digits))
    return country, f"{prefix}{number}{suffix}"


# ---------------------------------------------------------------- one customer case


@dataclass(frozen=True)
class Case:
    """One customer with one issue; a thread is several emails about the same case."""

    category: str
    subtype: str
    first: str
    last: str
    signature: str  # "first" | "full" | "none"
    tone: str
    blocked: bool
    facts: dict[str, str]

    @property
    def greeting(self) -> str:
        return greeting_for(None if self.signature == "none" else self.first)


def make_case(category: str, pools: ModuleType, rng: random.Random) -> Case:
    subtype = rng.choice(sorted(pools.PROBLEMS[category]))
    firsts, lasts = rng.choice(pools.NAMES)
    amount, amount_std = money(rng)
    country, vat_id = vat_fact(rng)
    low, high = sorted(rng.sample(range(len(pools.PLANS)), 2))
    from_plan, to_plan = (pools.PLANS[low], pools.PLANS[high])
    if subtype == "downgrade":
        from_plan, to_plan = to_plan, from_plan
    month = rng.choice(MONTHS)
    facts = {
        "product": rng.choice(pools.PRODUCTS),
        "amount": amount,
        "amount_std": amount_std,
        "date": date_text(rng),
        "prev_date": date_text(rng),
        "month": rng.choice((month, f"{month} 2025", f"{month[:3]} 2025")),
        "from_plan": from_plan,
        "to_plan": to_plan,
        "company": rng.choice(pools.COMPANIES),
        "country": country,
        "vat_id": vat_id,
        "code": f"{rng.choice(pools.CODE_WORDS)}{rng.choice((10, 15, 20, 25, 30, 50))}",
        "card": f"{rng.randrange(10000):04d}",
        "seats": str(rng.randint(3, 80)),
        "team": rng.choice(pools.TEAMS),
        "city": rng.choice(pools.CITIES),
        "year": str(rng.randint(2016, 2023)),
        "years": str(rng.randint(2, 9)),
    }
    return Case(
        category=category,
        subtype=subtype,
        first=rng.choice(firsts),
        last=rng.choice(lasts),
        signature=rng.choices(("first", "full", "none"), (42, 46, 12))[0],
        tone=rng.choices(TONES, TONE_WEIGHTS)[0],
        blocked=category == "failed_payment" and rng.random() < BLOCKED_RATE,
        facts=facts,
    )


# ---------------------------------------------------------------- writing one email

KEYBOARD_NEIGHBOURS = {
    **dict(
        zip("qwertyuiop", ["wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol"], strict=True)
    ),
    **dict(
        zip(
            "asdfghjkl",
            ["qsz", "awdxz", "sefxc", "drgcv", "fthvb", "gyjbn", "hukmn", "jilm", "kop"],
            strict=True,
        )
    ),
    **dict(zip("zxcvbnm", ["asx", "zsdc", "xdfv", "cfgb", "vghn", "bhjm", "njk"], strict=True)),
}
_WORD = re.compile(r"^([A-Za-z]{4,})(\W*)$")


def add_typos(template: str, rate: float, rng: random.Random) -> tuple[str, int]:
    """Seeded character noise on a template's words; slots ("{amount}") are never touched."""
    if rate <= 0:
        return template, 0
    words, count = template.split(" "), 0
    for k, word in enumerate(words):
        m = _WORD.match(word)
        if m is None or rng.random() >= rate:
            continue
        letters, tail = m.groups()
        i = rng.randrange(1, len(letters) - 1)
        op = rng.choice(("swap", "drop", "double", "near"))
        if op == "swap":
            letters = letters[:i] + letters[i + 1] + letters[i] + letters[i + 2 :]
        elif op == "drop":
            letters = letters[:i] + letters[i + 1 :]
        elif op == "double":
            letters = letters[:i] + letters[i] + letters[i:]
        else:
            near = rng.choice(KEYBOARD_NEIGHBOURS.get(letters[i].lower(), letters[i]))
            letters = letters[:i] + (near.upper() if letters[i].isupper() else near) + letters[i + 1 :]
        words[k] = letters + tail
        count += 1
    return " ".join(words), count


@dataclass(frozen=True)
class Email:
    text: str
    words: int
    typos: int


def write_email(
    case: Case, *, turn: int, tone: str, plan: str, deadline: bool, pools: ModuleType, rng: random.Random
) -> Email:
    lower = rng.random() < LOWERCASE_RATE
    rate = rng.choices(TYPO_RATES, TYPO_WEIGHTS)[0]
    typos = 0

    def say(templates: list[str]) -> str:
        nonlocal typos
        template = rng.choice(templates)
        template, n = add_typos(template.lower() if lower else template, rate, rng)
        typos += n
        return template.format(**case.facts)

    opening = closing = tone != "neutral"
    if plan == "short" and tone != "neutral":
        opening = rng.random() < 0.5
        closing = not opening
    elif plan == "medium" and tone != "neutral":
        opening, closing = rng.choice(((True, False), (False, True), (True, True)))
    elif tone == "neutral":
        opening = plan != "short" and rng.random() < (0.4 if plan == "medium" else 0.6)
        closing = plan != "short" and rng.random() < 0.4
    others = [c for c in CATEGORIES if c != case.category]
    side_rate = {"short": 0.0, "medium": 0.15, "long": 0.7}[plan]

    # (sentence, drop order): optional sentences go first (side remark, extra detail, backstory)
    # when an email would not fit the token budget of a training sequence.
    sentences: list[tuple[str, int]] = []
    if turn > 0:
        sentences.append((say(pools.FOLLOWUPS), 0))
    if opening:
        sentences.append((say(pools.TONE_OPEN[tone]), 0))
    if plan == "long":
        sentences.append((say(pools.BACKSTORIES), 3))
    sentences.append((say(pools.PROBLEMS[case.category][case.subtype]), 0))
    if case.blocked:
        sentences.append((say(pools.BLOCKED), 0))
    if plan == "long":
        # Two different details make a long email longer without repeating itself.
        first, second = rng.sample(range(len(pools.DETAILS[case.category])), 2)
        sentences.append((say([pools.DETAILS[case.category][first]]), 0))
        sentences.append((say([pools.DETAILS[case.category][second]]), 2))
    elif plan == "medium" and rng.random() < 0.6:
        sentences.append((say(pools.DETAILS[case.category]), 0))
    if rng.random() < side_rate:
        sentences.append((say(pools.SIDE_REMARKS[rng.choice(others)]), 1))
    sentences.append((say(pools.ASKS[case.category]), 0))
    if deadline:
        sentences.append((say(pools.DEADLINES), 0))
    if closing:
        sentences.append((say(pools.TONE_CLOSE[tone]), 0))
    for rank in (1, 2, 3):
        if sum(len(s) + 1 for s, _ in sentences) <= MAX_BODY_CHARS:
            break
        sentences = [(s, r) for s, r in sentences if r != rank]
    kept = [s for s, _ in sentences]

    if plan == "long":
        half = (len(kept) + 1) // 2
        paragraphs = [" ".join(kept[:half]), " ".join(kept[half:])]
    else:
        paragraphs = [" ".join(kept)]
    parts = [g for g in [rng.choice(pools.GREETINGS)] if g] + paragraphs
    sign = {"first": case.first, "full": f"{case.first} {case.last}", "none": rng.choice(pools.NO_NAME_LINES)}
    closing_line = rng.choice(pools.CLOSINGS)
    parts.append(f"{closing_line}\n{sign[case.signature]}" if sign[case.signature] else closing_line)
    words = sum(len(p.split()) for p in paragraphs)
    return Email(text="\n\n".join(parts), words=words, typos=typos)


def build_reply(case: Case, *, tone: str, followup: bool) -> str:
    key = (case.category, case.subtype)
    body: list[str] = []
    if followup:
        body.append(FOLLOWUP_ACK)
    elif tone in TONE_ACK:
        body.append(TONE_ACK[tone])
    body.append(ACTIONS[key].format(**case.facts))
    if case.blocked:
        body.append(BLOCKED_ACTION)
    body.append(NEXT_STEPS[key])
    return f"{case.greeting}\n\n{' '.join(body)}\n\n{SIGN_OFF}"


def length_tag(words: int) -> str:
    if words <= SHORT_MAX_WORDS:
        return "short"
    return "medium" if words <= MEDIUM_MAX_WORDS else "long"


# ---------------------------------------------------------------- splits and files


def answer_of(row: dict[str, Any]) -> str:
    """The assistant turn a row teaches (train, dev) or would teach (eval)."""
    ref = row["reference"]
    return dump_answer(ref["category"], ref["priority"], ref["reply"])


def make_rows(split: str, taken: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every JSON line of one split, in file order.

    ``taken``: answers the split must not repeat (eval gets those of train and dev). Replies follow
    one policy table, so a different email with the same case and facts (an unsigned Belgian VAT
    question, say) gets a training reply verbatim: a model could score on it by recall, and the
    leakage check rightly flags it. Such a case is redrawn from a stream of its own, so that every
    other line stays as it was.
    """
    per_category, pools = SPLITS[split]
    rng = random.Random(f"support:{SEED}:{split}")
    plan: list[tuple[str, int]] = []
    for category in CATEGORIES:
        left = per_category
        while left > 0:
            size = 1
            if left >= 2 and rng.random() < THREAD_CASE_RATE:
                size = min(left, rng.choice((2, 2, 3)))
            plan.append((category, size))
            left -= size
    rng.shuffle(plan)

    rows: list[dict[str, Any]] = []
    threads = 0
    for category, size in plan:
        case = make_case(category, pools, rng)
        group = None
        if size > 1:
            threads += 1
            group = f"support-{split}-thread-{threads:03d}"
        turns = [_row(case, turn, group, split, pools, rng) for turn in range(size)]
        redraw = 0
        while any(answer_of(r) in taken for r in turns):
            redraw += 1
            own = random.Random(f"support:{SEED}:{split}:redraw:{len(rows)}:{redraw}")
            case = make_case(category, pools, own)
            turns = [_row(case, turn, group, split, pools, own) for turn in range(size)]
        rows += turns
    for i, row in enumerate(rows, start=1):
        row["id"] = f"support-{split}-{i:04d}"
    return [{"id": r.pop("id"), **r} for r in rows]


def _row(
    case: Case, turn: int, group: str | None, split: str, pools: ModuleType, rng: random.Random
) -> dict[str, Any]:
    followup = turn > 0
    tone = case.tone if not followup or rng.random() < 0.5 else "angry"
    plan = rng.choices(PLANS, PLAN_WEIGHTS)[0] if not followup else rng.choices(PLANS[:2], (60, 40))[0]
    deadline = not followup and rng.random() < DEADLINE_RATE
    email = write_email(case, turn=turn, tone=tone, plan=plan, deadline=deadline, pools=pools, rng=rng)
    priority = priority_for(case.category, tone, blocked=case.blocked, deadline=deadline, followup=followup)
    reply = build_reply(case, tone=tone, followup=followup)
    answer = dump_answer(case.category, priority, reply)
    problems = check_answer(answer, case.greeting)
    if problems:
        raise RuntimeError(f"generated reply breaks the style guide ({'; '.join(problems)}): {reply!r}")
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": email.text}]
    if split != "eval":
        messages.append({"role": "assistant", "content": answer})
    row: dict[str, Any] = {
        "id": "",
        "messages": messages,
        "reference": {"category": case.category, "priority": priority, "reply": reply},
        "tags": {
            "category": case.category,
            "tone": tone,
            "length": length_tag(email.words),
            "priority": priority,
        },
    }
    if group is not None:
        row["group"] = group
    row["meta"] = {
        "subtype": case.subtype,
        "followup": followup,
        "deadline": deadline,
        "blocked": case.blocked,
        "words": email.words,
        "typos": email.typos,
    }
    return row


def render(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def generate_all() -> dict[str, str]:
    """File name -> exact file text for every split."""
    rows = {split: make_rows(split) for split in SPLITS if split != "eval"}
    taken = frozenset(answer_of(r) for split_rows in rows.values() for r in split_rows)
    rows["eval"] = make_rows("eval", taken)
    return {f"{split}.jsonl": render(rows[split]) for split in SPLITS}


def stats(files: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, text in files.items():
        rows = [json.loads(line) for line in text.splitlines()]
        words = sorted(r["meta"]["words"] for r in rows)
        out[name] = {
            "items": len(rows),
            "in_threads": sum("group" in r for r in rows),
            "words_p50_max": [words[len(words) // 2], words[-1]],
            **{
                key: dict(sorted(Counter(r["tags"][key] for r in rows).items()))
                for key in ("category", "priority", "tone", "length")
            },
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="verify the files on disk instead of writing them"
    )
    parser.add_argument("--stats", action="store_true", help="print label and length counts per split")
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder of the JSONL files (default: this folder)"
    )
    args = parser.parse_args(argv)
    files = generate_all()
    if args.check:
        stale = [
            n
            for n, text in files.items()
            if not (args.out / n).exists() or (args.out / n).read_bytes() != text.encode("utf-8")
        ]
        if stale:
            print(
                f"out of date: {', '.join(stale)} in {args.out}; regenerate with: python {Path(__file__).as_posix()}",
                file=sys.stderr,
            )
            return 1
        print(f"ok: {', '.join(files)} match the generator")
        return 0
    if args.stats:
        print(json.dumps(stats(files), indent=1, ensure_ascii=False))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_bytes(text.encode("utf-8"))
    print(f"wrote {', '.join(f'{n} ({t.count(chr(10))} items)' for n, t in files.items())} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
