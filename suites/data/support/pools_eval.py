"""Sentence templates and value pools for the eval split of the support dataset only.

Written separately from ``pools_train.py`` (other wording, other senders, products, plans and
companies) so that no eval email shares a 13-gram with a training email. The categories,
subtypes, tones and reply policy are the same: eval measures the task, not recall.
"""

from __future__ import annotations

GREETINGS = [
    "Greetings,",
    "Hello support team,",
    "Dear Sir or Madam,",
    "Hey folks,",
    "Good afternoon,",
    "Hi accounts team,",
    "",
]

CLOSINGS = ["Best,", "Warm regards,", "Thanks a lot,", "Sincerely,", "All the best,", "With thanks,"]

NO_NAME_LINES = ["Sent from my tablet", ""]

TONE_OPEN = {
    "polite": [
        "Hope your week is going well.",
        "Many thanks for taking a look at this.",
        "Apologies for the extra work on your end.",
    ],
    "neutral": [
        "A question about billing.",
        "Reaching out regarding my account.",
    ],
    "angry": [
        "Frankly, this is a disgrace.",
        "I am losing my patience with your company!",
        "Absolutely ridiculous service so far.",
    ],
    "confused": [
        "This has left me puzzled.",
        "I honestly cannot figure out what happened.",
    ],
}

TONE_CLOSE = {
    "polite": [
        "Grateful for any help you can give.",
        "Wishing you a good day.",
    ],
    "neutral": [
        "Awaiting your reply.",
        "Regards in advance.",
    ],
    "angry": [
        "Sort it out immediately or I am calling my bank.",
        "I want this resolved without more excuses!",
    ],
    "confused": [
        "Please walk me through it.",
        "Apologies if I have misunderstood something.",
    ],
}

PROBLEMS = {
    "double_charge": {
        "duplicate": [
            "Two payments of {amount} for {product} were taken from my account on {date}.",
            "The same {amount} fee for {product} appears twice in my bank app.",
            "Your company debited {amount} two times on {date} for one {product} plan.",
        ],
    },
    "refund_request": {
        "after_cancel": [
            "I ended my {product} plan weeks ago, yet {amount} was debited on {date}.",
            "Despite cancelling {product}, another {amount} left my account.",
            "A fee of {amount} for {product} arrived after my cancellation had been confirmed.",
        ],
        "renewal": [
            "{product} auto-renewed for twelve months at {amount}, which we never intended.",
            "An unexpected yearly fee of {amount} for {product} hit my card on {date}.",
            "We were billed {amount} for a new year of {product} that nobody here uses.",
        ],
    },
    "failed_payment": {
        "declined": [
            "The {amount} charge for {product} keeps bouncing.",
            "Each time I try to settle the {amount} bill for {product}, the bank refuses it.",
            "A notice arrived that you could not collect {amount} for {product}.",
        ],
        "expired": [
            "The card saved for {product} is past its expiry date, so {amount} could not be collected.",
            "Since my card reached its expiry date, the {amount} for {product} was not paid.",
        ],
    },
    "plan_change": {
        "upgrade": [
            "Please bump us up from {from_plan} to {to_plan}.",
            "We have outgrown {from_plan} and need {to_plan} going forward.",
            "Moving up to {to_plan} from {from_plan} would suit us better now.",
        ],
        "downgrade": [
            "Please step us down from {from_plan} to {to_plan}.",
            "{from_plan} is too much for us; the smaller {to_plan} tier would do.",
        ],
    },
    "invoice_request": {
        "copy": [
            "Where can I get the {month} invoice?",
            "Kindly forward the {product} invoice covering {month}.",
            "My bookkeeper needs a copy of the {month} bill.",
        ],
        "company": [
            "The {month} invoice should show {company} rather than my own name.",
            "Could the {month} bill be reissued to {company}?",
        ],
    },
    "cancellation": {
        "now": [
            "Kindly terminate my {product} plan right away.",
            "I no longer need {product}; end the subscription please.",
            "Time to part ways, so please shut down my {product} billing.",
        ],
        "end_of_term": [
            "Let the {product} plan lapse when this term is over.",
            "No renewal for {product} after the current cycle, please.",
        ],
    },
    "tax_vat_question": {
        "why_vat": [
            "Our company sits in {country}, so why does the {product} bill include VAT?",
            "Is VAT really due on my invoice? My address is in {country}.",
        ],
        "add_vat": [
            "Please record our VAT identifier {vat_id} for reverse charge.",
            "With VAT registration {vat_id}, we should be invoiced without VAT.",
        ],
    },
    "promo_code": {
        "rejected": [
            "Checkout rejects the voucher {code}.",
            "Entering {code} gives me an error every time.",
            "The coupon {code} is refused on the billing page.",
        ],
        "forgot": [
            "I skipped entering my voucher {code} when buying {product}.",
            "I paid full price for {product} but had the voucher {code} all along.",
        ],
    },
}

