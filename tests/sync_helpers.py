"""Helpers for the sync tests: a real second database for the business side (a SQLite file,
or in the PostgreSQL run also a PostgreSQL database), its rows read and written with plain
SQL as the desktop program would, and one sync cycle."""
from kontor.sync import business, demo, engine
from kontor.sync.layout import business_models, default_layout
from models import Contact, SyncBase, SyncBinding, SyncConflict


class Business:
    """The business database of a test: its Peewee database, models of the default layout,
    and shortcuts to read and change rows as the desktop program would."""

    def __init__(self, url):
        self.url = url
        self.database = business.open_business(url, create=True)
        self.layout = default_layout()
        self.models = business_models(self.layout, self.database)
        self.database.create_tables(list(self.models.values()))

    def add(self, entity, **values):
        return self.models[entity].insert(**values).execute()

    def contact(self, key):
        model = self.models["contacts"]
        return model.get_or_none(model.key == key)

    def set(self, entity, key, **values):
        model = self.models[entity]
        return model.update(**values).where(model.key == key).execute()

    def delete(self, entity, key):
        model = self.models[entity]
        return model.delete().where(model.key == key).execute()

    def rows(self, entity):
        model = self.models[entity]
        return [row.__data__ for row in model.select().order_by(model.key)]

    def count(self, entity):
        return self.models[entity].select().count()

    def cycle(self, **options):
        return engine.run_cycle(self.database, self.layout, node="test-node", **options)

    def fill_demo(self, contacts):
        for model in reversed(list(self.models.values())):
            model.delete().execute()
        rows = demo.rows(contacts)
        for entity, model in self.models.items():
            if rows[entity]:
                model.insert_many(rows[entity]).execute()


def bound_contact(firm, key):
    """Kontor's Contact bound to the business contact `key`."""
    binding = SyncBinding.get(SyncBinding.entity == "contacts",
                              SyncBinding.business_key == str(key))
    return Contact.get_by_id(binding.kontor_id)


def history(entity="contacts"):
    return list(SyncConflict.select().where(SyncConflict.entity == entity)
                .order_by(SyncConflict.id))


def sync_rows():
    """The sync's own state (bindings and agreed states), for comparing runs."""
    return (sorted((b.entity, b.kontor_id, b.business_key) for b in SyncBinding.select()),
            sorted((b.entity, b.kontor_id, b.agreed) for b in SyncBase.select()))
