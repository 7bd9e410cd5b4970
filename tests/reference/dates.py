"""A reader of written dates, independent of the generator it checks.

It knows nothing of templates: it finds a four-digit year, a month (a word
that is a prefix of a month name, at least three letters, or the numbers of
an all-digit form) and a day (a number, an ordinal like "5th", or an ordinal
word), and ignores every other word.
"""

import datetime
import re

MONTHS = ["january", "february", "march", "april", "may", "june", "july",
          "august", "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNITS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
TEENS = ["tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
         "sixteenth", "seventeenth", "eighteenth", "nineteenth"]


def ordinal_words():
    words = {word: i + 1 for i, word in enumerate(UNITS)}
    words.update({word: i + 10 for i, word in enumerate(TEENS)})
    words.update({"twentieth": 20, "thirtieth": 30, "thirty-first": 31})
    words.update({f"twenty-{word}": 21 + i for i, word in enumerate(UNITS)})
    return words


def read_date_parts(text: str) -> tuple[int, int, int, list[int]]:
    """`(year, month, day, weekdays)` that `text` writes, whether or not that
    day exists (`weekdays`: the weekday numbers it names, Monday 0);
    AssertionError when it writes no single date."""
    text = text.lower()
    numeric = re.search(r"\b(\d{4})([./-]?)(\d{1,2})\2(\d{1,2})\b", text)
    if numeric:
        return int(numeric[1]), int(numeric[3]), int(numeric[4]), []
    day_first = re.search(r"\b(\d{2})\.(\d{2})\.(\d{4})\b", text)
    if day_first:
        return int(day_first[3]), int(day_first[2]), int(day_first[1]), []
    words = re.findall(r"[a-z]+(?:-[a-z]+)?|\d+(?:st|nd|rd|th)?", text)
    years = [int(w) for w in words if re.fullmatch(r"\d{4}", w)]
    months = [i + 1 for w in words for i, name in enumerate(MONTHS)
              if len(w) >= 3 and name.startswith(w)]
    ordinals = ordinal_words()
    days = [int(re.match(r"\d+", w)[0]) for w in words if re.fullmatch(r"\d{1,2}(st|nd|rd|th)?", w)]
    days += [ordinals[w] for w in words if w in ordinals]
    assert len(years) == 1 and len(months) == 1 and len(days) == 1, (text, years, months, days)
    named = [i for w in words for i, name in enumerate(WEEKDAYS) if len(w) >= 3 and name.startswith(w)]
    return years[0], months[0], days[0], named


def read_date(text: str) -> datetime.date:
    """The date `text` describes; AssertionError when it describes none, and
    ValueError when the day it writes does not exist."""
    year, month, day, named = read_date_parts(text)
    date = datetime.date(year, month, day)
    assert named in ([], [date.weekday()]), f"wrong weekday in {text!r}"
    return date
