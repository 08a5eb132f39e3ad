"""A sample business database in the default layout (issue 16 item 1: `flask --app app
business-demo PATH [--contacts N]`), with Dutch, Norwegian and German firms, their people and
notes, so that anyone can try the sync in a minute. The same seed gives the same data."""
import datetime
import random
import uuid
from decimal import Decimal

from peewee import PostgresqlDatabase

from kontor.sync.business import quoted
from kontor.sync.layout import business_models, default_layout

# (legal form, country, cities with postcodes, streets, first names, last names, trades)
REGIONS = {
    "NL": dict(
        forms=("B.V.", "V.O.F.", ""),
        cities=(("Amsterdam", "1012 AB"), ("Utrecht", "3511 LX"), ("Rotterdam", "3011 AD"),
                ("Groningen", "9711 LM"), ("Eindhoven", "5611 EM"), ("Zwolle", "8011 CW")),
        streets=("Hoofdstraat", "Kerkstraat", "Molenweg", "Stationsplein", "Dorpsstraat"),
        first=("Jan", "Sanne", "Pieter", "Femke", "Daan", "Lotte", "Bram", "Eva"),
        last=("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "van Dijk"),
        trades=("Bakkerij", "Installatiebedrijf", "Drukkerij", "Transport", "Schildersbedrijf"),
        phone="+31 {a:02d} {b:03d} {c:04d}", titles=("Directeur", "Inkoper", "Boekhouder"),
        notes=("Offerte verstuurd, terugbellen volgende week.", "Klant wil factuur per e-mail.",
               "Levering besproken met de magazijnchef.")),
    "NO": dict(
        forms=("AS", "ASA", "ENK"),
        cities=(("Oslo", "0155"), ("Bergen", "5003"), ("Trondheim", "7010"),
                ("Stavanger", "4006"), ("Tromsø", "9008"), ("Drammen", "3015")),
        streets=("Storgata", "Kirkegata", "Strandveien", "Bryggen", "Torggata"),
        first=("Ola", "Kari", "Lars", "Ingrid", "Håkon", "Solveig", "Øyvind", "Åse"),
        last=("Hansen", "Johansen", "Olsen", "Larsen", "Berg", "Haugen", "Bakke"),
        trades=("Rør", "Bygg", "Elektro", "Regnskap", "Transport"),
        phone="+47 {a:02d} {b:02d} {c:04d}", titles=("Daglig leder", "Innkjøper", "Regnskapsfører"),
        notes=("Tilbud sendt, ring tilbake neste uke.", "Kunden ønsker faktura på e-post.",
               "Levering avtalt med lagersjefen.")),
    "DE": dict(
        forms=("GmbH", "AG", "e.K."),
        cities=(("Berlin", "10115"), ("Hamburg", "20095"), ("München", "80331"),
                ("Köln", "50667"), ("Düsseldorf", "40213"), ("Leipzig", "04109")),
        streets=("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Marktplatz", "Schulstraße"),
        first=("Hans", "Anna", "Jürgen", "Sabine", "Lukas", "Jörg", "Mia", "Günter"),
        last=("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Weiß", "Groß"),
        trades=("Metallbau", "Elektrotechnik", "Druckerei", "Spedition", "Bäckerei"),
        phone="+49 {a:02d} {b:03d} {c:04d}",
        titles=("Geschäftsführer", "Einkäufer", "Buchhalterin"),
        notes=("Angebot verschickt, nächste Woche nachfassen.",
               "Kunde wünscht Rechnung per E-Mail.",
               "Lieferung mit dem Lagerleiter abgestimmt.")),
}
BATCH = 500
EPOCH = datetime.datetime(2026, 1, 5, 9, 0)


def _ascii(text):
    """An e-mail-friendly form of a name: lower-case ASCII letters and dots."""
    table = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "ae", "ö": "oe", "ü": "ue",
                           "ß": "ss", "é": "e", "è": "e"})
    text = text.lower().translate(table)
    return "".join(ch if ch.isalnum() else "." for ch in text if ch.isascii()).strip(".")


