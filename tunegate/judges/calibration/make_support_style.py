"""Write the gold-labelled calibration set for the ``support_style`` rubric, deterministically.

    python tunegate/judges/calibration/make_support_style.py            # writes support_style.jsonl here
    python tunegate/judges/calibration/make_support_style.py --check    # exits 1 if the file is stale

Each of 16 billing emails gets five replies built from known parts: a polite acknowledgement,
what was done, and a concrete next step, between the greeting and the sign-off. Defects are
planted by construction (wrong greeting, too long, exclamation mark, other sign-off, no next
step, rude wording, off topic), and the gold score is computed from the planted defects by the
rubric's own rules (tunegate/judges/rubrics/support_style.md):

    start at 5; rude -3; no next step -2; each minor slip -1 (greeting, length, sign-off,
    exclamation mark); off topic = 1; never below 1.

Every email gets one reply per gold score 1..5, so the set is balanced (16 per score) and every
email offers pairs of replies with different gold scores for the pairwise check.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).with_name("support_style.jsonl")
SIGN_OFF = "— The Billing Team"
MINOR = ("greeting", "long", "signoff", "exclaim")
BAD_GREETINGS = ("Dear valued customer,", "Hey there,", "Hi,", "Greetings from billing,")
BAD_SIGN_OFFS = ("Kind regards, Billing Support", "Cheers", "— Billing Team", "")
FILLER = (
    "Our billing system processes thousands of payments every day.",
    "Most billing questions are answered in our help centre.",
    "We always aim to respond within one business day.",
)
OFF_TOPIC = (
    "Thank you for your question about signing in to our mobile app. Passwords can be reset from the "
    "sign-in screen at any time. Please use the link in the reset email within one hour."
)

# Defect sets per gold score; email k takes entry k % len(...) of each list.
PLAN: dict[int, list[tuple[str, ...]]] = {
    5: [()],
    4: [("exclaim",), ("greeting",), ("signoff",), ("long",)],
    3: [
        ("no_next_step",),
        ("greeting", "signoff"),
        ("exclaim", "long"),
        ("greeting", "exclaim"),
        ("signoff", "long"),
    ],
    2: [
        ("rude",),
        ("no_next_step", "exclaim"),
        ("greeting", "signoff", "long"),
        ("no_next_step", "greeting"),
        ("rude",),
        ("no_next_step", "signoff"),
    ],
    1: [
        ("rude", "no_next_step"),
        ("off_topic",),
        ("rude", "exclaim"),
        ("no_next_step", "greeting", "signoff", "exclaim"),
        ("rude", "greeting"),
        ("off_topic",),
        ("rude", "long"),
    ],
}


@dataclass(frozen=True)
class Email:
    key: str
    name: str | None
    text: str
    ack: str  # polite acknowledgement (ends with '.')
    action: str  # what was done or found
    next_step: str  # starts with Please / You will / You can / We will
    vague: str  # a closing sentence that states no next step
    rude: str  # a dismissive replacement for the acknowledgement


EMAILS = (
    Email(
        "double-charge-1",
        "Maya",
        "Hi, I was charged twice for my March subscription, USD 29.00 each time. Can you fix this? Thanks, Maya",
        "Thank you for telling us about the double charge on your March invoice.",
        "We have refunded the duplicate payment of USD 29.00 today.",
        "You will see it on your card statement within 5 business days.",
        "We appreciate your patience with billing matters.",
        "Double charges are explained in our terms, which you should have read before writing to us.",
    ),
    Email(
        "double-charge-2",
        None,
        "My account shows two payments for the same order this week. This is unacceptable. Fix it now.",
        "Thank you for pointing out the two payments for the same order.",
        "We found the second payment and have cancelled it.",
        "You will see the amount back on your account within 3 business days.",
        "Billing questions like this one matter to us.",
        "Shouting at us will not make your duplicate payment go away any faster.",
    ),
    Email(
        "refund-1",
        "Jonas",
        "Hello, I cancelled within the 14-day trial but was still billed USD 49.00. I'd like a refund please. Jonas",
        "Thank you for writing to us about the charge after your trial.",
        "We confirmed that you cancelled within the 14-day window and approved a refund of USD 49.00.",
        "You will receive the refund on your original payment method within 7 business days.",
        "Refund requests are an important part of our work.",
        "People who forget to cancel on time usually blame us, but we approved a refund of USD 49.00 anyway.",
    ),
    Email(
        "refund-2",
        "Priya",
        "Hi team, the annual plan I bought last week does not fit our needs. Could I get my money back? Priya",
        "Thank you for letting us know that the annual plan does not fit your needs.",
        "Your purchase is within our 30-day refund period.",
        "Please reply with the email address of the account so we can start the refund.",
        "We hope you find a plan that suits you.",
        "You really should have read the plan description before buying it.",
    ),
    Email(
        "failed-payment-1",
        "Tom",
        "My card payment failed three times today and now my account is locked. What do I do? Tom",
        "Thank you for reaching out about the failed payments and the locked account.",
        "The payments failed because the card on file expired last month.",
        "Please update your card under Settings and Billing, and the account will unlock within minutes.",
        "Payment problems can happen to anyone.",
        "An expired card is your responsibility, not ours, and that is why your payments failed.",
    ),
    Email(
        "failed-payment-2",
        None,
        "Your system declined my payment but my bank says the money left my account. Where is it?",
        "Thank you for checking with your bank about the declined payment.",
        "The amount you see is a temporary hold that your bank releases automatically.",
        "You will see the hold disappear within 2 business days, and you can retry the payment at any time.",
        "We understand how confusing payment holds can be.",
        "Banks and their holds are not our problem, so please stop sending us their statements.",
    ),
    Email(
        "plan-change-1",
        "Lea",
        "Hi, I want to move from the Pro plan to the Basic plan from next month. How does billing work? Lea",
        "Thank you for your question about moving to the Basic plan.",
        "We have scheduled the change to Basic for your next billing date.",
        "You will be billed the Basic price of USD 9.00 from next month.",
        "Plan changes are a common request.",
        "The plan page already answers this, so we are surprised you had to ask.",
    ),
    Email(
        "plan-change-2",
        "Omar",
        "I upgraded to Team yesterday and got charged the full month. Shouldn't it be prorated? Omar",
        "Thank you for asking about the charge for your upgrade to Team.",
        "Upgrades are prorated, and we found that the proration was not applied to your charge.",
        "We will credit the difference to your account today.",
        "We take billing accuracy seriously.",
        "Everyone else seems to understand our proration rules without writing in.",
    ),
    Email(
        "invoice-1",
        "Sofia",
        "Could you send me a proper invoice with our company VAT number for the last payment? Sofia",
        "Thank you for asking for an invoice with your company details.",
        "Invoices can include a VAT number once it is saved on the account.",
        "Please add the VAT number under Settings and Billing, and we will email the new invoice the same day.",
        "Invoices are important for many of our customers.",
        "Adding a VAT number is something you could have done yourself.",
    ),
    Email(
        "invoice-2",
        None,
        "I need copies of all invoices from last year for our accountant. Is there a way to get them?",
        "Thank you for your request for last year's invoices.",
        "All invoices from last year are available as PDF files in your account.",
        "You can download them under Billing and then Invoice history.",
        "Accountants often need these documents.",
        "Your accountant could simply have looked in the account instead of asking us.",
    ),
    Email(
        "cancel-1",
        "Henrik",
        "Please cancel my subscription at the end of this billing period. I am not satisfied. Henrik",
        "Thank you for letting us know, and we are sorry the service did not meet your expectations.",
        "We have set your subscription to end on the last day of this billing period.",
        "You will keep full access until then and will not be charged again.",
        "We are always sorry to see a customer go.",
        "If you had used the product properly you would probably be satisfied.",
    ),
    Email(
        "cancel-2",
        "Aiko",
        "I tried to cancel in the app but the button does nothing. I don't want to be charged again. Aiko",
        "Thank you for telling us that the cancel button did not work.",
        "We have cancelled the subscription for you from our side.",
        "You will receive a confirmation email within the hour.",
        "App problems are frustrating.",
        "The cancel button works for everyone else, so you must have pressed it wrong.",
    ),
    Email(
        "vat-1",
        "Lucas",
        "Why was VAT added to my invoice? We are a business in another EU country. Lucas",
        "Thank you for your question about the VAT on your invoice.",
        "VAT was added because no valid VAT number was saved on your account.",
        "Please send us your VAT number, and we will reissue the invoice without VAT and refund the difference.",
        "Tax rules can be complicated.",
        "Tax rules are not our invention, so complaining to us will not change them.",
    ),
    Email(
        "vat-2",
        None,
        "The tax on my receipt looks wrong. It says 21 percent but I live in Germany. Can you check?",
        "Thank you for checking the tax on your receipt.",
        "The rate was based on an old billing address in the Netherlands.",
        "Please update your billing address, and we will correct the rate on your next invoice.",
        "Tax questions come up often.",
        "If you kept your billing address up to date this would not happen.",
    ),
    Email(
        "promo-1",
        "Grace",
        "Hi, the promo code SPRING20 did not apply at checkout even though it should be valid. Grace",
        "Thank you for letting us know about the code SPRING20.",
        "The code is valid, and we have applied the 20 percent discount to your order manually.",
        "You will see the discount on your next invoice.",
        "Promo codes are popular this season.",
        "Promo codes have conditions, which people rarely bother to read.",
    ),
    Email(
        "promo-2",
        "Daniel",
        "I forgot to enter my discount code when I paid yesterday. Can you still apply it? Daniel",
        "Thank you for asking about the discount code you missed at checkout.",
        "Codes can be applied up to 7 days after a payment.",
        "Please reply with the code, and we will refund the discount amount to your card.",
        "Discounts are a nice way to save money.",
        "Forgetting a code happens when people rush through checkout.",
    ),
)


def gold_score(defects: tuple[str, ...]) -> int:
    """The rubric's rules, applied to the planted defects."""
    if "off_topic" in defects:
        return 1
    score = 5 - 3 * ("rude" in defects) - 2 * ("no_next_step" in defects) - sum(d in defects for d in MINOR)
    return max(1, score)


