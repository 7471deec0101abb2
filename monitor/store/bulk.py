"""The rows a batch adds, written with one bulk INSERT per table at its end.

ingest.py builds the rows of a batch as model objects (an article first seen, its URLs, versions, changes,
events, outbox rows, checks) and hands them here instead of to the session. The session's unit of work
costs ~1.2 ms an article to insert the five rows of a first sighting (tracking every object, sorting them,
syncing keys one relationship at a time); the same rows as dictionaries, through SQLAlchemy's ORM bulk
INSERT, ~0.3 ms (measured with the real models, 200 articles a batch). That was most of a first crawl's
database time. The session still writes what it loaded and changed (an article's schedule, a check run
grown by one check): updates, which the unit of work does well.

The objects stay transient (never in the session): the batch reads and changes them freely until `write`,
and their ids are set once written. A row points to its parents through the models' relationships, as
with the unit of work; `write` turns each relationship into its key column, parents first. The rows every
fetch adds (an article, its URLs, a version, a check) are made by `new_row`, without the attribute events a
model's constructor fires for the unit of work: ~4 us a version instead of ~110.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import inspect, insert
from sqlalchemy.orm import Session, configure_mappers

from monitor.store.models import Article, ArticleUrl, Base, Change, Check, Event, Outbox, Version

# Parents before children. The ids of the first four are read back: other rows point to them.
ORDER: tuple[type[Base], ...] = (Article, ArticleUrl, Version, Change, Event, Outbox, Check)
_POINTED_TO = (Article, Version, Change, Event)
Row = TypeVar("Row", bound=Base)


@dataclass(frozen=True, slots=True)
class _Shape:
    """What makes a model object a row: its columns with the value each takes when not set (the column's
    default, else NULL: every row of a statement gives every column), and its relationships to parents."""

    defaults: dict[str, Any]
    parents: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]   # relationship, ((key column, parent's), ...)
    attributes: frozenset[str]   # what a row of the model may be given


@cache
def _shape(model: type[Base]) -> _Shape:
    configure_mappers()   # a model's attributes work once its mapper is configured; constructors see to it
    mapper = inspect(model)
    defaults = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.primary_key:
            continue   # given by the database
        default = column.default
        # A callable default (`list`) is called once here: its value only goes into statements, never changed.
        defaults[prop.key] = None if default is None else default.arg(None) if default.is_callable else default.arg
    parents = tuple((rel.key, tuple((mapper.get_property_by_column(local).key,
                                     inspect(rel.mapper.class_).get_property_by_column(remote).key)
                                    for local, remote in rel.local_remote_pairs))
                    for rel in mapper.relationships)
    return _Shape(defaults, parents, frozenset(prop.key for prop in mapper.attrs))


def new_row(model: type[Row], **values: Any) -> Row:
    """A transient `model` object holding `values` (mapped attributes: `published_iso`, not the property
    `published`), for `NewRows`. Attributes set on it later go through the ORM as usual."""
    if unknown := values.keys() - _shape(model).attributes:
        raise TypeError(f"{model.__name__} has no attribute {', '.join(sorted(unknown))}")
    row = model.__mapper__.class_manager.new_instance()
    row.__dict__.update(values)
    return row


class NewRows:
    """The rows a batch adds, by table, in the order they were added."""

    def __init__(self) -> None:
        self.rows: dict[type[Base], list[Base]] = {model: [] for model in ORDER}

    def add(self, row: Base) -> None:
        self.rows[type(row)].append(row)

    def of(self, model: type[Base]) -> Iterator[Any]:
        return iter(self.rows[model])

    def write(self, session: Session) -> None:
        """Insert every row, parents first, in the session's transaction."""
        for model in ORDER:
            objects = self.rows[model]
            if not objects:
                continue
            values = [_values(row) for row in objects]
            if model in _POINTED_TO:
                statement = insert(model).returning(inspect(model).primary_key[0], sort_by_parameter_order=True)
                for row, key in zip(objects, session.scalars(statement, values), strict=True):
                    row.id = key  # type: ignore[attr-defined]
            else:
                session.execute(insert(model), values)
        self.rows = {model: [] for model in ORDER}


def _values(row: Base) -> dict[str, Any]:
    shape = _shape(type(row))
    state = row.__dict__   # the values set on a transient object, without the attribute machinery's cost
    values = {key: state.get(key, default) for key, default in shape.defaults.items()}
    for relationship, pairs in shape.parents:
        parent = state.get(relationship)
        if parent is not None:
            for column, parent_column in pairs:
                values[column] = getattr(parent, parent_column)
    return values
