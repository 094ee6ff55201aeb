"""Sentence templates and value pools for the train and dev splits of the support dataset.

Nothing here may appear in ``pools_eval.py``: the eval split is written from its own templates,
names and products so that a model cannot pass it by recalling training emails. Templates use
``str.format`` slots filled by ``generate.py``; every problem template of a subtype holds the
slots its reply needs (checked by tests/suites/test_datasets.py).
"""

from __future__ import annotations

GREETINGS = [
    "Hi,",
    "Hello,",
    "Hi there,",
    "Hello Billing team,",
    "Dear Billing Team,",
    "Hey,",
    "Good morning,",
    "Hi support,",
    "To whom it may concern,",
    "",
]

CLOSINGS = [
    "Thanks,",
    "Thanks!",
    "Best regards,",
    "Kind regards,",
    "Cheers,",
    "Thank you,",
    "Regards,",
    "Many thanks,",
]

# Lines that stand where a name would be, for senders who do not sign ("" = nothing at all).
NO_NAME_LINES = ["Sent from my phone", ""]

TONE_OPEN = {
    "polite": [
        "I hope you are doing well.",
        "Thank you in advance for your help with this.",
        "I hope this is the right address for billing questions.",
        "Sorry to bother you with this.",
    ],
    "neutral": [
        "I have a billing question.",
        "Writing about my account.",
        "Quick question about my bill.",
    ],
    "angry": [
        "I am really annoyed right now.",
        "This is completely unacceptable!",
        "Honestly, I am furious about this.",
        "I am very unhappy with how my account has been handled.",
        "What on earth is going on with your billing?!",
    ],
    "confused": [
        "I am a bit confused about my bill.",
        "I don't really understand what happened here.",
        "Maybe I am missing something, but this makes no sense to me.",
        "I'm not sure if I am reading this correctly.",
    ],
}

TONE_CLOSE = {
    "polite": [
        "Thanks so much for your time.",
        "I really appreciate your help.",
        "Have a lovely day.",
    ],
    "neutral": [
        "Let me know.",
        "Thanks for looking into it.",
    ],
    "angry": [
        "Fix this now or I will dispute the charge with my bank.",
        "This is the worst service I have had in years.",
        "This is not how you treat paying customers!!",
        "I am seriously considering other providers.",
    ],
    "confused": [
        "Could you explain what is going on?",
        "Can someone explain this in simple terms?",
        "Sorry if this is a silly question.",
    ],
}

