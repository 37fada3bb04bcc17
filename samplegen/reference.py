"""Static reference data: names, places, products, campaigns."""

# Formal first name -> the nickname people also go by outside the CRM.
NICKNAMES = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katherine": "Kate",
    "Michael": "Mike", "James": "Jim", "Thomas": "Tom", "Christopher": "Chris",
    "Daniel": "Dan", "Alexander": "Alex", "Samuel": "Sam", "Rebecca": "Becky",
    "Joseph": "Joe", "Benjamin": "Ben", "Matthew": "Matt", "Jennifer": "Jenny",
    "Margaret": "Maggie", "Richard": "Rich", "Edward": "Ed", "Nicholas": "Nick",
    "Jonathan": "Jon", "Victoria": "Vicky", "Charlotte": "Lottie", "Patricia": "Trish",
    "Anthony": "Tony", "Stephen": "Steve", "Andrew": "Andy", "Abigail": "Abi",
}

OTHER_FIRST_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Lily", "Emily", "Sophie",
    "Chloe", "Ella", "Hannah", "Lucy", "Megan", "Zara", "Priya", "Aisha", "Fatima", "Niamh",
    "Siobhan", "Eilidh", "Catrin", "Rhian", "Oliver", "George", "Harry", "Jack", "Noah",
    "Leo", "Oscar", "Arthur", "Ethan", "Ryan", "Adam", "Liam", "Callum", "Rhys", "Dylan",
    "Owen", "Amir", "Raj", "Omar", "Tariq", "Hamish", "Fraser", "Euan", "Gareth", "Ieuan",
    "Sean", "Connor", "Kieran", "Laura", "Sarah", "Emma", "Claire", "Helen", "Ruth", "Fiona",
]

FIRST_NAMES = sorted(NICKNAMES) + OTHER_FIRST_NAMES

LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee",
    "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker", "James", "Bennett",
    "Young", "Phillips", "Richardson", "Mitchell", "Bailey", "Carter", "Cook", "Singh",
    "Shaw", "Bell", "Collins", "Morgan", "Kelly", "Begum", "Miller", "Cox", "Hussain",
    "Marshall", "Simpson", "Price", "Anderson", "Adams", "Wilkinson", "Ali", "Ahmed",
    "Foster", "Ellis", "Murphy", "Chapman", "Mason", "Gray", "Richards", "Webb", "Griffiths",
    "Hunt", "Palmer", "Campbell", "Holmes", "Mills", "Rogers", "Barnes", "Knight", "Matthews",
    "Barker", "Powell", "Stevens", "Kaur", "Fisher", "Butler", "Dixon", "Russell", "Harvey",
    "Pearson", "Graham", "MacDonald", "Fraser", "Stewart", "Reid", "Murray", "Llewellyn",
    "Pritchard", "Owen", "Jenkins", "Rees", "Nowak", "Kowalski", "Okafor", "Mensah", "Nguyen",
]

# CRM State/Region -> share of people, and cities with their postcode districts.
REGIONS = {
    "London": (0.28, {"London": ["E1", "E8", "N1", "N16", "NW5", "SE15", "SE22", "SW4", "SW11", "W12"]}),
    "South East": (0.20, {"Brighton": ["BN1", "BN2"], "Reading": ["RG1", "RG4"], "Oxford": ["OX1", "OX4"],
                          "Canterbury": ["CT1"], "Guildford": ["GU1"], "Southampton": ["SO14", "SO15"]}),
    "North West": (0.16, {"Manchester": ["M1", "M4", "M20"], "Liverpool": ["L1", "L8"], "Preston": ["PR1"],
                          "Lancaster": ["LA1"], "Chester": ["CH1"]}),
    "Midlands": (0.16, {"Birmingham": ["B1", "B13", "B15"], "Nottingham": ["NG1", "NG7"], "Leicester": ["LE1"],
                        "Coventry": ["CV1"], "Derby": ["DE1"]}),
    "Scotland": (0.10, {"Edinburgh": ["EH1", "EH6", "EH9"], "Glasgow": ["G1", "G12"], "Aberdeen": ["AB10"],
                        "Dundee": ["DD1"], "Inverness": ["IV1"]}),
    "Wales": (0.10, {"Cardiff": ["CF10", "CF24"], "Swansea": ["SA1"], "Newport": ["NP20"], "Bangor": ["LL57"],
                     "Aberystwyth": ["SY23"]}),
}
SLOW_REGIONS = {"Scotland": (0.5, 1.6), "Wales": (0.3, 1.2), "North West": (0.0, 0.5)}

POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # inward-code letters never use C I K M O V

STREET_NAMES = [
    "High", "Station", "Church", "Mill", "Harbour", "Victoria", "Park", "Queen", "King", "Market",
    "Bridge", "Green", "Manor", "Castle", "Chapel", "Orchard", "Wellington", "Albert", "York", "Grove",
]
STREET_TYPES = ["Street", "Road", "Lane", "Avenue", "Terrace", "Close", "Way", "Place"]

EMAIL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "icloud.com", "btinternet.com", "hotmail.co.uk"]

CAFE_WORDS_A = ["Copper", "Little", "Golden", "Corner", "Salt", "Harbour", "Velvet", "Northern", "Daily", "Wild"]
CAFE_WORDS_B = ["Kettle", "Bean", "Grind", "Cup", "Crema", "Roast", "Pour", "Mug", "Brew", "Leaf"]
CAFE_SUFFIX = ["Café", "Coffee House", "Espresso Bar", "Kitchen", "Coffee"]

ORIGINAL_SOURCES = ["Organic Search", "Paid Social", "Direct Traffic", "Referrals", "Email Marketing",
                    "Offline Sources", "Social Media"]
SIGNUP_SOURCES = ["Website popup", "Checkout", "Instagram", "Market stall", ""]

# SKU, product, unit cost in pence (what a bag costs us).
PRODUCTS = [
    ("HH-HOUSE-250", "House Blend 250g", 310), ("HH-HOUSE-1K", "House Blend 1kg", 1050),
    ("HH-DECAF-250", "Swiss Water Decaf 250g", 360), ("HH-ESPR-250", "Harbour Espresso 250g", 330),
    ("HH-ESPR-1K", "Harbour Espresso 1kg", 1120), ("HH-ETH-250", "Ethiopia Yirgacheffe 250g", 420),
    ("HH-COL-250", "Colombia Huila 250g", 390), ("HH-BRA-250", "Brazil Cerrado 250g", 340),
    ("HH-KEN-250", "Kenya Nyeri 250g", 450), ("HH-GUA-250", "Guatemala Antigua 250g", 400),
    ("HH-RWA-250", "Rwanda Nyamasheke 250g", 430), ("HH-SUM-250", "Sumatra Mandheling 250g", 380),
    ("HH-PERU-250", "Peru Cajamarca 250g", 370), ("HH-COLD-1K", "Cold Brew Coarse 1kg", 990),
    ("HH-XMAS-250", "Winter Spice Blend 250g", 360), ("HH-SAMP-4", "Taster Pack 4x100g", 520),
    ("HH-FILT-100", "Paper Filters x100", 140), ("HH-V60-01", "Ceramic Dripper", 950),
    ("HH-GIFT-BOX", "Gift Box Trio", 1180), ("HH-MUG-01", "Harbour & Hearth Mug", 420),
]
HOME_PRODUCTS = [p[1] for p in PRODUCTS if "250g" in p[1] or "Taster" in p[1]]
CAFE_PRODUCTS = [p[1] for p in PRODUCTS if "1kg" in p[1]]

# title, subject, send month/day, delivery promise in days (None: standard promise)
CAMPAIGNS = [
    ("New Year Brew Reset", "Start 2025 with a better cup", (1, 14), None),
    ("Spring Single Origins", "Three new origins just landed", (3, 11), None),
    ("Mother's Day Gifting", "Gift boxes for Mum", (3, 18), None),
    ("Summer Cold Brew", "Cold brew season is here", (6, 10), None),
    ("Fresh in 48h", "Roasted today, with you in 48 hours", (9, 9), 2),
    ("Autumn Harvest Roast", "Our autumn roast is back", (10, 14), None),
    ("Black Friday Beans", "Our biggest offer of the year", (11, 27), None),
    ("Christmas Gift Boxes", "Order by the 18th for Christmas", (12, 4), None),
]

CARRIERS_BEFORE = [("Royal Mail", 50), ("Evri", 30), ("DPD", 20)]
CARRIERS_AFTER = [("DPD", 50), ("Royal Mail", 35), ("DHL", 15)]
# carrier -> shipping cost range in pence for a small parcel
CARRIER_COST = {"Royal Mail": (320, 480), "Evri": (290, 390), "DPD": (560, 720), "DHL": (610, 790)}
