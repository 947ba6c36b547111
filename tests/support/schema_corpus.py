"""A table of realistic tool signatures and the neutral JSON Schema each one must produce.

Each `Case` holds the callable, the exact expected neutral schema (written by hand from the JSON Schema
that Pydantic documents for each type, without `title` noise), the expected description, a valid
argument dict (with the keyword arguments the validator must return, when it matters) and invalid
argument dicts. `tests/test_schema.py` checks the schema builder against it; `tests/test_dialects.py`
compiles every schema for every dialect.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field
from typing_extensions import NotRequired, TypedDict

# ----------------------------------------------------------------------------------- shared types


class Unit(enum.Enum):
    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class Priority(enum.IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str
    postal_code: str | None = None
    country: str = Field("US", description="ISO 3166 country code")


class Attendee(BaseModel):
    email: str
    optional: bool = False


@dataclass
class Point:
    lat: float
    lon: float


@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime
    tags: list[str] = field(default_factory=list)


class SearchFilters(TypedDict):
    language: str
    year: NotRequired[int]


class LineItem(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class Order(BaseModel):
    """Place an order for a customer."""

    customer_id: str
    items: list[LineItem]
    shipping: Address
    express: bool = False
    note: str | None = None


class Reminder(BaseModel):
    """Create a reminder.

    Args:
        text: What to remind the user about.
        minutes: Minutes from now.
    """

    text: str
    minutes: int


# ------------------------------------------------------------------------------------- functions


def get_weather(city: str, unit: Unit = Unit.CELSIUS) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
        unit: Temperature unit.
    """
    return f"{city}: 20 {unit.value}"


def web_search(query: str, max_results: int = 5, safe: bool = True) -> list[str]:
    """Search the web.

    Parameters
    ----------
    query : str
        The search query.
    max_results : int
        How many results to return.
    safe : bool
        Filter explicit results.
    """
    return [query] * max_results


def create_event(
    title: str, start: dt.datetime, duration_minutes: int = 30, attendees: list[str] | None = None
) -> str:
    """Create a calendar event.

    :param title: Event title.
    :param start: Start time (ISO 8601).
    :param duration_minutes: Length in minutes.
    :param attendees: Email addresses to invite.
    :return: The event id.
    """
    return title


def read_file(path: str, encoding: str = "utf-8", max_bytes: Optional[int] = None) -> str:  # noqa: UP045
    """Read a text file from the workspace."""
    return path


def write_file(path: str, content: str, append: bool = False) -> None:
    """Write a text file.

    Creates parent directories as needed. Overwrites unless `append` is set.

    Args:
        path: Destination path, relative to the workspace.
        content: Text to write.
        append: Append instead of overwriting.
    """