def rows(contacts: int, seed: int = 2026):
    """The demo's rows as {entity: [dict, …]} in the default layout's fields, with `key`:
    `contacts` firms (about 2 persons and 1.5 note entries each) and 8 employees."""
    rng = random.Random(seed)
    uids = random.Random(seed + 1)
    out = {"employees": [], "contacts": [], "contact_persons": [], "note_entries": []}
    for index in range(8):
        region = REGIONS[("NL", "NO", "DE")[index % 3]]
        name = f"{rng.choice(region['first'])} {rng.choice(region['last'])}"
        out["employees"].append(dict(
            key=index + 1, email=f"{_ascii(name)}.{index + 1}@kontor-demo.example", name=name,
            phone="", mobile=region["phone"].format(a=rng.randint(40, 99), b=rng.randint(100, 999),
                                                    c=rng.randint(1000, 9999)),
            title=region["titles"][index % 3], department="", active=True))
    person_key = note_key = 0
    for index in range(contacts):
        country = ("NL", "NO", "DE")[index % 3]
        region = REGIONS[country]
        city, postcode = rng.choice(region["cities"])
        last = rng.choice(region["last"])
        form = rng.choice(region["forms"])
        name = " ".join(part for part in (f"{last} {rng.choice(region['trades'])}", form) if part)
        if index >= 3 * len(REGIONS[country]["last"]):
            name = f"{name} {city}" if rng.random() < 0.5 else f"{name} {index + 1}"
        phone = region["phone"].format(a=rng.randint(10, 99), b=rng.randint(100, 999),
                                       c=rng.randint(1000, 9999))
        contact_key = index + 1
        out["contacts"].append(dict(
            key=contact_key, customer_number=10000 + contact_key, kind="company", name=name,
            org_number=str(rng.randint(800000000, 999999999)) if country == "NO" else "",
            vat_number="", email=f"post@{_ascii(last)}{contact_key}.example", phone=phone,
            mobile="", fax="", website="", street=f"{rng.choice(region['streets'])} "
            f"{rng.randint(1, 120)}", postcode=postcode, city=city, country=country,
            visit_street="", visit_postcode="", visit_city="", visit_country="",
            discount=rng.choice((0, 0, 0, 5, 10, 12.5)), active=True))
        for _ in range(rng.choice((1, 2, 2, 3))):
            person_key += 1
            person = f"{rng.choice(region['first'])} {rng.choice(region['last'])}"
            out["contact_persons"].append(dict(
                key=person_key, contact_id=contact_key, name=person,
                title=rng.choice(region["titles"]),
                email=f"{_ascii(person)}@{_ascii(last)}{contact_key}.example",
                phone="", mobile="", active=True))
        for number in range(rng.choice((0, 1, 2, 3))):
            note_key += 1
            out["note_entries"].append(dict(
                key=note_key, uid=str(uuid.UUID(int=uids.getrandbits(128), version=4)),
                contact_id=contact_key, person_id=None, text=rng.choice(region["notes"]),
                author=out["employees"][number % 8]["name"],
                created_at=EPOCH + datetime.timedelta(days=index % 300, hours=number)))
    return out


def create_demo(database, contacts: int = 200, seed: int = 2026) -> dict:
    """Create the default layout's tables in `database` (a connected Peewee database that has
    none of them yet) and fill them with the demo rows. Returns {entity: rows written}.
    Raises ValueError when the tables exist already (a demo never overwrites data)."""
    models = business_models(default_layout(), database)
    existing = [model._meta.table_name for model in models.values() if model.table_exists()]
    if existing:
        raise ValueError(f"the database has these tables already: {', '.join(existing)}")
    database.create_tables(list(models.values()))
    data = rows(contacts, seed)
    for row in data["contacts"]:
        row["discount"] = Decimal(str(row["discount"]))
    counts = {}
    with database.atomic():
        for entity, model in models.items():
            entity_rows = data[entity]
            for start in range(0, len(entity_rows), BATCH):
                model.insert_many(entity_rows[start:start + BATCH]).execute()
            counts[entity] = len(entity_rows)
            if isinstance(database, PostgresqlDatabase) and entity_rows:
                # explicit keys leave the serial's sequence behind: later inserts would clash
                table, key = model._meta.table_name, model.key.column_name
                database.execute_sql(
                    "SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f"(SELECT MAX({quoted(key)}) FROM {quoted(table)}))", (table, key))
    return counts