DETAILS = {
    "double_charge": [
        "The second debit came right after the first.",
        "Both debits used the card that ends with {card}.",
    ],
    "refund_request": [
        "Our staff have not opened the app in ages.",
        "The debit hit the card ending with {card}.",
    ],
    "failed_payment": [
        "My balance is fine.",
        "I double checked the card details that end with {card}.",
    ],
    "plan_change": [
        "There are {seats} seats on the account right now.",
        "Billing is monthly for us.",
    ],
    "invoice_request": [
        "Our books close soon.",
        "My bookkeeper files these every quarter.",
    ],
    "cancellation": [
        "A cheaper tool does the job for us.",
        "Budget cuts, unfortunately.",
    ],
    "tax_vat_question": [
        "We are a two-person company.",
        "My tax advisor raised this.",
    ],
    "promo_code": [
        "The voucher came from your podcast ad.",
        "I got it at a meetup.",
    ],
}

ASKS = {
    "double_charge": [
        "Kindly send back the duplicate amount.",
        "I expect the second debit to be returned.",
    ],
    "refund_request": [
        "Kindly reimburse me.",
        "I am asking for that money to be paid back.",
    ],
    "failed_payment": [
        "What are my options to pay?",
        "Tell me what to do so the payment works.",
    ],
    "plan_change": [
        "How do we go about it?",
        "Could you take care of the switch?",
    ],
    "invoice_request": [
        "Send it across when you can.",
        "Appreciate it if you can email it.",
    ],
    "cancellation": [
        "Drop me a line when it's done.",
        "Confirm in writing please.",
    ],
    "tax_vat_question": [
        "Clarify this for me please.",
        "What is needed from my side?",
    ],
    "promo_code": [
        "Could the reduction still be given?",
        "Please credit the discount.",
    ],
}

SIDE_REMARKS = {
    "double_charge": ["Some time back a payment of mine was duplicated, and you resolved it."],
    "refund_request": ["You once paid me back for an outage, which I appreciated."],
    "failed_payment": ["My bank issued me fresh card numbers in the summer."],
    "plan_change": ["We might move to a larger tier later in the year."],
    "invoice_request": ["Our bookkeeper pulls the bills from your portal."],
    "cancellation": ["A friend of mine left your service last spring."],
    "tax_vat_question": ["We file taxes in two countries."],
    "promo_code": ["When we joined, we had a voucher."],
}

BACKSTORIES = [
    "Our {team} has relied on {product} for {years} years.",
    "I look after the software budget at our {team}.",
    "We are {seats} people spread over two offices in {city}.",
]

DEADLINES = [
    "Our quarter closes on Thursday, so please be quick.",
    "Time matters here: I need it within 24 hours.",
    "My boss wants this settled before the weekend.",
]

BLOCKED = [
    "Meanwhile the whole workspace is frozen.",
    "Our logins to {product} stopped working because of it.",
]