def run_sql(
    query: str, params: list[str | int | float | None] | None = None, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """Run a read-only SQL query.

    Args:
        query: A SELECT statement.
        params: Positional parameters for the query.
        timeout_s: Give up after this many seconds.
    """
    return []


def send_email(
    to: str, subject: str, body: str, address: Address | None = None, cc: list[str] | None = None
) -> str:
    """Send an email.

    Args:
        to: Recipient address.
        subject: Subject line.
        body: Plain-text body.
        address: Postal address to print in the footer.
        cc: Carbon copies.
    """
    return "sent"


def set_priority(ticket_id: int, priority: Priority) -> None:
    """Change a ticket's priority."""


def convert(value: float, direction: Literal["c_to_f", "f_to_c"]) -> float:
    """Convert a temperature."""
    return value


def get_time() -> str:
    """Return the current time in UTC."""
    return "now"


async def fetch_url(url: str, timeout: float = 5.0) -> str:
    """Fetch a URL (async)."""
    return url


def count_words(counts: dict[str, int]) -> int:
    """Sum word counts."""
    return sum(counts.values())


def nearest_station(location: Point, radius_km: float = 1.5) -> str:
    """Find the nearest station to a point.

    Args:
        location: Where to search from.
        radius_km: Search radius.
    """
    return "x"


def book_room(room: str, window: Window) -> str:
    """Book a meeting room for a time window."""
    return room


def search_papers(query: str, filters: SearchFilters) -> list[str]:
    """Search academic papers."""
    return []


def resize_image(
    path: Annotated[str, Field(description="Path of the image")],
    width: Annotated[int, Field(description="Width in pixels", gt=0, le=8192)],
    keep_aspect: Annotated[bool, "Keep the aspect ratio"] = True,
) -> str:
    """Resize an image."""
    return path


def invite(meeting_id: str, attendees: list[Attendee]) -> int:
    """Invite attendees to a meeting."""
    return len(attendees)


def place_order(order: Order) -> str:
    """Place an order."""
    return order.customer_id


def set_defaults(
    name: str = "anon",
    count: int = 0,
    ratio: float = 0.5,
    enabled: bool = False,
    tags: list[str] = ["a", "b"],  # noqa: B006 (a literal default is the point of this case)
    limits: dict[str, int] = {"cpu": 2},  # noqa: B006
    nothing: None = None,
    unit: Unit = Unit.FAHRENHEIT,
    level: Priority = Priority.HIGH,
    mode: Literal["fast", "slow"] = "slow",
) -> None:
    """Exercise defaults of every JSON type."""


def tag_items(ids: set[int], pair: tuple[str, int], many: tuple[float, ...] = ()) -> None:
    """Tag items (sets and tuples)."""


def translate(text: str, target: str, source=None) -> str:  # type: ignore[no-untyped-def]
    """Translate text.

    Args:
        text: Text to translate.
        target: Target language code.
        source: Source language (auto-detected when omitted).
    """
    return text


def schedule_job(job_id: uuid.UUID, run_on: dt.date, cron: str | None = None) -> None:
    """Schedule a job by id."""


def ping(host: str, **kwargs: Any) -> str:
    """Ping a host; extra options pass through."""
    return host


def log_event(kind: Literal["click", "view", 3], payload: dict[str, Any]) -> None:
    """Log an analytics event with a free-form payload."""


def only_required(a: int, b: str, c: float, d: bool) -> None:
    """Four required parameters, no docstring sections."""


def no_docstring(x: int) -> int:
    return x


def with_constant(kind: Literal["fixed"], amount: Annotated[float, Field(ge=0)]) -> None:
    """A single-value Literal becomes a const."""


def optional_union(value: Union[int, str, None] = None) -> None:  # noqa: UP007
    """A union with null."""


def add_to_cart(item: LineItem, cart_id: str = "default") -> None:
    """Add an item (a model with constraints) to a cart."""


class Calculator:
    """Not a tool itself; its methods and __call__ are."""

    def add(self, a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: First addend.
            b: Second addend.
        """
        return a + b

    def __call__(self, expression: str) -> float:
        """Evaluate an arithmetic expression.

        Args:
            expression: For example "2 * (3 + 4)".
        """
        return 0.0


def _search_with_key(api_key: str, query: str, limit: int = 10) -> list[str]:
    """Search an index.

    Args:
        api_key: Bound by the application.
        query: What to look for.
        limit: Result cap.
    """
    return []


search_bound = functools.partial(_search_with_key, "secret")


# ------------------------------------------------------------------------------------------ table

ADDRESS_DEF: dict[str, Any] = {
    "description": "A postal address.",
    "type": "object",
    "properties": {
        "street": {"type": "string"},
        "city": {"type": "string"},
        "postal_code": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "country": {"type": "string", "default": "US", "description": "ISO 3166 country code"},
    },
    "required": ["street", "city"],
}
LINE_ITEM_DEF: dict[str, Any] = {
    "type": "object",
    "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}},
    "required": ["sku", "quantity"],
}
UNIT_DEF: dict[str, Any] = {"type": "string", "enum": ["celsius", "fahrenheit"]}
PRIORITY_DEF: dict[str, Any] = {"type": "integer", "enum": [1, 2, 3]}


@dataclass
class Case:
    id: str
    func: Callable[..., Any]
    expected: dict[str, Any]
    description: str
    valid: dict[str, Any]
    invalid: list[dict[str, Any]] = field(default_factory=list)
    expected_kwargs: dict[str, Any] | None = None
    name: str | None = None
    strict_ok: bool = True  # expressible in OpenAI strict mode


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


CASES: list[Case] = [
    Case(
        "weather_enum_google",
        get_weather,
        obj(
            {
                "city": {"type": "string", "description": 'The city name, e.g. "Paris".'},
                "unit": {"$ref": "#/$defs/Unit", "default": "celsius", "description": "Temperature unit."},
            },
            ["city"],
            **{"$defs": {"Unit": UNIT_DEF}},
        ),
        "Get the current weather for a city.",
        {"city": "Paris", "unit": "fahrenheit"},
        [{"unit": "celsius"}, {"city": "Paris", "unit": "kelvin"}],
        {"city": "Paris", "unit": Unit.FAHRENHEIT},
    ),
    Case(
        "search_numpy",
        web_search,
        obj(
            {
                "query": {"type": "string", "description": "The search query."},
                "max_results": {
                    "type": "integer",
                    "default": 5,
                    "description": "How many results to return.",
                },
                "safe": {"type": "boolean", "default": True, "description": "Filter explicit results."},
            },
            ["query"],
        ),
        "Search the web.",
        {"query": "pydantic"},
        [{"query": 3}, {"query": "x", "max_results": "many"}, {"query": "x", "unknown": 1}],
        {"query": "pydantic", "max_results": 5, "safe": True},
    ),
    Case(
        "calendar_sphinx",
        create_event,
        obj(
            {
                "title": {"type": "string", "description": "Event title."},
                "start": {"type": "string", "format": "date-time", "description": "Start time (ISO 8601)."},
                "duration_minutes": {"type": "integer", "default": 30, "description": "Length in minutes."},
                "attendees": {
                    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                    "default": None,
                    "description": "Email addresses to invite.",
                },
            },
            ["title", "start"],
        ),
        "Create a calendar event.",
        {"title": "Standup", "start": "2024-05-01T09:00:00Z"},
        [{"title": "Standup", "start": "not a date"}],
        {
            "title": "Standup",
            "start": dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.timezone.utc),
            "duration_minutes": 30,
            "attendees": None,
        },
    ),
    Case(
        "read_file_no_args_section",
        read_file,
        obj(
            {
                "path": {"type": "string"},
                "encoding": {"type": "string", "default": "utf-8"},
                "max_bytes": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            },
            ["path"],
        ),
        "Read a text file from the workspace.",
        {"path": "a.txt", "max_bytes": 10},
        [{}],
    ),
    Case(
        "write_file_long_description",
        write_file,
        obj(
            {
                "path": {"type": "string", "description": "Destination path, relative to the workspace."},
                "content": {"type": "string", "description": "Text to write."},
                "append": {
                    "type": "boolean",
                    "default": False,
                    "description": "Append instead of overwriting.",
                },
            },
            ["path", "content"],
        ),
        "Write a text file.\n\nCreates parent directories as needed. Overwrites unless `append` is set.",
        {"path": "a.txt", "content": "hi"},
        [{"path": "a.txt"}],
    ),
    Case(
        "sql_union_list",
        run_sql,
        obj(
            {
                "query": {"type": "string", "description": "A SELECT statement."},
                "params": {
                    "anyOf": [
                        {
                            "type": "array",
                            "items": {
                                "anyOf": [
                                    {"type": "string"},
                                    {"type": "integer"},
                                    {"type": "number"},
                                    {"type": "null"},
                                ]
                            },
                        },
                        {"type": "null"},
                    ],
                    "default": None,
                    "description": "Positional parameters for the query.",
                },
                "timeout_s": {
                    "type": "number",
                    "default": 10.0,
                    "description": "Give up after this many seconds.",
                },
            },
            ["query"],
        ),
        "Run a read-only SQL query.",
        {"query": "SELECT 1", "params": ["a", 1, 2.5, None]},
        [{"query": "SELECT 1", "params": [[1]]}],
    ),
    Case(
        "email_nested_model",
        send_email,
        obj(
            {
                "to": {"type": "string", "description": "Recipient address."},
                "subject": {"type": "string", "description": "Subject line."},
                "body": {"type": "string", "description": "Plain-text body."},
                "address": {
                    "anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}],
                    "default": None,
                    "description": "Postal address to print in the footer.",
                },
                "cc": {
                    "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}],
                    "default": None,
                    "description": "Carbon copies.",
                },
            },
            ["to", "subject", "body"],
            **{"$defs": {"Address": ADDRESS_DEF}},
        ),
        "Send an email.",
        {"to": "a@b.c", "subject": "s", "body": "b", "address": {"street": "1 Main", "city": "X"}},
        [{"to": "a@b.c", "subject": "s", "body": "b", "address": {"street": "1 Main"}}],
        {
            "to": "a@b.c",
            "subject": "s",
            "body": "b",
            "address": Address(street="1 Main", city="X"),
            "cc": None,
        },
    ),
    Case(
        "int_enum",
        set_priority,
        obj(
            {"ticket_id": {"type": "integer"}, "priority": {"$ref": "#/$defs/Priority"}},
            ["ticket_id", "priority"],
            **{"$defs": {"Priority": PRIORITY_DEF}},
        ),
        "Change a ticket's priority.",
        {"ticket_id": 7, "priority": 3},
        [{"ticket_id": 7, "priority": 9}],
        {"ticket_id": 7, "priority": Priority.HIGH},
    ),
    Case(
        "literal",
        convert,
        obj(
            {"value": {"type": "number"}, "direction": {"type": "string", "enum": ["c_to_f", "f_to_c"]}},
            ["value", "direction"],
        ),
        "Convert a temperature.",
        {"value": 20, "direction": "c_to_f"},
        [{"value": 20, "direction": "k_to_c"}],
    ),
    Case("no_args", get_time, obj({}), "Return the current time in UTC.", {}, [{"tz": "UTC"}], {}),
    Case(
        "async_function",
        fetch_url,
        obj({"url": {"type": "string"}, "timeout": {"type": "number", "default": 5.0}}, ["url"]),
        "Fetch a URL (async).",
        {"url": "https://example.com"},
        [{"timeout": 1}],
    ),
    Case(
        "dict_str_int",
        count_words,
        obj(
            {"counts": {"type": "object", "additionalProperties": {"type": "integer"}}},
            ["counts"],
        ),
        "Sum word counts.",
        {"counts": {"a": 1, "b": 2}},
        [{"counts": {"a": "x"}}],
        strict_ok=False,
    ),
    Case(
        "dataclass_param",
        nearest_station,
        obj(
            {
                "location": {"$ref": "#/$defs/Point", "description": "Where to search from."},
                "radius_km": {"type": "number", "default": 1.5, "description": "Search radius."},
            },
            ["location"],
            **{
                "$defs": {
                    "Point": {
                        "type": "object",
                        "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                        "required": ["lat", "lon"],
                        "additionalProperties": False,
                    }
                }
            },
        ),
        "Find the nearest station to a point.",
        {"location": {"lat": 48.85, "lon": 2.35}},
        [{"location": {"lat": 48.85}}],
        {"location": Point(48.85, 2.35), "radius_km": 1.5},
    ),
    Case(
        "dataclass_with_factory_default",
        book_room,
        obj(
            {"room": {"type": "string"}, "window": {"$ref": "#/$defs/Window"}},
            ["room", "window"],
            **{
                "$defs": {
                    "Window": {
                        "type": "object",
                        "properties": {
                            "start": {"type": "string", "format": "date-time"},
                            "end": {"type": "string", "format": "date-time"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                        "required": ["start", "end"],
                        "additionalProperties": False,
                    }
                }
            },
        ),
        "Book a meeting room for a time window.",
        {"room": "A", "window": {"start": "2024-01-01T10:00:00", "end": "2024-01-01T11:00:00"}},
        [{"room": "A", "window": {"start": "2024-01-01T10:00:00"}}],
    ),
    Case(
        "typed_dict",
        search_papers,
        obj(
            {"query": {"type": "string"}, "filters": {"$ref": "#/$defs/SearchFilters"}},
            ["query", "filters"],
            **{
                "$defs": {
                    "SearchFilters": {
                        "type": "object",
                        "properties": {"language": {"type": "string"}, "year": {"type": "integer"}},
                        "required": ["language"],
                        "additionalProperties": False,
                    }
                }
            },
        ),
        "Search academic papers.",
        {"query": "llm", "filters": {"language": "en"}},
        [{"query": "llm", "filters": {"year": 2020}}],
        {"query": "llm", "filters": {"language": "en"}},
    ),
    Case(
        "annotated_descriptions",
        resize_image,
        obj(
            {
                "path": {"type": "string", "description": "Path of the image"},
                "width": {
                    "type": "integer",
                    "description": "Width in pixels",
                    "exclusiveMinimum": 0,
                    "maximum": 8192,
                },
                "keep_aspect": {"type": "boolean", "default": True, "description": "Keep the aspect ratio"},
            },
            ["path", "width"],
        ),
        "Resize an image.",
        {"path": "a.png", "width": 100},
        [{"path": "a.png", "width": 0}, {"path": "a.png", "width": 9000}],
    ),
    Case(
        "list_of_models",
        invite,
        obj(
            {
                "meeting_id": {"type": "string"},
                "attendees": {"type": "array", "items": {"$ref": "#/$defs/Attendee"}},
            },
            ["meeting_id", "attendees"],
            **{
                "$defs": {
                    "Attendee": {
                        "type": "object",
                        "properties": {
                            "email": {"type": "string"},
                            "optional": {"type": "boolean", "default": False},
                        },
                        "required": ["email"],
                    }
                }
            },
        ),
        "Invite attendees to a meeting.",
        {"meeting_id": "m1", "attendees": [{"email": "a@b.c"}, {"email": "d@e.f", "optional": True}]},
        [{"meeting_id": "m1", "attendees": [{"optional": True}]}],
        {"meeting_id": "m1", "attendees": [Attendee(email="a@b.c"), Attendee(email="d@e.f", optional=True)]},
    ),
    Case(
        "deeply_nested_models",
        place_order,
        obj(
            {"order": {"$ref": "#/$defs/Order"}},
            ["order"],
            **{
                "$defs": {
                    "Address": ADDRESS_DEF,
                    "LineItem": LINE_ITEM_DEF,
                    "Order": {
                        "description": "Place an order for a customer.",
                        "type": "object",
                        "properties": {
                            "customer_id": {"type": "string"},
                            "items": {"type": "array", "items": {"$ref": "#/$defs/LineItem"}},
                            "shipping": {"$ref": "#/$defs/Address"},
                            "express": {"type": "boolean", "default": False},
                            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                        },
                        "required": ["customer_id", "items", "shipping"],
                    },
                }
            },
        ),
        "Place an order.",
        {
            "order": {
                "customer_id": "c1",
                "items": [{"sku": "x", "quantity": 2}],
                "shipping": {"street": "1 Main", "city": "X"},
            }
        },
        [{"order": {"customer_id": "c1", "items": [{"sku": "x", "quantity": 0}], "shipping": {}}}],
    ),
    Case(
        "defaults_of_every_type",
        set_defaults,
        obj(
            {
                "name": {"type": "string", "default": "anon"},
                "count": {"type": "integer", "default": 0},
                "ratio": {"type": "number", "default": 0.5},
                "enabled": {"type": "boolean", "default": False},
                "tags": {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]},
                "limits": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "default": {"cpu": 2},
                },
                "nothing": {"type": "null", "default": None},
                "unit": {"$ref": "#/$defs/Unit", "default": "fahrenheit"},
                "level": {"$ref": "#/$defs/Priority", "default": 3},
                "mode": {"type": "string", "enum": ["fast", "slow"], "default": "slow"},
            },
            None,
            **{"$defs": {"Priority": PRIORITY_DEF, "Unit": UNIT_DEF}},
        ),
        "Exercise defaults of every JSON type.",
        {},
        [{"count": "x"}],
        {
            "name": "anon",
            "count": 0,
            "ratio": 0.5,
            "enabled": False,
            "tags": ["a", "b"],
            "limits": {"cpu": 2},
            "nothing": None,
            "unit": Unit.FAHRENHEIT,
            "level": Priority.HIGH,
            "mode": "slow",
        },
        strict_ok=False,
    ),
    Case(
        "sets_and_tuples",
        tag_items,
        obj(
            {
                "ids": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
                "pair": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "integer"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
                "many": {"type": "array", "items": {"type": "number"}, "default": []},
            },
            ["ids", "pair"],
        ),
        "Tag items (sets and tuples).",
        {"ids": [1, 2], "pair": ["a", 1]},
        [{"ids": [1], "pair": ["a"]}],
        {"ids": {1, 2}, "pair": ("a", 1), "many": ()},
    ),
    Case(
        "unannotated_parameter",
        translate,
        obj(
            {
                "text": {"type": "string", "description": "Text to translate."},
                "target": {"type": "string", "description": "Target language code."},
                "source": {"default": None, "description": "Source language (auto-detected when omitted)."},
            },
            ["text", "target"],
        ),
        "Translate text.",
        {"text": "hola", "target": "en", "source": {"any": ["json"]}},
        [{"text": "hola"}],
        {"text": "hola", "target": "en", "source": {"any": ["json"]}},
        strict_ok=False,
    ),
    Case(
        "uuid_and_date",
        schedule_job,
        obj(
            {
                "job_id": {"type": "string", "format": "uuid"},
                "run_on": {"type": "string", "format": "date"},
                "cron": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            },
            ["job_id", "run_on"],
        ),
        "Schedule a job by id.",
        {"job_id": "12345678-1234-5678-1234-567812345678", "run_on": "2024-02-29"},
        [
            {"job_id": "nope", "run_on": "2024-02-29"},
            {"job_id": "12345678-1234-5678-1234-567812345678", "run_on": "2023-02-29"},
        ],
        {
            "job_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "run_on": dt.date(2024, 2, 29),
            "cron": None,
        },
    ),
    Case(
        "var_kwargs_pass_through",
        ping,
        obj({"host": {"type": "string"}}, ["host"]),
        "Ping a host; extra options pass through.",
        {"host": "example.com", "count": 3},
        [{"count": 3}],
        {"host": "example.com", "count": 3},
    ),
    Case(
        "mixed_literal_free_dict",
        log_event,
        obj(
            {
                "kind": {"enum": ["click", "view", 3]},
                "payload": {"type": "object", "additionalProperties": True},
            },
            ["kind", "payload"],
        ),
        "Log an analytics event with a free-form payload.",
        {"kind": 3, "payload": {"x": [1]}},
        [{"kind": "scroll", "payload": {}}],
        strict_ok=False,
    ),
    Case(
        "only_required",
        only_required,
        obj(
            {
                "a": {"type": "integer"},
                "b": {"type": "string"},
                "c": {"type": "number"},
                "d": {"type": "boolean"},
            },
            ["a", "b", "c", "d"],
        ),
        "Four required parameters, no docstring sections.",
        {"a": 1, "b": "x", "c": 1.5, "d": True},
        [{"a": 1, "b": "x", "c": 1.5}, {"a": "one", "b": "x", "c": 1.5, "d": True}],
    ),
    Case(
        "no_docstring",
        no_docstring,
        obj({"x": {"type": "integer"}}, ["x"]),
        "",
        {"x": 1},
        [{"x": "a"}],
    ),
    Case(
        "single_literal_const",
        with_constant,
        obj(
            {"kind": {"type": "string", "const": "fixed"}, "amount": {"type": "number", "minimum": 0}},
            ["kind", "amount"],
        ),
        "A single-value Literal becomes a const.",
        {"kind": "fixed", "amount": 2},
        [{"kind": "other", "amount": 2}, {"kind": "fixed", "amount": -1}],
    ),
    Case(
        "union_with_null",
        optional_union,
        obj(
            {"value": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}], "default": None}}
        ),
        "A union with null.",
        {"value": "x"},
        [{"value": [1]}],
    ),
    Case(
        "model_with_constraints",
        add_to_cart,
        obj(
            {"item": {"$ref": "#/$defs/LineItem"}, "cart_id": {"type": "string", "default": "default"}},
            ["item"],
            **{"$defs": {"LineItem": LINE_ITEM_DEF}},
        ),
        "Add an item (a model with constraints) to a cart.",
        {"item": {"sku": "a", "quantity": 1}},
        [{"item": {"sku": "a", "quantity": 0}}],
        {"item": LineItem(sku="a", quantity=1), "cart_id": "default"},
    ),
    Case(
        "bound_method",
        Calculator().add,
        obj(
            {
                "a": {"type": "integer", "description": "First addend."},
                "b": {"type": "integer", "description": "Second addend."},
            },
            ["a", "b"],
        ),
        "Add two integers.",
        {"a": 1, "b": 2},
        [{"a": 1}],
        {"a": 1, "b": 2},
        name="add",
    ),
    Case(
        "callable_object",
        Calculator(),
        obj({"expression": {"type": "string", "description": 'For example "2 * (3 + 4)".'}}, ["expression"]),
        "Evaluate an arithmetic expression.",
        {"expression": "1+1"},
        [{}],
        name="Calculator",
    ),
    Case(
        "functools_partial",
        search_bound,
        obj(
            {
                "query": {"type": "string", "description": "What to look for."},
                "limit": {"type": "integer", "default": 10, "description": "Result cap."},
            },
            ["query"],
        ),
        "Search an index.",
        {"query": "x"},
        [{"query": "x", "api_key": "stolen"}],
        {"query": "x", "limit": 10},
        name="_search_with_key",
    ),
]

# A Pydantic model used directly as a tool (`ToolDefinition.coerce(Order)`).
MODEL_TOOLS: list[type[BaseModel]] = [Order, Reminder, Address, LineItem]