PROBLEMS = {
    "double_charge": {
        "duplicate": [
            "I was charged {amount} twice for {product} on {date}.",
            "My card statement shows two identical payments of {amount} to you for {product}.",
            "You billed me twice this month: two charges of {amount} for the same {product} subscription.",
            "There are two {amount} charges from {product} on my card, both dated {date}.",
            "It looks like my payment for {product} went through two times, {amount} each.",
            "I see a duplicate charge of {amount} for {product} on {date}.",
        ],
    },
    "refund_request": {
        "after_cancel": [
            "I cancelled {product} last month, but you still charged me {amount} on {date}.",
            "Even though I cancelled my {product} subscription, I was billed {amount} again.",
            "My subscription to {product} was cancelled weeks ago and yet a payment of {amount} was taken.",
            "After I closed my {product} account, a charge of {amount} still showed up on {date}.",
        ],
        "renewal": [
            "My {product} plan renewed for another year and I was charged {amount}, but we no longer use it.",
            "I forgot to turn off the annual renewal for {product} and got billed {amount} on {date}.",
            "The yearly renewal of {product} for {amount} went through, but we stopped using the tool months ago.",
            "I just noticed an annual charge of {amount} for {product} that I did not want.",
        ],
    },
    "failed_payment": {
        "declined": [
            "My payment of {amount} for {product} was declined.",
            "I tried to pay the {amount} invoice for {product} but the card keeps getting rejected.",
            "I got an email saying the {amount} payment for {product} failed.",
            "Your system says my card was declined for the {product} renewal of {amount}.",
        ],
        "expired": [
            "The card you have on file for {product} expired, so the {amount} payment did not go through.",
            "I got a notice that the {amount} charge for {product} failed because my card expired.",
            "My old card ran out last month and now the {product} payment of {amount} has failed.",
        ],
    },
    "plan_change": {
        "upgrade": [
            "We would like to upgrade from {from_plan} to {to_plan} on {product}.",
            "Our team is growing and we need to move {product} from the {from_plan} plan up to {to_plan}.",
            "I want to switch to the bigger {to_plan} plan instead of {from_plan}.",
            "Is it possible to go up from {from_plan} to {to_plan} in the middle of the month?",
        ],
        "downgrade": [
            "We want to downgrade {product} from {from_plan} to {to_plan}.",
            "The {from_plan} plan is more than we need, so please move us down to {to_plan}.",
            "Our team got smaller and I would like to switch from {from_plan} to the cheaper {to_plan} plan.",
        ],
    },
    "invoice_request": {
        "copy": [
            "I need the invoice for {month} for my expense report.",
            "Could you send me a copy of the {product} invoice for {month}?",
            "I cannot find the invoice for {month} in my account.",
            "Our accountant is asking for the {month} invoice for {product}.",
        ],
        "company": [
            "The invoice for {month} is in my personal name, but it should say {company}.",
            "Please put our company name, {company}, on the {month} invoice.",
            "I need the {month} invoice reissued with {company} as the customer.",
        ],
    },
    "cancellation": {
        "now": [
            "Please cancel my {product} subscription.",
            "I want to close my {product} account and stop all payments.",
            "We have decided to stop using {product}, so please cancel our plan.",
            "I would like to end my {product} subscription today.",
        ],
        "end_of_term": [
            "Please do not renew my {product} plan when the current term ends.",
            "I want to keep {product} until the end of this billing period and then stop.",
            "Please turn off auto-renewal for {product}; we will not need it next term.",
        ],
    },
    "tax_vat_question": {
        "why_vat": [
            "Why is VAT added to my {product} invoice? We are based in {country}.",
            "My invoice shows VAT on top of the price, and I am in {country}.",
            "I did not expect VAT on the {product} bill since our office is in {country}.",
        ],
        "add_vat": [
            "Our VAT number is {vat_id}; please add it to our account.",
            "We are a registered business with VAT number {vat_id} and should not pay VAT.",
            "Can you apply the reverse charge? Our VAT ID is {vat_id}.",
        ],
    },
    "promo_code": {
        "rejected": [
            "The promo code {code} does not work at checkout.",
            "I tried to use the code {code} but it says it is invalid.",
            "Your site will not accept my discount code {code}.",
            "When I enter {code} on the payment page, nothing happens.",
        ],
        "forgot": [
            "I forgot to enter the code {code} when I signed up for {product}.",
            "I had a discount code, {code}, but I paid the full price by mistake.",
            "I upgraded to {product} and only later remembered the promo code {code}.",
        ],
    },
}

DETAILS = {
    "double_charge": [
        "I only have one account and one subscription.",
        "Both charges went to my card ending in {card}.",
        "The second charge appeared a few minutes after the first one.",
    ],
    "refund_request": [
        "Nobody on our team has logged in for months.",
        "The money went out from my card ending in {card}.",
        "I checked my account and there is no usage this period.",
    ],
    "failed_payment": [
        "There is enough money on the account.",
        "My bank says they see no problem on their side.",
        "The card ends in {card}.",
    ],
    "plan_change": [
        "We currently have {seats} users.",
        "We pay monthly at the moment.",
        "I am the admin on the account.",
    ],
    "invoice_request": [
        "Our finance team closes the books at the end of the month.",
        "I looked under my account settings but found nothing.",
        "We pay for {product} with a company card.",
    ],
    "cancellation": [
        "We moved to a different tool.",
        "The project we used it for has ended.",
        "It is just too expensive for us right now.",
    ],
    "tax_vat_question": [
        "We are a small business.",
        "Our accountant flagged this.",
        "The billing address on the account is correct.",
    ],
    "promo_code": [
        "I got the code in your newsletter.",
        "A friend sent me the code last week.",
        "The code was printed on a flyer at a conference.",
    ],
}