FOLLOWUPS = [
    "Bumping my earlier email, since nobody has replied yet.",
    "No response so far to what I sent on {prev_date}.",
    "Writing again because the problem is still open.",
]

NAMES = [
    (["Olumide", "Abimbola", "Ikenna", "Uchenna", "Nneka"], ["Adeleke", "Oyelaran", "Obi", "Chukwu"]),
    (["Kwame", "Akosua", "Kofi", "Ama"], ["Mensah", "Owusu", "Asante"]),
    (["Selam", "Dawit", "Hiwot"], ["Tesfaye", "Bekele"]),
    (["Zanele", "Themba"], ["Khumalo", "Zulu"]),
    (["Aditi", "Karthik", "Meera", "Siddharth", "Neha"], ["Menon", "Chatterjee", "Kulkarni", "Bose"]),
    (["Ayesha", "Imran", "Farhan", "Nusrat"], ["Qureshi", "Rahman", "Chowdhury"]),
    (["Yan", "Qiang", "Xiu", "Bo"], ["Huang", "Zhou", "Wu"]),
    (["Kenji", "Emi", "Daichi", "Hana"], ["Kobayashi", "Yamamoto", "Ito"]),
    (["Seung-woo", "Ye-jin"], ["Lee", "Kang", "Yoon"]),
    (["Somchai", "Kanya", "Budi", "Sari"], ["Saetang", "Wijaya", "Santoso"]),
    (["Alejandro", "Ximena", "Joaquín", "Renata", "Emiliano"], ["Ramírez", "Torres", "Flores", "Vargas"]),
    (["Inês", "Rafael", "Mariana"], ["Pereira", "Ferreira", "Almeida"]),
    (["Margaux", "Antoine", "Élodie"], ["Girard", "Fontaine", "Rousseau"]),
    (["Sanne", "Jeroen", "Matthias", "Greta"], ["de Vries", "Janssen", "Fischer", "Hoffmann"]),
    (["Sigrid", "Henrik", "Eero", "Aino"], ["Virtanen", "Korhonen", "Berg"]),
    (["Milena", "Bogdan", "Ivana", "Luka"], ["Horvat", "Kovačević", "Babić", "Jovanović"]),
    (["Samir", "Rania", "Tariq", "Huda"], ["Nasser", "Saleh", "Aziz"]),
    (["Tamar", "Oren"], ["Friedman", "Ben-David"]),
    (["Cillian", "Saoirse", "Hamish", "Harriet"], ["Gallagher", "Doyle", "Fraser"]),
    (["Keanu", "Leilani", "Wiremu"], ["Kahale", "Tawhiri"]),
    (["Lorenzo", "Chiara"], ["Esposito", "Romano"]),
    (["Dimitris", "Katerina"], ["Christodoulou", "Ioannou"]),
    (["Brandon", "Kayla", "Marcus"], ["Miller", "Davis", "Moore"]),
]

PRODUCTS = [
    "Orbitask",
    "Lumen Boards",
    "Ferncloud",
    "Driftwood Chat",
    "Kestrel Invoicing",
    "Mosaic Sheets",
    "Juniper Desk",
    "Atlas Pager",
]

PLANS = ["Lite", "Standard", "Premium", "Ultimate"]

TEAMS = ["bookshop", "physiotherapy practice", "film crew", "language school", "brewery", "consultancy"]

CITIES = ["Accra", "Chennai", "Busan", "Valencia", "Tampere", "Curitiba", "Glasgow", "Auckland"]

COMPANIES = [
    "Kestrel Foods Ltd",
    "Mensah Holdings",
    "Valencia Tiles SL",
    "Aurora Labs Oy",
    "Huang Trading Co",
    "Fraser & Doyle LLP",
]

CODE_WORDS = ["AUTUMN", "BONUS", "THANKYOU", "PODCAST", "MEETUP", "EARLYBIRD"]