def render(email: Email, defects: tuple[str, ...], k: int) -> str:
    good_greeting = f"Hi {email.name}," if email.name else "Hello,"
    greeting = BAD_GREETINGS[k % len(BAD_GREETINGS)] if "greeting" in defects else good_greeting
    if "off_topic" in defects:
        body = OFF_TOPIC
    else:
        first = email.rude if "rude" in defects else email.ack
        if "exclaim" in defects:
            first = first[:-1] + "!"
        last = email.vague if "no_next_step" in defects else email.next_step
        middle = [email.action]
        if "long" in defects:
            middle += list(FILLER)
        body = " ".join([first, *middle, last])
    sign_off = BAD_SIGN_OFFS[k % len(BAD_SIGN_OFFS)] if "signoff" in defects else SIGN_OFF
    parts = [greeting, "", body] if greeting else [body]
    if sign_off:
        parts += ["", sign_off]
    return "\n".join(parts)


def build() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for k, email in enumerate(EMAILS):
        for score in (5, 4, 3, 2, 1):
            plan = PLAN[score]
            defects = plan[k % len(plan)]
            if gold_score(defects) != score:
                raise AssertionError(f"plan for score {score} gives {gold_score(defects)}: {defects}")
            rows.append(
                {
                    "id": f"{email.key}-s{score}",
                    "group": email.key,
                    "messages": [{"role": "user", "content": email.text}],
                    "output": render(email, defects, k + score),
                    "gold": score,
                    "defects": list(defects),
                }
            )
    return rows


def dumps(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--check", action="store_true", help="fail if the file differs from what would be written"
    )
    args = parser.parse_args(argv)
    text = dumps(build())
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(
                f"{args.out} is stale; regenerate it with: python {Path(__file__).as_posix()}",
                file=sys.stderr,
            )
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} items to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