ASKS = {
    "double_charge": [
        "Please refund the extra charge.",
        "Can you reverse the duplicate payment?",
        "I want the second payment returned to my card.",
        "Could you refund one of them?",
    ],
    "refund_request": [
        "Please refund this payment.",
        "I would like my money back.",
        "Can you give me a refund for this charge?",
        "Please return the {amount} to my card.",
    ],
    "failed_payment": [
        "How do I fix this?",
        "Can you tell me how to get the payment through?",
        "What should I do to pay?",
        "Please help me pay this.",
    ],
    "plan_change": [
        "Can you make this change for us?",
        "What do I need to do?",
        "Please let me know how this works with billing.",
        "Please change the plan for me.",
    ],
    "invoice_request": [
        "Can you send it to me?",
        "Please email it to this address.",
        "Could you help with this?",
        "Thanks for sending it over.",
    ],
    "cancellation": [
        "Can you confirm once it is done?",
        "Please confirm by email.",
        "Let me know when this is taken care of.",
        "What are the next steps?",
    ],
    "tax_vat_question": [
        "Can you explain how tax works on your invoices?",
        "Please look into this.",
        "What do you need from us?",
        "Can you sort this out?",
    ],
    "promo_code": [
        "Can you apply the discount?",
        "Please add the discount to my account.",
        "Is there a way to still get the discount?",
        "Could you help me with this?",
    ],
}

# Background mentions of another topic: they make the label less obvious, never change it.
SIDE_REMARKS = {
    "double_charge": [
        "A while ago I was charged twice by mistake, but your team fixed that.",
        "Last year there was a duplicate payment on my card, which was sorted out quickly.",
    ],
    "refund_request": [
        "I got a refund from you last year for a different issue, and that went smoothly.",
        "Years ago you refunded a charge for me without any fuss.",
    ],
    "failed_payment": [
        "My card was replaced recently, but the new one is already saved.",
        "Once before a payment bounced because of my bank, but that is long solved.",
    ],
    "plan_change": [
        "We upgraded to a bigger plan back in spring.",
        "At some point we may add more users, but not yet.",
    ],
    "invoice_request": [
        "Our accountant downloads the invoices each quarter.",
        "The invoices themselves have always been fine.",
    ],
    "cancellation": [
        "A colleague cancelled his own account last year, but that is not related.",
        "We thought about cancelling last winter but decided to stay.",
    ],
    "tax_vat_question": [
        "We are registered for VAT, in case that matters.",
        "Our tax setup has not changed this year.",
    ],
    "promo_code": [
        "I originally signed up with a discount code from a webinar.",
        "We used a promo code when we first joined.",
    ],
}

BACKSTORIES = [
    "We have used {product} since {year} and mostly love it.",
    "I run a small {team} and {product} is our main tool.",
    "I manage the subscriptions for our {team}.",
    "We are a team of {seats} people in {city}.",
    "I signed up for {product} a couple of years ago.",
    "Our {team} relies on {product} for day-to-day work.",
]

DEADLINES = [
    "I need this sorted by Friday.",
    "Our audit is on Monday, so this is time-sensitive.",
    "Please handle this today, my manager is waiting on it.",
    "I need this resolved before the end of the week.",
    "This has to be done by tomorrow.",
]

# Failed payments that have also cut the customer off (raises the priority).
BLOCKED = [
    "Now my account is locked and my team cannot log in.",
    "Access to {product} has been suspended because of this.",
    "We are locked out of {product} since this morning.",
]

FOLLOWUPS = [
    "I wrote to you about this on {prev_date} and have not heard back.",
    "This is my second email about this issue.",
    "I am following up on my message from last week.",
    "Still waiting for an answer on this one.",
]

# (first names, family names) per naming tradition; a sender takes both from one group.
NAMES = [
    (
        ["Adebayo", "Funmilayo", "Oluwaseun", "Temitope", "Babajide", "Yetunde"],
        ["Adeyemi", "Ogunleye", "Balogun"],
    ),
    (["Chidi", "Ngozi", "Emeka", "Chiamaka", "Obinna", "Adaeze"], ["Okafor", "Nwosu", "Eze", "Okonkwo"]),
    (["Amani", "Baraka", "Zawadi", "Neema", "Jabari", "Imani"], ["Mwangi", "Otieno", "Wanjiru", "Kamau"]),
    (
        ["Sipho", "Thandiwe", "Bongani", "Lindiwe", "Sizwe", "Nomvula"],
        ["Dlamini", "Nkosi", "Mthembu", "Ndlovu"],
    ),
    (
        ["Priya", "Arjun", "Ananya", "Rohan", "Kavya", "Vikram", "Deepika", "Rahul"],
        ["Sharma", "Iyer", "Patel", "Reddy"],
    ),
    (["Wei", "Mei", "Jun", "Xiaoling", "Hao", "Lina"], ["Wang", "Li", "Zhang", "Chen", "Liu"]),
    (["Haruto", "Yui", "Sota", "Aoi", "Ren", "Sakura"], ["Sato", "Suzuki", "Takahashi", "Tanaka"]),
    (["Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun"], ["Kim", "Park", "Choi", "Jung"]),
    (["Linh", "Minh", "Thao", "Duc", "Trang"], ["Nguyen", "Tran", "Le", "Pham"]),
    (["Maricel", "Jomar", "Kristine", "Rodel"], ["Santos", "Reyes", "Cruz", "Bautista"]),
    (
        ["Mateo", "Sofía", "Valentina", "Santiago", "Camila", "Diego", "Lucía"],
        ["García", "Rodríguez", "López"],
    ),
    (["João", "Ana", "Thiago", "Beatriz", "Gabriel"], ["Silva", "Oliveira", "Souza", "Costa"]),
    (["Chloé", "Léa", "Hugo", "Julien", "Camille", "Théo"], ["Dubois", "Lefèvre", "Moreau", "Laurent"]),
    (["Lukas", "Lena", "Jonas", "Hannah", "Felix", "Jana"], ["Müller", "Schmidt", "Becker", "Wagner"]),
    (
        ["Björn", "Ingrid", "Søren", "Astrid", "Mikkel", "Freja"],
        ["Johansson", "Nielsen", "Lindqvist", "Hansen"],
    ),
    (
        ["Katarzyna", "Piotr", "Agnieszka", "Tomasz", "Marta", "Jakub"],
        ["Nowak", "Wójcik", "Mazur", "Krawczyk"],
    ),
    (["Fatima", "Omar", "Layla", "Youssef", "Khalid", "Noor"], ["Haddad", "Al-Sayed", "Mansour", "Khoury"]),
    (["Ayşe", "Mehmet", "Zeynep", "Emre", "Elif"], ["Yılmaz", "Demir", "Kaya", "Şahin"]),
    (["Darius", "Parisa", "Reza", "Shirin"], ["Ahmadi", "Hosseini", "Karimi"]),
    (["Noa", "Yael", "Eitan", "Avi"], ["Cohen", "Levi", "Mizrahi"]),
    (
        ["Aoife", "Niamh", "Ciarán", "Siobhán", "Oliver", "Emily", "George"],
        ["Murphy", "O'Brien", "Walsh", "Taylor"],
    ),
    (["Aroha", "Tane", "Mere", "Sione", "Losa"], ["Ngata", "Parata", "Tuilagi", "Fifita"]),
    (["Giulia", "Marco", "Francesca", "Matteo"], ["Rossi", "Bianchi", "Ricci"]),
    (["Nikos", "Eleni", "Yannis"], ["Georgiou", "Antoniou"]),
    (["Tyler", "Jasmine", "DeShawn", "Madison", "Carlos"], ["Johnson", "Williams", "Brown", "Jackson"]),
]

PRODUCTS = [
    "Inkwell Pro",
    "Cloudbox Sync",
    "Sprintlane",
    "Harborview Analytics",
    "Pebblenote",
    "Tallyhive",
    "Quokka Mail",
    "Fernhill CRM",
    "Lanternly",
    "Loomcraft Forms",
    "Nimbus Vault",
    "Stackwise",
]

# Plan tiers, cheapest first: an upgrade moves right, a downgrade left.
PLANS = ["Starter", "Team", "Business", "Scale"]

TEAMS = [
    "design studio",
    "law firm",
    "bakery",
    "dental clinic",
    "marketing agency",
    "school",
    "architecture office",
    "charity",
    "coffee roastery",
    "startup",
]

CITIES = ["Lagos", "Pune", "Osaka", "Lyon", "Leeds", "Monterrey", "Gdańsk", "Nairobi", "Brisbane", "Porto"]

COMPANIES = [
    "Blue Heron Studio",
    "Okafor Logistics Ltd",
    "Sakura Dental",
    "Nordlys AS",
    "Casa Verde SL",
    "Greenfield Partners",
    "Mwangi & Co",
    "Pixel Harbor GmbH",
    "Tanaka Design KK",
    "Riverbend Bakery",
]

CODE_WORDS = ["SPRING", "WELCOME", "SAVE", "LAUNCH", "TEAM", "HELLO", "FRIENDS", "STUDENT"]
